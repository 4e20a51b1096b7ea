#!/usr/bin/python3
"""TSV files as real corpora have them: without a header row (data.header false: fields are
column numbers) and with quotes inside unquoted fields (data.quoting "none"). The headerless
file trains to the same numbers, bit for bit, as the same rows under a header; the mistakes
name the file and the key to set; `plan` passes a parse error through instead of calling the
file missing, and says why a model cannot be read.

usage: tsv_options.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
os.chdir(WORK)
for split in ("train", "dev"):
    rows = [json.loads(line) for line in open(f"{split}.jsonl")]
    with open(f"{split}.tsv", "w") as f:
        f.write("label\tsentence\n")
        f.writelines(f"{r['label']}\t{r['sentence']}\n" for r in rows)
    with open(f"{split}-nohead.tsv", "w") as f:
        f.writelines(f"{r['label']}\t{r['sentence']}\n" for r in rows)
    with open(f"{split}-quotes.tsv", "w") as f:  # a quote opening a field, another inside one
        f.write("label\tsentence\n")
        f.writelines(f"{r['label']}\t\"{r['sentence'][:4]}\" {r['sentence'][4:]}x\"y\n" for r in rows)


def config(name, **data):
    c = json.load(open("tiny.json"))
    c["data"].update(format="tsv", **data)
    c["train"].update(max_steps=12, eval_every=6)
    json.dump(c, open(name, "w"))
    return name


def train(name):
    tsv = name + ".metrics.tsv"
    r = subprocess.run([BIN, "train", name, "--metrics", tsv], capture_output=True, text=True, timeout=120)
    return r, open(tsv).read() if r.returncode == 0 else ""


ref, ref_tsv = train(config("head.json", train="train.tsv", dev="dev.tsv"))
check(ref.returncode == 0, f"a TSV with a header: {ref.stderr[-300:]}")
r, tsv = train(config("nohead.json", train="train-nohead.tsv", dev="dev-nohead.tsv", header=False, text_field="1",
                      label_field="0"))
check(r.returncode == 0 and tsv == ref_tsv and tsv, f"headerless TSV: exit {r.returncode}, same numbers {tsv == ref_tsv}: "
      f"{r.stderr[-300:]}")
r, _ = train(config("forgot.json", train="train-nohead.tsv", dev="dev-nohead.tsv"))
check(r.returncode == 1 and "train-nohead.tsv:1: header lacks column" in r.stderr and "data.header false" in r.stderr,
      f"headerless file read with a header: {r.stderr[-300:]}")
r, _ = train(config("names.json", train="train-nohead.tsv", dev="dev-nohead.tsv", header=False))
check(r.returncode == 1 and "data.text_field must be a column number" in r.stderr and '"sentence"' in r.stderr,
      f"header false with field names: {r.stderr[-300:]}")
r, _ = train(config("quotes.json", train="train-quotes.tsv", dev="dev-quotes.tsv"))
check(r.returncode == 1 and "train-quotes.tsv:2:" in r.stderr and 'data.quoting "none"' in r.stderr,
      f"stray quotes read as CSV quoting: {r.stderr[-300:]}")
r, tsv = train(config("noquote.json", train="train-quotes.tsv", dev="dev-quotes.tsv", quoting="none"))
check(r.returncode == 0 and tsv, f"data.quoting none: {r.stderr[-300:]}")
r = subprocess.run([BIN, "train", config("badquote.json", train="train.tsv", dev="dev.tsv", quoting="single")],
                   capture_output=True, text=True)
check(r.returncode == 1 and "data.quoting" in r.stderr, f"an unknown quoting: {r.stderr[-300:]}")
# plan: a file that is there but cannot be read is an error, not "not found"
c = json.load(open("quotes.json"))
c["data"]["train_size"] = 50
c["sweep"] = {"seeds": [1]}
json.dump(c, open("plan.json", "w"))
r = subprocess.run([BIN, "plan", "plan.json"], capture_output=True, text=True)
check(r.returncode == 1 and "train-quotes.tsv:2:" in r.stderr and "not found" not in r.stdout,
      f"plan of an unreadable TSV: {r.returncode} {r.stdout[-200:]} {r.stderr[-200:]}")
# plan says why a model cannot be read (here: only its vocab.txt is missing)
shutil.copytree("model", "novocab")
os.remove("novocab/vocab.txt")
c = json.load(open("head.json"))
c["model"]["path"] = "novocab"
c["sweep"] = {"seeds": [1]}
json.dump(c, open("novocab.json", "w"))
r = subprocess.run([BIN, "plan", "novocab.json"], capture_output=True, text=True)
check(r.returncode == 0 and "the model cannot be read (" in r.stdout and "novocab/vocab.txt" in r.stdout,
      f"plan with a model lacking vocab.txt: {r.stdout[-300:]}")
done()
