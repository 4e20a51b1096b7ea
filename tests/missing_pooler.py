#!/usr/bin/python3
"""A checkpoint without a pooler (saved from BertForMaskedLM or BertModel without pooling)
loads as transformers loads it: the pooler is initialised (normal, std initializer_range),
with one warning line, and /runs' "initialised" column says so. Its runs equal, bit for bit,
runs of the full checkpoint with reinit.pooler (the same initialisation stream).

usage: missing_pooler.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, read_results, safetensors_read, safetensors_write_subset  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
full, bare = os.path.join(WORK, "model"), os.path.join(WORK, "model_nopooler")
shutil.copytree(full, bare)
src = safetensors_read(os.path.join(full, "model.safetensors"))
keep = [k for k in src[0] if "pooler" not in k]
check(len(keep) < len(src[0]), "the fixture has pooler tensors to remove")
safetensors_write_subset(os.path.join(bare, "model.safetensors"), src, keep)

cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["train"]["epochs"] = 2
cfg["sweep"] = {"seeds": {"from": 1, "count": 2}}


def run(name, model, pooler):
    c = json.loads(json.dumps(cfg))
    c["model"]["path"] = model
    c["reinit"]["pooler"] = pooler
    c["output"] = name + ".h5"
    p = os.path.join(WORK, name + ".json")
    json.dump(c, open(p, "w"))
    r = subprocess.run([BIN, "sweep", p, "--progress", "0"], capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: {r.stderr[-300:]}")
    return r, os.path.join(WORK, name + ".h5")


r1, a = run("bare", "model_nopooler", False)
r2, b = run("reinit", "model", True)
warn = [ln for ln in r1.stderr.splitlines() if "no pooler" in ln]
check(len(warn) == 1, f"one warning line, got {len(warn)}: {r1.stderr[-300:]}")
check("no pooler" not in r2.stderr, "no warning for a checkpoint with a pooler")
m = ["train/loss", "eval/accuracy"]
ra, rb = read_results(a, m, ["initialised"]), read_results(b, m, ["initialised"])
check(all(x == b"classifier,pooler" for x in ra["initialised"]), f"initialised: {ra['initialised']}")
check(all(x == b"classifier" for x in rb["initialised"]), f"initialised: {rb['initialised']}")
for k in m:
    check(ra[k].tobytes() == rb[k].tobytes(), f"{k}: a pooler-less checkpoint differs from reinit.pooler")
done()
