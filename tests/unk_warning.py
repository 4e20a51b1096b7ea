#!/usr/bin/python3
"""The [UNK] check at job open: a vocabulary of lowercase words without tokenizer_config.json
(so read cased) on capitalised text turns most tokens into [UNK]; `train` and `sweep` warn,
naming the share and the likely cause (do_lower_case); with model.do_lower_case true there is
no warning, and none for the tiny fixture's own model and data. The sweep records each run's
share in /runs "unk_rate" (the printed share), and the report warns (text and JSON); a file
from before the column resumes with NaN there, and its report has no warning.

usage: unk_warning.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import itertools
import json
import os
import random
import shutil
import subprocess
import sys

import h5py
import numpy as np
import numpy.lib.recfunctions as rfn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
os.chdir(WORK)
vocab = open("model/vocab.txt").read().split("\n")[:-1]
special = vocab[:10]  # [PAD], [unused1-3], [UNK], [CLS], [SEP], [MASK], two punctuation marks
words = ["".join(p) for p in itertools.product("abcdefghij", repeat=2)][:len(vocab) - len(special)]
shutil.copytree("model", "english")
for f in ("tokenizer_config.json",):
    if os.path.exists(os.path.join("english", f)):
        os.remove(os.path.join("english", f))
open("english/vocab.txt", "w").write("\n".join(special + words) + "\n")
rng = random.Random(3)
for split, n in (("train", 96), ("dev", 32)):
    with open(f"en-{split}.jsonl", "w") as f:
        for i in range(n):
            text = " ".join(w.capitalize() for w in rng.sample(words, 8))
            f.write(json.dumps({"label": str(100 + i % 3), "sentence": text}) + "\n")
cfg = json.load(open("tiny.json"))
cfg["model"]["path"] = "english"
cfg["data"].update(train="en-train.jsonl", dev="en-dev.jsonl", train_size=0, dev_size=0)
cfg["train"].update(max_steps=1)
json.dump(cfg, open("cased.json", "w"))
cfg["model"]["do_lower_case"] = True
json.dump(cfg, open("lower.json", "w"))

r = subprocess.run([BIN, "train", "cased.json"], capture_output=True, text=True, timeout=120)
warn = [ln for ln in r.stderr.splitlines() if "[UNK]" in ln]
check(r.returncode == 0 and len(warn) == 1 and "looks uncased" in warn[0] and "do_lower_case" in warn[0]
      and "english/vocab.txt" in warn[0], f"train on an uncased vocabulary read cased: {r.stderr[-400:]}")
share = float(warn[0].split("% of")[0].split()[-1]) if warn else 0
check(share > 50, f"the [UNK] share {share}% (expected most tokens)")
cfg["model"].pop("do_lower_case")
cfg["sweep"] = {"seeds": [1, 2]}
cfg["output"] = "cased.h5"
json.dump(cfg, open("sweep.json", "w"))
r = subprocess.run([BIN, "sweep", "sweep.json", "--progress", "0"], capture_output=True, text=True, timeout=300)
check(r.returncode == 0 and sum("[UNK]" in ln for ln in r.stderr.splitlines()) == 1, f"sweep: {r.stderr[-400:]}")
with h5py.File("cased.h5", "r") as f:
    rates = f["runs"]["unk_rate"]
check(len(rates) == 2 and all(abs(100 * x - share) < 0.051 for x in rates), f"/runs unk_rate {rates} vs printed {share}%")
rep = subprocess.run([BIN, "report", "cased.h5"], capture_output=True, text=True)
check("Tokenizer: 2 of 2 runs turned more than 5% of their training tokens into [UNK]" in rep.stdout,
      f"report text: {rep.stdout[-600:]}")
rep = subprocess.run([BIN, "report", "cased.h5", "--format", "json"], capture_output=True, text=True)
unk = json.loads(rep.stdout).get("unk", {}) if rep.returncode == 0 else {}
check(unk.get("runs_over") == 2 and abs(unk.get("max_over", 0) - max(rates)) < 1e-12 and unk.get("threshold") == 0.05,
      f"report JSON unk: {unk}")

# a file written before the column: /runs without unk_rate; a resume keeps its runs, NaN there
with h5py.File("cased.h5", "r+") as f:
    old = f["runs"][:]
    attrs = {k: v for k, v in f["runs"].attrs.items() if k not in ("DIMENSION_LIST",)}
    del f["runs"]
    d = f.create_dataset("runs", data=rfn.drop_fields(old, ["unk_rate", "labels"], usemask=False))
    for k, v in attrs.items():
        d.attrs[k] = v
    d.dims[0].attach_scale(f["run"])
r = subprocess.run([BIN, "sweep", "sweep.json", "--progress", "0"], capture_output=True, text=True, timeout=300)
check(r.returncode == 0 and "2 runs were done already" in r.stdout, f"resume of a file without unk_rate: {r.stdout} {r.stderr[-300:]}")
with h5py.File("cased.h5", "r") as f:
    runs = f["runs"][:]
check(all(np.isnan(runs["unk_rate"])) and all(runs["labels"] == 0) and all(runs["status"] == b"done") and
      np.array_equal(runs["final_dev_accuracy"], old["final_dev_accuracy"]), f"after the resume: {runs[['status', 'unk_rate']]}")
rep = subprocess.run([BIN, "report", "cased.h5"], capture_output=True, text=True)
check(rep.returncode == 0 and "Tokenizer:" not in rep.stdout, f"report of a file without rates: {rep.stdout[-300:]}")
for name in ("lower.json", "tiny.json"):
    c = json.load(open(name))
    c["train"].update(max_steps=1)
    json.dump(c, open("q-" + name, "w"))
    r = subprocess.run([BIN, "train", "q-" + name], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "[UNK]" not in r.stderr, f"{name}: a warning where none is due: {r.stderr[-300:]}")
done()
