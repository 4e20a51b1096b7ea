#!/usr/bin/python3
"""Every ready config under configs/ is valid: with its model and data paths pointed at the
tiny fixture, `bertsweep plan` accepts it and expands the expected number of runs.

usage: configs_test.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs")
passed = failed = 0
for path in sorted(glob.glob(os.path.join(SRC, "*.json"))):
    c = json.load(open(path))
    c["model"]["path"] = "model"
    c["data"].update(train="train.jsonl", dev="dev.jsonl", labels="labels.json", max_seq_length=32)
    if c["reinit"].get("top_layers", 0) > 2:
        c["reinit"]["top_layers"] = 2
    grid = c.get("sweep", {}).get("grid", {})
    if "reinit.top_layers" in grid:
        grid["reinit.top_layers"] = [min(v, 2) for v in grid["reinit.top_layers"]]
    want = c.get("sweep", {}).get("seeds", {"count": 1})
    want = want["count"] if isinstance(want, dict) else len(want)
    for v in grid.values():
        want *= len(v)
    p = os.path.join(WORK, os.path.basename(path))
    json.dump(c, open(p, "w"))
    r = subprocess.run([BIN, "plan", p], capture_output=True, text=True)
    ok = r.returncode == 0 and f"{want} runs" in r.stdout
    passed += ok
    failed += not ok
    if not ok:
        print(f"FAIL {os.path.basename(path)}: exit {r.returncode}, want {want} runs: {r.stderr}{r.stdout[-300:]}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
