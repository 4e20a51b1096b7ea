#!/usr/bin/python3
"""`bertsweep bench` stores a calibration keyed by CPU, kernel, threads, model shape, batch,
sequence length and data; `bertsweep plan` turns it into time: training = steps x step time,
evaluation = evaluations x evaluation time, wall = max(sum / ranks, longest run), node-hours =
wall x nodes. Without a calibration (another thread count) it says so; a damaged calibration
file is named. plan works without the data when data.train_size is given.

usage: plan_bench.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done  # noqa: E402

BIN, FIX, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
shutil.copytree(FIX, WORK)
cal = os.path.join(WORK, "cal", "calibration.json")
env = dict(os.environ, BERTSWEEP_CALIBRATION=cal, OMP_NUM_THREADS="1")
cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["sweep"] = {"seeds": {"from": 1, "count": 3}, "grid": {"train.epochs": [2, 4]}}
cfg["output"] = "x.h5"
path = os.path.join(WORK, "sweep.json")
json.dump(cfg, open(path, "w"))


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=kw.get("env", env))


r = run("plan", path, "--ranks", "2")
check(r.returncode == 0 and "not estimated: no calibration" in r.stdout and "bertsweep bench" in r.stdout,
      f"plan without calibration: {r.stdout[-300:]} {r.stderr[-200:]}")
r = run("bench", path, "--steps", "3")
check(r.returncode == 0, f"bench: {r.stderr[-300:]}")
c = json.load(open(cal))
check(len(c) == 1, f"one shape (epochs do not change it): {list(c)}")
key, v = next(iter(c.items()))
check("1 threads" in key and "L2" in key and "batch 16 seq 24" in key and "train.jsonl dev.jsonl" in key, f"key {key}")
check(v["step_seconds"] > 0 and v["eval_seconds"] > 0 and v["steps_timed"] == 3, f"values {v}")

# plan's arithmetic from a calibration we write ourselves
c[key].update(step_seconds=0.5, eval_seconds=2.0)
json.dump(c, open(cal, "w"))
r = run("plan", path, "--ranks", "4", "--ranks-per-node", "2")
rows = [ln.split() for ln in r.stdout.splitlines() if re.match(r"^\d+\s+\d+\s+\d+\s", ln)]
steps = sum(int(x[1]) for x in rows)
evals = sum(int(x[2]) for x in rows)
longest = max(int(x[1]) * 0.5 + int(x[2]) * 2.0 for x in rows)
train, ev = steps * 0.5, evals * 2.0
wall = max((train + ev) / 4, longest)
m = re.search(r"training ([0-9.]+) min \+ evaluation ([0-9.]+) min = ([0-9.]+) min", r.stdout)
w = re.search(r"about ([0-9.]+) min of wall time \(longest run ([0-9.]+) min\), ([0-9.]+) node-hours on (\d+) node",
              r.stdout)
check(m and abs(float(m.group(1)) - train / 60) < 0.051 and abs(float(m.group(2)) - ev / 60) < 0.051,
      f"training/evaluation minutes: {m and m.groups()} vs {train / 60:.2f}, {ev / 60:.2f}")
check(w and abs(float(w.group(1)) - wall / 60) < 0.051 and abs(float(w.group(2)) - longest / 60) < 0.051 and
      abs(float(w.group(3)) - wall / 3600 * 2) < 0.0051 and w.group(4) == "2",
      f"wall/node-hours: {w and w.groups()} vs {wall / 60:.2f} min, {wall / 3600 * 2:.3f} node-hours")
r = run("plan", path, "--threads", "2")
check("not estimated: no calibration" in r.stdout and "2 thread(s)" in r.stdout, f"other thread count: {r.stdout[-200:]}")
r = run("plan", path, "--ranks", "0")
check(r.returncode == 2 and "--ranks" in r.stderr, f"--ranks 0: {r.stderr}")

# without the data: steps from data.train_size, time still estimated
nodata = dict(cfg, data=dict(cfg["data"], train="not-downloaded-yet/train.jsonl"))  # the key uses file names
p2 = os.path.join(WORK, "nodata.json")
json.dump(nodata, open(p2, "w"))
r = run("plan", p2)
check(r.returncode == 0 and "training set was not found" in r.stdout and "calibrated on" in r.stdout,
      f"plan without data: {r.stdout[-300:]} {r.stderr[-200:]}")

open(cal, "w").write("{ not json")
r = run("plan", path)
check(r.returncode == 0 and "not estimated" in r.stdout and cal in r.stdout, f"damaged calibration: {r.stdout[-300:]}")
r = run("bench", path, "--steps", "2")
check(r.returncode != 0 and cal in r.stderr and "step_s" not in r.stdout and "step " not in r.stdout,
      f"bench over a damaged calibration (refused before timing anything): {r.stdout[-300:]} {r.stderr[-300:]}")
done()
