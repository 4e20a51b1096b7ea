#!/usr/bin/python3
"""model.random_init from a model directory of config.json and vocab.txt alone (no weights
file): a sweep of two seeds runs, /runs says every tensor was initialised ("all"), the seeds'
first losses differ (each seed draws its own weights), the same seed twice gives the same
numbers; without random_init the same directory is an error naming the missing weights.

usage: random_init.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
os.chdir(WORK)
os.makedirs("bare")
for f in ("config.json", "vocab.txt"):
    shutil.copy(os.path.join("model", f), "bare")
cfg = json.load(open("tiny.json"))
cfg["model"].update(path="bare", random_init=True)
cfg["train"].update(max_steps=20, eval_every=10)
cfg["sweep"] = {"seeds": [1, 2]}
json.dump(cfg, open("rand.json", "w"))
r = subprocess.run([BIN, "sweep", "rand.json", "--output", "rand.h5", "--progress", "0"], capture_output=True, text=True,
                   timeout=300)
r2 = subprocess.run([BIN, "sweep", "rand.json", "--output", "again.h5", "--progress", "0"], capture_output=True,
                    text=True, timeout=300)
check(r.returncode == 0 and r2.returncode == 0, f"random_init from config.json + vocab.txt: {r.stderr[-300:]}")
if r.returncode == 0 and r2.returncode == 0:
    with h5py.File("rand.h5", "r") as f, h5py.File("again.h5", "r") as g:
        runs, loss, loss2 = f["runs"][:], f["train/loss"][:], g["train/loss"][:]
    check([s.decode() for s in runs["initialised"]] == ["all"] * 2, f"initialised: {runs['initialised']}")
    check(loss[0][0] != loss[1][0], "seeds 1 and 2 start from the same weights")
    check(loss.tobytes() == loss2.tobytes(), "the same seeds twice differ")
cfg["model"].pop("random_init")
cfg["train"]["max_steps"] = 1
json.dump(cfg, open("loaded.json", "w"))
r = subprocess.run([BIN, "train", "loaded.json"], capture_output=True, text=True, timeout=120)
check(r.returncode == 1 and "bare" in r.stderr and ("weights" in r.stderr or "safetensors" in r.stderr),
      f"no weights without random_init: {r.returncode} {r.stderr[-300:]}")
done()
