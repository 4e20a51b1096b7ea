#!/usr/bin/python3
"""Inputs that are large but legal cost memory in proportion to their size (the review's m5 and
m6): a TSV line of 1.2 MB with 600,000 tabs is read within 500 MB (it took 2.4 GB: each field
allocated the rest of its line); a JSON object of 100,000 keys is checked for a duplicate key
(the check was quadratic), and the one duplicate among them is still found and named.

usage: big_inputs.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
cfg = json.load(open(os.path.join(WORK, "tiny.json")))

open(os.path.join(WORK, "t.tsv"), "w").write("label\tsentence\n" + "100\tabc" + "\tx" * 600000 + "\n101\tdef\n102\tghi\n")
open(os.path.join(WORK, "d.tsv"), "w").write("label\tsentence\n100\tabc\n101\tdef\n102\tghi\n")
c = json.loads(json.dumps(cfg))
c["data"].update(train="t.tsv", dev="d.tsv", format="tsv", train_size=0, dev_size=0)
c["train"].update(max_steps=1)
json.dump(c, open(os.path.join(WORK, "tsv.json"), "w"))
r = subprocess.run([BIN, "train", os.path.join(WORK, "tsv.json")], capture_output=True, text=True, timeout=300)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
check(r.returncode == 0 and peak < 500_000, f"a 1.2 MB TSV line of 600k fields: exit {r.returncode}, peak {peak} kB: "
      f"{r.stderr[-300:]}")

model = os.path.join(WORK, "model", "config.json")
mc = json.load(open(model))
mc["id2label"] = {str(i): f"L{i}" for i in range(100000)}
text = json.dumps(mc)
open(model, "w").write(text)
r = subprocess.run([BIN, "inspect", os.path.join(WORK, "model")], capture_output=True, text=True, timeout=300)
check(r.returncode == 0, f"a config.json with 100k id2label keys: {r.returncode} {r.stderr[-300:]}")
open(model, "w").write(text[:-2] + ', "99999": "again"}}')
c = json.loads(json.dumps(cfg))
c["train"].update(max_steps=1)
json.dump(c, open(os.path.join(WORK, "dup.json"), "w"))
r = subprocess.run([BIN, "train", os.path.join(WORK, "dup.json")], capture_output=True, text=True, timeout=300)
check(r.returncode == 1 and '"99999" appears twice' in r.stderr, f"the duplicate among 100k keys: {r.returncode} {r.stderr[-300:]}")
done()
