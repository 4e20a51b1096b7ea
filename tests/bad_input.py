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
case("no model", lambda d: shutil.rmtree(os.path.join(d, "model")), ["model/config.json", "cannot open"])
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


case("data line not JSON", bad_line, ["train.jsonl:3:", "not a JSON object"])


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


def foreign_output(d):
    sweep_cfg()(d)
    open(os.path.join(d, "out.h5"), "w").write("precious data\n")


def still_precious(d):
    return open(os.path.join(d, "out.h5")).read() == "precious data\n"


case("sweep: output is not a results file", foreign_output, ["out.h5"], "sweep", after=still_precious)
case("plan: bad grid", sweep_cfg({"reinit.top_layers": [-1]}), ["tiny.json", "reinit.top_layers"], "plan")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
