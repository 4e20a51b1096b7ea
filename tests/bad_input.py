#!/usr/bin/python3
"""Bad input gives one clear message naming the file (and line or key), exit code 1, no crash.

usage: bad_input.py BERTSWEEP FIXTURE_DIR (from make_tiny.py; copied, never modified)
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

BIN, FIX = sys.argv[1], sys.argv[2]
passed = failed = 0


def case(name, mutate, want, cmd="train", after=None):
    global passed, failed
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(FIX, d, dirs_exist_ok=True)
        mutate(d)
        r = subprocess.run([BIN, cmd, os.path.join(d, "tiny.json")], capture_output=True, text=True, timeout=120)
        err = r.stderr.replace(d + "/", "")
        crashed = any(s in r.stderr for s in ("AddressSanitizer", "runtime error", "LeakSanitizer")) or r.returncode < 0
        ok = r.returncode == 1 and all(w in err for w in want) and not crashed and err.count("\n") == 1
        if cmd == "sweep":  # nothing trained, no results file left behind (but a foreign one untouched)
            ok = ok and "step" not in r.stdout and (after(d) if after else not os.path.exists(os.path.join(d, "out.h5")))
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name}: exit {r.returncode}, stderr: {err!r}, want {want}")


def edit_config(f):
    def m(d):
        p = os.path.join(d, "tiny.json")
        c = json.load(open(p))
        f(c)
        json.dump(c, open(p, "w"))
    return m


def write(rel, data, mode="w"):
    def m(d):
        with open(os.path.join(d, rel), mode) as f:
            f.write(data)
    return m


def edit_safetensors(f):
    def m(d):
        p = os.path.join(d, "model", "model.safetensors")
        raw = open(p, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        hdr = json.loads(raw[8:8 + n])
        out = f(raw, n, hdr)
        open(p, "wb").write(out)
    return m


def with_header(hdr, body):
    h = json.dumps(hdr).encode()
    return struct.pack("<Q", len(h)) + h + body


ST = "model/model.safetensors"
case("no model", lambda d: shutil.rmtree(os.path.join(d, "model")), ["model: no such model directory (model.path)"])
case("safetensors is garbage", write(ST, b"\x01\x02garbage", "wb"), [ST, "header length"])
case("safetensors too short", write(ST, b"\x01\x02", "wb"), [ST, "not a safetensors"])
case("header length lies", edit_safetensors(lambda raw, n, h: struct.pack("<Q", 10 ** 9) + raw[8:]),
     [ST, "header length"])
case("header not JSON", edit_safetensors(lambda raw, n, h: struct.pack("<Q", 4) + b"{{{{" + raw[12:]), [ST, "JSON"])


def past_end(raw, n, h):
    k = "bert.pooler.dense.weight"
    h[k]["data_offsets"][1] += 10 ** 7
    h[k]["data_offsets"][0] += 10 ** 7 - 4
    return with_header(h, raw[8 + n:])


case("offsets past the end", edit_safetensors(past_end), [ST, "bert.pooler.dense.weight", "outside"])


def shape_lies(raw, n, h):
    h["bert.pooler.dense.bias"]["shape"] = [64]
    return with_header(h, raw[8 + n:])


case("shape disagrees with offsets", edit_safetensors(shape_lies), [ST, "bert.pooler.dense.bias", "bytes"])
case("truncated file", edit_safetensors(lambda raw, n, h: raw[:len(raw) // 2]), [ST, "outside"])


def drop_tensor(raw, n, h):
    del h["bert.encoder.layer.1.output.dense.weight"]
    return with_header(h, raw[8 + n:])


case("missing tensor", edit_safetensors(drop_tensor), [ST, "missing tensor", "encoder.layer.1.output.dense.weight"])


def no_unk(d):
    p = os.path.join(d, "model", "vocab.txt")
    v = open(p).read().replace("[UNK]\n", "[UNKNOWN]\n")
    open(p, "w").write(v)


case("vocab without [UNK]", no_unk, ["model/vocab.txt", "[UNK]"])


def bad_line(d):
    p = os.path.join(d, "train.jsonl")
    lines = open(p).read().split("\n")
    lines[2] = '{"label": "100", "sentence": "unterminated'
    open(p, "w").write("\n".join(lines))


case("data line not JSON", bad_line, ["train.jsonl:3:", "invalid JSON"])


def unknown_label(d):
    p = os.path.join(d, "dev.jsonl")
    lines = open(p).read().split("\n")
    lines[1] = json.dumps({"label": "999", "sentence": "的一"})
    open(p, "w").write("\n".join(lines))


case("unknown label", unknown_label, ["dev.jsonl:2:", "unknown label", "999"])
case("missing text field", write("dev.jsonl", '{"label": "100"}\n'), ["dev.jsonl:1:", "sentence"])
case("unknown key", edit_config(lambda c: c["train"].update(lr=0.1)), ["tiny.json", "unknown key", "train.lr"])
case("unknown section", edit_config(lambda c: c.update(trian={})), ["tiny.json", "unknown key", "trian"])
case("wrong type", edit_config(lambda c: c["train"].update(batch_size="16")), ["tiny.json", "train.batch_size", "integer"])
case("impossible value", edit_config(lambda c: c["train"].update(warmup_ratio=2)), ["tiny.json", "train.warmup_ratio"])
case("bad choice", edit_config(lambda c: c["optimizer"].update(name="sgd")), ["tiny.json", "optimizer.name", "hf_adamw"])
case("config not JSON", write("tiny.json", '{\n "model": {\n  "path": "model",,\n}'), ["tiny.json:3:", "invalid JSON"])
case("seq longer than positions", edit_config(lambda c: c["data"].update(max_seq_length=100)),
     ["max_seq_length", "max_position_embeddings"])



# ---- bytes, not C strings (shared/repro/m3_nul.sh); strict JSON; files that are not files
def edit_bytes(rel, f):
    def m(d):
        p = os.path.join(d, rel)
        data = f(open(p, "rb").read())
        open(p, "wb").write(data)
    return m


def nul_at(line):
    def f(raw):
        lines = raw.split(b"\n")
        lines[line - 1] = b"\x00" + lines[line - 1]
        return b"\n".join(lines)
    return f


case("NUL byte in the data", edit_bytes("train.jsonl", nul_at(11)), ["train.jsonl:11:", "NUL"])
case("NUL byte in the vocabulary", edit_bytes("model/vocab.txt", nul_at(21)), ["model/vocab.txt:21:", "NUL"])
case("NUL byte in the config", edit_bytes("tiny.json", lambda r: r[:5] + b"\x00" + r[5:]), ["tiny.json", "NUL"])
case("text after a data line's JSON", edit_bytes("train.jsonl", lambda r: r.replace(b"}\n", b"} x\n", 3)),
     ["train.jsonl:1:", "text after"])
case("duplicate key in a data line", edit_bytes("train.jsonl", lambda r: r.replace(b"{", b'{"label": "101", ', 1)),
     ["train.jsonl:1:", "label", "twice"])
case("duplicate key in the config", edit_bytes("tiny.json", lambda r: r.replace(b'"epochs": 8', b'"epochs": 8, "epochs": 2')),
     ["tiny.json", "epochs", "twice"])
case("text after the config", edit_bytes("tiny.json", lambda r: r + b"\n{}"), ["tiny.json", "text after"])
case("data path is a directory", edit_config(lambda c: c["data"].update(train="model")), ["model", "is a directory"])
case("model path is a file", edit_config(lambda c: c["model"].update(path="tiny.json")), ["tiny.json: not a directory (model.path names a model directory)"])


# ---- a model's config.json is checked like a run config
def model_cfg(**kv):
    def m(d):
        p = os.path.join(d, "model", "config.json")
        c = json.load(open(p))
        c.update(kv)
        json.dump(c, open(p, "w"))
    return m


case("layer_norm_eps 0", model_cfg(layer_norm_eps=0), ["model/config.json", "layer_norm_eps"])
case("hidden dropout 1.0", model_cfg(hidden_dropout_prob=1.0), ["model/config.json", "hidden_dropout_prob"])
case("attention dropout -0.5", model_cfg(attention_probs_dropout_prob=-0.5), ["model/config.json", "attention_probs"])
case("negative initializer_range", model_cfg(initializer_range=-1), ["model/config.json", "initializer_range"])
case("hidden_act a number", model_cfg(hidden_act=5), ["model/config.json", "hidden_act"])
case("duplicate key in config.json", edit_bytes("model/config.json", lambda r: r.replace(b"{", b'{"hidden_size": 8, ', 1)),
     ["model/config.json", "hidden_size", "twice"])


# ---- sentence pairs on a model with one token type (shared/repro/m4_typevocab.sh)
def one_token_type(d):
    for n in ("train.jsonl", "dev.jsonl"):
        p = os.path.join(d, n)
        rows = [json.loads(x) for x in open(p) if x.strip()]
        open(p, "w").write("\n".join(json.dumps(dict(r, s2=r["sentence"][::-1]), ensure_ascii=False) for r in rows) + "\n")
    edit_config(lambda c: c["data"].update(text_pair_field="s2"))(d)
    model_cfg(type_vocab_size=1)(d)
    p = os.path.join(d, "model", "model.safetensors")
    raw = open(p, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    t = h["bert.embeddings.token_type_embeddings.weight"]
    t["shape"][0] = 1
    t["data_offsets"][1] = t["data_offsets"][0] + 4 * t["shape"][1]
    open(p, "wb").write(with_header(h, raw[8 + n:]))


case("sentence pairs, one token type", one_token_type, ["model/config.json", "type_vocab_size", "pairs"])


# sweep configs: refused before any training, no file created or touched
def sweep_cfg(grid=None, output="out.h5", seeds=None):
    def f(c):
        c["sweep"] = {"seeds": seeds if seeds is not None else [1, 2], "grid": grid if grid is not None else {}}
        c["output"] = output
    return edit_config(f)


case("sweep: unknown grid key", sweep_cfg({"train.lr": [1e-3]}), ["tiny.json", "unknown key", "train.lr"], "sweep")
case("sweep: wrong value type", sweep_cfg({"train.batch_size": [16, "32"]}), ["tiny.json", "train.batch_size", "mixes"],
     "sweep")
case("sweep: wrong type for key", sweep_cfg({"train.batch_size": ["32"]}), ["tiny.json", "train.batch_size", "integer"],
     "sweep")
case("sweep: empty grid list", sweep_cfg({"optimizer.correct_bias": []}), ["tiny.json", "optimizer.correct_bias",
                                                                          "non-empty"], "sweep")
case("sweep: empty seeds", sweep_cfg(seeds=[]), ["tiny.json", "sweep.seeds", "empty"], "sweep")
case("sweep: unknown sweep key", edit_config(lambda c: c.update(sweep={"seed": [1]})), ["tiny.json", "sweep.seed"],
     "sweep")
case("sweep: unwritable output", sweep_cfg(output="/proc/no/such/dir/out.h5"), ["/proc/no/such/dir/out.h5"], "sweep")
case("sweep: no output", edit_config(lambda c: c.update(sweep={"seeds": [1]})), ["tiny.json", "output"], "sweep")
# the review's l2 and l5: train.seed checked before it is cast; the "report" section checked before any file is written
for v in ("abc", 3.7, 1e20, -1):
    case(f"sweep: train.seed {v!r}", edit_config(lambda c, v=v: (c["train"].update(seed=v), c.update(output="out.h5"))),
         ["tiny.json", "train.seed"], "sweep")
case("sweep: bad report section", edit_config(lambda c: c.update(output="out.h5", sweep={"seeds": [1]},
                                                                 report={"loss_target": "x", "nosuch": 1})),
     ["tiny.json", "report."], "sweep")
case("plan: bad report section", edit_config(lambda c: c.update(sweep={"seeds": [1]}, report={"effect": -2})),
     ["tiny.json", "report.effect"], "plan")


def foreign_output(d):
    sweep_cfg()(d)
    open(os.path.join(d, "out.h5"), "w").write("precious data\n")


def still_precious(d):
    return open(os.path.join(d, "out.h5")).read() == "precious data\n"


case("sweep: output is not a results file", foreign_output, ["out.h5"], "sweep", after=still_precious)
case("plan: bad grid", sweep_cfg({"reinit.top_layers": [-1]}), ["tiny.json", "reinit.top_layers"], "plan")
case("sweep: duplicate seeds", sweep_cfg(seeds=[1, 2, 1]), ["tiny.json", "sweep.seeds", "seed 1 twice"], "sweep")
case("sweep: duplicate grid values", sweep_cfg({"train.dropout": [0.1, 0.2, 0.1]}), ["tiny.json", "0.1 twice"], "sweep")
case("sweep: seeds past INT_MAX", sweep_cfg(seeds={"from": 2147483647, "count": 2}), ["tiny.json", "largest seed"],
     "sweep")
KEYS = ["train.learning_rate", "train.warmup_ratio", "train.weight_decay", "train.max_grad_norm", "train.dropout",
        "train.mixout", "optimizer.beta1", "optimizer.beta2", "optimizer.eps", "optimizer.layerwise_lr_decay",
        "data.train_size", "data.dev_size", "data.data_seed", "train.eval_every", "train.checkpoint_every",
        "train.early_stopping_patience"]
case("plan: 16 keys x 16 values (2^64 runs)", sweep_cfg({k: list(range(1, 17)) for k in KEYS}),
     ["tiny.json", "more than 1000000 runs"], "plan")
case("sweep: 16 keys x 16 values", sweep_cfg({k: list(range(1, 17)) for k in KEYS}), ["tiny.json", "more than"], "sweep")


# CR-only and CRLF line ends read the same examples as LF
def train_examples(mutate):
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(FIX, d, dirs_exist_ok=True)
        mutate(d)
        r = subprocess.run([BIN, "train", os.path.join(d, "tiny.json")], capture_output=True, text=True, timeout=120)
        return r.stdout.splitlines()[0] if r.returncode == 0 else r.stderr


base_line = train_examples(lambda d: None)
for name, sep in (("CR", b"\r"), ("CRLF", b"\r\n")):
    got = train_examples(edit_bytes("train.jsonl", lambda r, sep=sep: r.replace(b"\n", sep)))
    if got == base_line and "160 train" in got:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} line ends: {got!r}, want {base_line!r}")

# the review's l6: a TSV with a byte-order mark reads; plan's numbers are range-checked; a
# safetensors header naming one tensor twice is refused (Python's reader would take the last)
with tempfile.TemporaryDirectory() as d:
    shutil.copytree(FIX, d, dirs_exist_ok=True)
    for name in ("t.tsv", "d.tsv"):
        open(os.path.join(d, name), "wb").write(b"\xef\xbb\xbflabel\tsentence\n100\tabc\n101\tdef\n102\tghi\n")
    c = json.load(open(os.path.join(d, "tiny.json")))
    c["data"].update(train="t.tsv", dev="d.tsv", format="tsv", train_size=0, dev_size=0)
    c["train"].update(max_steps=1)
    json.dump(c, open(os.path.join(d, "bom.json"), "w"))
    r = subprocess.run([BIN, "train", os.path.join(d, "bom.json")], capture_output=True, text=True, timeout=120)
    r2 = subprocess.run([BIN, "plan", os.path.join(d, "tiny.json"), "--ranks", "99999999999"], capture_output=True, text=True)
    p = os.path.join(d, "model", "model.safetensors")
    raw = open(p, "rb").read()
    k = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + k])
    w = next(x for x in h if x != "__metadata__")
    hb = json.dumps(h).encode()[:-1] + b', "' + w.encode() + b'": ' + json.dumps(h[w]).encode() + b"}"
    open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + raw[8 + k:])
    r3 = subprocess.run([BIN, "train", os.path.join(d, "tiny.json")], capture_output=True, text=True, timeout=120)
    for ok, what in ((r.returncode == 0, f"a TSV with a BOM: {r.stderr[-200:]}"),
                     (r2.returncode == 2 and "--ranks" in r2.stderr, f"plan --ranks 99999999999: {r2.returncode}"),
                     (r3.returncode == 1 and "twice" in r3.stderr and "model.safetensors" in r3.stderr,
                      f"a tensor named twice: {r3.returncode} {r3.stderr[-200:]}")):
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL " + what)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
