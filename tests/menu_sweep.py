#!/usr/bin/python3
"""A sweep crossing three stabilisers (layer-wise lr decay, prior weight decay, Mixout) and
re-init runs end to end under mpirun, and `bertsweep report` groups it correctly.

usage: menu_sweep.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture


cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["train"].update(epochs=3, weight_decay=0.1, early_stopping_patience=100)
cfg["reinit"]["top_layers"] = 1
cfg["sweep"] = {"seeds": [1, 2], "grid": {"optimizer.layerwise_lr_decay": [1.0, 0.8],
                                          "optimizer.prior_weight_decay": [False, True],
                                          "train.mixout": [0.0, 0.1]}}
cfg["output"] = "menu.h5"
path = os.path.join(WORK, "menu.json")
json.dump(cfg, open(path, "w"), indent=1)
r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", BIN, "sweep", path, "--progress", "0"],
                   capture_output=True, text=True, timeout=600)
check(r.returncode == 0, f"menu sweep: {r.stderr[-1000:]}")
out = os.path.join(WORK, "menu.h5")
with h5py.File(out, "r") as f:
    runs = f["runs"][:]
    check(len(runs) == 16 and all(s == b"done" for s in runs["status"]), f"runs {runs['status']}")
    # the stabilisers change the numbers: no two grid points give the same loss curve for seed 1
    curves = {tuple(r[["optimizer.layerwise_lr_decay", "optimizer.prior_weight_decay", "train.mixout"]].tolist()):
              f["train/loss"][i].tobytes() for i, r in enumerate(runs) if r["seed"] == 1}
    check(len(set(curves.values())) == 8, f"{len(set(curves.values()))} distinct curves of 8 grid points")
r = subprocess.run([BIN, "report", out, "--format", "json"], capture_output=True, text=True)
check(r.returncode == 0, f"report: {r.stderr}")
j = json.loads(r.stdout)
check(len(j["groups"]) == 8 and all(g["runs"] == 2 for g in j["groups"]), "8 groups of 2 runs")
keys = {}
for c in j["comparisons"]:
    keys[c["key"]] = keys.get(c["key"], 0) + 1
    check(c["pairs"] == 2, f"comparison {c['from']} -> {c['to']} has {c['pairs']} pairs")
check(keys == {"optimizer.layerwise_lr_decay": 4, "optimizer.prior_weight_decay": 4, "train.mixout": 4},
      f"comparisons per key {keys}")
done()
