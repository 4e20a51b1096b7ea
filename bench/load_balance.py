#!/usr/bin/python3
"""Load balance of the sweep: runs of uneven length (train.epochs 1..8) on N ranks; prints the
sweep's wall time next to the ideal (sum of run wall times / ranks) and their ratio.

usage: load_balance.py BERTSWEEP FIXTURE_DIR WORKDIR [RANKS=8]
(FIXTURE_DIR from tests/data/make_tiny.py; on a machine with fewer cores than ranks the ranks
share cores: the ratio still measures the scheduling, the absolute times do not)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import h5py

BIN, FIX, WORK = sys.argv[1:4]
RANKS = int(sys.argv[4]) if len(sys.argv) > 4 else 8
shutil.rmtree(WORK, ignore_errors=True)
shutil.copytree(FIX, WORK)
cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["train"].update(threads=1, checkpoint_every=0, eval_every=20)
cfg["sweep"] = {"seeds": {"from": 1, "count": 6}, "grid": {"train.epochs": [5, 10, 20, 40]}}
cfg["output"] = "lb.h5"
json.dump(cfg, open(os.path.join(WORK, "lb.json"), "w"))
t0 = time.time()
r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", str(RANKS), BIN,
                    "sweep", os.path.join(WORK, "lb.json"), "--progress", "0"], capture_output=True, text=True)
wall = time.time() - t0
if r.returncode:
    sys.exit(r.stderr)
sweep = float(re.search(r"\(sweep ([0-9.]+) s\)", r.stdout).group(1))
with h5py.File(os.path.join(WORK, "lb.h5"), "r") as f:
    runs = f["runs"][:]
total = float(runs["wall_seconds"].sum())
ideal = total / RANKS
longest = float(runs["wall_seconds"].max())
print(f"ranks={RANKS} runs={len(runs)} sum_of_run_seconds={total:.1f} ideal={ideal:.1f}s longest_run={longest:.1f}s "
      f"sweep={sweep:.1f}s ratio_to_ideal={sweep / ideal:.3f} (with mpirun start and file creation: {wall:.1f}s)")
