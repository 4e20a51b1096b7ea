#!/usr/bin/python3
"""Sweep definitions beyond grid x seeds: sweep.random (uniform, log-uniform and choice,
crossed with seeds), sweep.zip (keys that move together) and whole-section grid values (two
tasks in one sweep, reported per task). Each is bit-identical as a plain process and under
mpirun with 2 ranks; sampled values lie in their ranges and come from the sweep's seed; a
larger random count keeps the first points; the report's settings come from the config's
"report" section.

usage: sweep_defs.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import math
import os
import shutil
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun, read_results, same_results, schema_metrics  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
MPI = mpirun(2)
METRICS = schema_metrics(BIN)


def config(name, sweep, epochs=2, **top):
    cfg = json.load(open(os.path.join(WORK, "tiny.json")))
    cfg["train"].update(epochs=epochs)
    cfg["sweep"] = sweep
    cfg.update(top)
    p = os.path.join(WORK, name)
    json.dump(cfg, open(p, "w"), indent=1)
    return p


def sweep(cfg, out, np_=2):
    cmd = (MPI if np_ else []) + [BIN, "sweep", cfg, "--output", out, "--progress", "0"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def both(name, cfg, cols):
    """Runs cfg as a plain process and with 2 ranks; checks they agree; returns the runs."""
    a, b = os.path.join(WORK, name + "_np0.h5"), os.path.join(WORK, name + "_np2.h5")
    ra, rb = sweep(cfg, a, 0), sweep(cfg, b)
    check(ra.returncode == 0 and rb.returncode == 0, f"{name}: {ra.stderr[-300:]} {rb.stderr[-300:]}")
    if ra.returncode or rb.returncode:
        return None, a
    same_results(read_results(a, METRICS, cols), read_results(b, METRICS, cols), f"{name}: np 0 vs 2")
    with h5py.File(a, "r") as f:
        return f["runs"][:], a



# ---- random search crossed with seeds
RANDOM = {"count": 3, "seed": 11, "params": {"train.learning_rate": {"log_uniform": [1e-3, 1e-2]},
                                             "train.warmup_ratio": {"uniform": [0.0, 0.2]},
                                             "optimizer.name": {"choice": ["hf_adamw", "torch_adamw"]}}}
cfg = config("random.json", {"seeds": [1, 2], "random": RANDOM})
cols = ["train.learning_rate", "train.warmup_ratio", "optimizer.name", "seed", "status"]
runs, path = both("random", cfg, cols)
if runs is not None:
    check(len(runs) == 6, f"random: {len(runs)} runs, want 3 points x 2 seeds")
    lr, wu = runs["train.learning_rate"], runs["train.warmup_ratio"]
    check(all(1e-3 <= x <= 1e-2 for x in lr) and all(0 <= x <= 0.2 for x in wu), f"random: values out of range {lr} {wu}")
    check(all(n in (b"hf_adamw", b"torch_adamw") for n in runs["optimizer.name"]), "random: choice values")
    check(len(set(lr)) == 3 and all(lr[i] == lr[i + 1] for i in (0, 2, 4)), f"random: each point gets every seed: {lr}")
    check(len(set(math.log(x) for x in lr)) == 3, "random: distinct points")
    # the same seed gives the same points; a larger count keeps them and adds one
    more = dict(RANDOM, count=4)
    cfg4 = config("random4.json", {"seeds": [1, 2], "random": more})
    r = sweep(cfg4, path, 0)
    check(r.returncode == 0 and "6 runs were done already" in r.stdout, f"random grown: {r.stdout} {r.stderr[-300:]}")
    with h5py.File(path, "r") as f:
        lr4 = f["runs"]["train.learning_rate"][:]
    check(len(lr4) == 8 and list(lr4[:6]) == list(lr), f"random grown: first points kept: {lr4}")

# ---- zipped keys: learning rate with its epochs
cfg = config("zip.json", {"seeds": [1, 2], "grid": {"optimizer.correct_bias": [True, False]},
                          "zip": {"train.learning_rate": [3e-3, 1e-2], "train.epochs": [2, 1]}})
runs, path = both("zip", cfg, ["train.learning_rate", "train.epochs", "optimizer.correct_bias", "seed"])
if runs is not None:
    pairs = set(zip(runs["train.learning_rate"].tolist(), runs["train.epochs"].tolist()))
    check(len(runs) == 8 and pairs == {(3e-3, 2), (1e-2, 1)}, f"zip: {len(runs)} runs, pairs {pairs}")
    check(set(runs["total_steps"].tolist()) == {20, 10}, f"zip: epochs follow: {runs['total_steps']}")

# ---- two tasks in one sweep: whole data sections as grid values, reported per task
a_task = {"name": "task-a", "train": "train.jsonl", "dev": "dev.jsonl", "train_size": 160}
b_task = {"name": "task-b", "train": "train.jsonl", "dev": "dev.jsonl", "train_size": 80, "data_seed": 7}
cfg = config("tasks.json", {"seeds": [1, 2, 3], "grid": {"data": [a_task, b_task], "optimizer.correct_bias": [True, False]}},
             report={"label": "two tasks", "acc_fraction": 0.8})
runs, path = both("tasks", cfg, ["data", "optimizer.correct_bias", "seed"])
if runs is not None:
    check(sorted(set(runs["data"].tolist())) == [b"task-a", b"task-b"], f"tasks: column {set(runs['data'])}")
    steps = {d: set(runs["total_steps"][runs["data"] == d].tolist()) for d in (b"task-a", b"task-b")}
    check(steps == {b"task-a": {20}, b"task-b": {10}}, f"tasks: each task's own data: {steps}")
    rep = json.loads(subprocess.run([BIN, "report", path, "--format", "json"], capture_output=True, text=True).stdout)
    comps = [c for c in rep["comparisons"] if c["key"] == "optimizer.correct_bias"]
    check(len(comps) == 2 and {c["from"].split()[0] for c in comps} == {"data=task-a", "data=task-b"},
          f"tasks: one correct_bias comparison per task: {[c['from'] for c in comps]}")
    check(rep["label"] == "two tasks" and rep["parameters"]["acc_fraction"] == 0.8, f"report section: {rep['parameters']}")

# ---- string values with a quote are stored as written, and stay two groups (m3)
qdir = os.path.join(WORK, 'd"')
os.makedirs(qdir, exist_ok=True)
for name in ("a1", "a2"):
    shutil.copy(os.path.join(WORK, "train.jsonl"), os.path.join(qdir, name))
qcfg = config("quote.json", {"seeds": [1], "grid": {"data.train": ['d"/a1', 'd"/a2']}})
qout = os.path.join(WORK, "quote.h5")
r = sweep(qcfg, qout, 0)
rep = json.loads(subprocess.run([BIN, "report", qout, "--format", "json"], capture_output=True, text=True).stdout or "{}")
with h5py.File(qout, "r") as f:
    col = [x.decode() for x in f["runs"]["data.train"]]
check(r.returncode == 0 and col == ['d"/a1', 'd"/a2'] and len(rep.get("groups", [])) == 2,
      f"quoted string values: {col} {len(rep.get('groups', []))} groups {r.stderr[-200:]}")

# ---- refusals
for name, sw, want in (("zip lengths", {"zip": {"train.learning_rate": [1e-3, 2e-3], "train.epochs": [1]}}, "differ in length"),
                       ("key twice", {"grid": {"train.epochs": [1]}, "zip": {"train.epochs": [2]}}, "swept twice"),
                       ("bad distribution", {"random": {"count": 2, "params": {"train.dropout": {"normal": [0, 1]}}}},
                        "uniform"),
                       ("data without name", {"grid": {"data": [{"train_size": 10}]}}, "\"name\""),
                       # a section value that sets what the sweep sets otherwise would collapse runs (h1)
                       ("section sets the seed", {"seeds": [1, 2, 3], "grid": {"train": [{"name": "x", "seed": 5}]}},
                        "sets train.seed"),
                       ("section sets a swept key", {"grid": {"train": [{"name": "x", "learning_rate": 0.1}],
                                                              "train.learning_rate": [0.01, 0.02]}}, "also sweeps"),
                       ("two runs one config", {"zip": {"train.learning_rate": [0.01, 0.01], "train.epochs": [1, 1]}},
                        "same")):
    for cmd in ("plan", "sweep"):
        r = subprocess.run([BIN, cmd, config("bad.json", sw), "--output", os.path.join(WORK, "bad.h5")][:3 if cmd == "plan" else 5],
                           capture_output=True, text=True)
        check(r.returncode == 1 and want in r.stderr and not os.path.exists(os.path.join(WORK, "bad.h5")),
              f"{name} ({cmd}): exit {r.returncode} {r.stderr!r}")
done()
