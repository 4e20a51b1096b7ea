#!/usr/bin/python3
"""`bertsweep pretrain`: killed (SIGKILL after update 25, between two saves) and run again with
--resume, it ends with the same model, bit for bit, and the same log as an uninterrupted run;
a resume with another option or another corpus is refused naming it; the masked-LM loss falls;
--init continues from a model directory: its weights, masked-LM head, vocabulary and shape;
--vocab with --chinese-chars 0 trains a model that reads Chinese as the multi-character pieces
scripts/build_word_vocab.py chose, and saves the tokenizer option with it.

usage: pretrain_test.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done  # noqa: E402

BIN, FIX, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
corpus = os.path.join(WORK, "corpus.txt")
texts = [json.loads(x)["sentence"] for x in open(os.path.join(FIX, "train.jsonl"), encoding="utf-8")]
open(corpus, "w", encoding="utf-8").write("\n".join(texts * 3) + "\n")
ARGS = ["--corpus", corpus, "--vocab-size", "500", "--min-count", "1", "--layers", "2", "--hidden", "32", "--heads",
        "2", "--seq", "32", "--batch", "8", "--steps", "40", "--save-every", "10", "--log-every", "5", "--threads", "1",
        "--lr", "2e-3"]


def pretrain(out, *extra, fault=None):
    env = dict(os.environ)
    if fault:
        env["BERTSWEEP_FAULT"] = fault
    return subprocess.run([BIN, "pretrain", *ARGS, "--out", os.path.join(WORK, out), *extra], capture_output=True,
                          text=True, env=env)


def log_rows(out):
    rows = [ln.split("\t") for ln in open(os.path.join(WORK, out, "pretrain_log.tsv")) if ln[0].isdigit()]
    return [r[:4] for r in rows]  # step, loss, accuracy, lr (not the seconds)


r = pretrain("a")
check(r.returncode == 0, f"pretrain: {r.stderr[-300:]}")
r = pretrain("b", fault="killpretrain:0:25")
check(r.returncode == -9, f"the fault hook should SIGKILL after update 25: {r.returncode}")
check(len(log_rows("b")) == 5, f"killed run logged {len(log_rows('b'))} rows, expected 5")
r = pretrain("b", "--resume")
check(r.returncode == 0 and "resuming after update 20" in r.stdout, f"resume: {r.stdout[-200:]} {r.stderr[-200:]}")
a = open(os.path.join(WORK, "a", "model.safetensors"), "rb").read()
b = open(os.path.join(WORK, "b", "model.safetensors"), "rb").read()
check(a == b, "a killed and resumed pre-training differs from an uninterrupted one")
check(log_rows("a") == log_rows("b"), "the resumed log differs (rows lost or repeated)")
loss = [float(x[1]) for x in log_rows("a")]
check(loss[-1] < loss[0] - 0.5, f"masked-LM loss does not fall: {loss[0]} -> {loss[-1]}")
r = pretrain("b", "--resume", "--lr", "1e-3")
check(r.returncode != 0 and "--lr was 0.002" in r.stderr, f"changed --lr: {r.stderr[-200:]}")
# the same characters in another order: vocabulary and packing unchanged, only the text differs
open(corpus, "w", encoding="utf-8").write("\n".join([texts[0][::-1]] + texts[1:] + texts * 2) + "\n")
r = pretrain("b", "--resume")
check(r.returncode != 0 and "corpus's CRC-32" in r.stderr, f"changed corpus: {r.stderr[-200:]}")
# --init: one update at learning rate 0 (all warmup) leaves a's weights and head as they were, bit
# for bit, and starts at a's trained loss; the shape options give way to the model's
r = pretrain("d", "--init", os.path.join(WORK, "a"), "--steps", "1", "--warmup", "0.5", "--layers", "3")
check(r.returncode == 0, f"pretrain --init: {r.stderr[-300:]}")
for f in ("model.safetensors", "vocab.txt"):
    same = open(os.path.join(WORK, "a", f), "rb").read() == open(os.path.join(WORK, "d", f), "rb").read()
    check(same, f"--init with lr 0 changed {f}")
check(json.load(open(os.path.join(WORK, "d", "config.json")))["num_hidden_layers"] == 2, "--init did not keep the shape")
d_loss = float(log_rows("d")[0][1])
check(d_loss < loss[0] - 0.5 and abs(d_loss - loss[-1]) < 0.6,
      f"--init's first loss {d_loss} is not a's trained loss ({loss[0]} at the start, {loss[-1]} at the end)")
r = pretrain("e", "--init", os.path.join(WORK, "nowhere"))
check(r.returncode == 1 and "nowhere" in r.stderr, f"--init of a missing directory: {r.stderr[-200:]}")
# a word vocabulary: the characters of a's vocabulary, their "##" forms and frequent n-grams
wvocab = os.path.join(WORK, "wvocab.txt")
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "build_word_vocab.py")
r = subprocess.run([sys.executable, script, corpus, os.path.join(WORK, "a", "vocab.txt"), wvocab, "--min-count", "3",
                    "--min-pmi", "1", "--max-words", "50"], capture_output=True, text=True)
check(r.returncode == 0, f"build_word_vocab.py: {r.stderr[-300:]}")
chars = open(os.path.join(WORK, "a", "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
words = open(wvocab, encoding="utf-8").read().split("\n")[:-1]
check(words[:len(chars)] == chars, "the word vocabulary moved the characters' ids")
cjk = [t for t in chars if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
check(cjk and all("##" + t in words for t in cjk), "a character lacks its '##' form")
multi = [t for t in words[len(chars):] if not t.startswith("##")]
check(len(multi) >= 10 and all(len(t) >= 2 and "##" + t in words for t in multi), f"words: {multi[:10]}")
r = pretrain("f", "--vocab", wvocab, "--chinese-chars", "0", "--whole-word", "0", "--steps", "10")
check(r.returncode == 0, f"pretrain --vocab: {r.stderr[-300:]}")
# the corpus read as words takes fewer tokens, so fewer 32-token sequences than a's characters
nseq = lambda out: int(open(os.path.join(WORK, out, "pretrain_log.tsv")).readline().split(": ")[1].split()[0])  # noqa
check(nseq("f") < nseq("a"), f"--chinese-chars 0 packed {nseq('f')} sequences, characters {nseq('a')}")
check(open(os.path.join(WORK, "f", "vocab.txt"), encoding="utf-8").read().split("\n")[:-1] == words,
      "the model's vocab.txt is not the --vocab file")
tc = json.load(open(os.path.join(WORK, "f", "tokenizer_config.json")))
check(tc.get("tokenize_chinese_chars") is False, f"tokenizer_config.json: {tc}")
w = multi[0]
r = subprocess.run([BIN, "tokenize", os.path.join(WORK, "f"), w + w], capture_output=True, text=True)
toks = [ln.split()[1] for ln in r.stdout.splitlines() if ln[:1].isdigit()]
check(r.returncode == 0 and w in toks and "##" + w in toks, f"'{w + w}' tokenized as {toks}: {r.stderr[-200:]}")
# the bag-of-words baseline counts characters whatever the tokenizer. A task that the word model's
# own tokens cannot carry from training to dev: label 1 when the character Z is in the text, at
# the start of the text in training (the word model's token "Z") and inside it on dev ("##Z").
# On characters (and on a) the baseline gets it; on f's tokens it could not.
random.seed(5)
in_words = {ch for t in multi for ch in t}
pool = [t for t in cjk if t not in in_words]
z, pool = pool[0], pool[1:]
def text(first, z_inside):  # noqa: E302
    body = random.sample(pool, 6)
    return (z if first else "") + "".join(body[:3]) + (z if z_inside else "") + "".join(body[3:])
def split(path, starts):  # noqa: E302
    rows = [{"label": str(i % 2), "sentence": text(starts and i % 2, not starts and i % 2)} for i in range(40)]
    open(path, "w", encoding="utf-8").write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
split(os.path.join(WORK, "z_train.jsonl"), True)  # noqa: E305
split(os.path.join(WORK, "z_dev.jsonl"), False)
def bow_baseline(model):  # noqa: E302
    cfg = json.load(open(os.path.join(FIX, "tiny.json")))
    cfg["model"]["path"] = os.path.join(WORK, model)
    cfg["data"].update(train=os.path.join(WORK, "z_train.jsonl"), dev=os.path.join(WORK, "z_dev.jsonl"),
                       train_size=40, max_seq_length=16)
    cfg["data"].pop("labels")
    cfg["train"].update(epochs=1, eval_every=100)
    path = os.path.join(WORK, f"bow_{model}.json")
    json.dump(cfg, open(path, "w"))
    r = subprocess.run([BIN, "train", path], capture_output=True, text=True)
    line = [ln for ln in r.stdout.splitlines() if "bag-of-words" in ln]
    check(r.returncode == 0 and line, f"train with {model}: {r.stderr[-300:]}")
    return float(line[0].split("bag-of-words")[1].split()[0])


bow_a, bow_f = bow_baseline("a"), bow_baseline("f")
check(bow_a >= 0.9 and bow_f == bow_a, f"bag-of-words baseline: {bow_a} (characters) vs {bow_f} (words)")
# a resume checks the tokenizer option and the vocabulary itself, not just its size
WARGS = ["--vocab", wvocab, "--chinese-chars", "0", "--whole-word", "0", "--steps", "10", "--resume"]
r = pretrain("f", *WARGS)
check(r.returncode == 0 and "already done" in r.stdout, f"resume of a finished word model: {r.stdout[-200:]} {r.stderr[-200:]}")
r = pretrain("f", *WARGS[:3], "1", *WARGS[4:])
check(r.returncode != 0 and ("--chinese-chars was 0" in r.stderr or "sequence count was" in r.stderr),
      f"changed --chinese-chars: {r.stderr[-200:]}")
swapped = words[:-2] + [words[-1], words[-2]]
open(wvocab, "w", encoding="utf-8").write("\n".join(swapped) + "\n")
r = pretrain("f", *WARGS)
check(r.returncode != 0 and "vocabulary's CRC-32" in r.stderr, f"reordered vocabulary: {r.stderr[-200:]}")
open(wvocab, "w", encoding="utf-8").write("\n".join(words) + "\n")
r = pretrain("h", "--init", os.path.join(WORK, "f"))
check(r.returncode == 1 and "--whole-word 0" in r.stderr, f"--init of a word model with whole-word masking: {r.stderr[-200:]}")
r = pretrain("g", "--vocab", wvocab, "--chinese-chars", "0")
check(r.returncode == 2 and "--whole-word 0" in r.stderr, f"--chinese-chars 0 with whole-word masking: {r.stderr[-200:]}")
r = pretrain("c", "--steps", "4O")
check(r.returncode == 2 and "--steps needs a number" in r.stderr, f"--steps 4O: {r.stderr[-200:]}")
# a vocabulary too small for the corpus reads it as [UNK]: refused, not "masked acc 1.000" (m9)
r = pretrain("u", "--vocab-size", "200", "--min-count", "1")
check(r.returncode == 1 and "[UNK]" in r.stderr and "--vocab-size" in r.stderr, f"all-[UNK] corpus: {r.returncode} {r.stderr[-300:]}")
done()
