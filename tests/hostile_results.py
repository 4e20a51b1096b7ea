#!/usr/bin/python3
"""Results files are shared between users: every reader treats them as untrusted input.
Files made by a real sweep, then changed as a careless tool or a hostile user would:

- /runs with 200 times the rows of /train/loss: `report`, `check` and `export` refuse it (no
  heap overflow; the ASan + UBSan pass runs this too);
- a checkpoint state naming run 3e9 (and NaN, -0.5, 2^31): `check` reports it, `check
  --salvage` copies the file without that checkpoint, never crashes;
- `check --salvage` keeps each done run's final weights: a resume of the salvaged file and
  `export` give the same non-zero weights as the original;
- a FIFO as the lock, as --output or as data.train: sweep, check, stop and report refuse it
  within seconds (a plain open would block forever).

usage: hostile_results.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import struct
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture


def config(name, **train):
    cfg = json.load(open(os.path.join(WORK, "tiny.json")))
    cfg["train"].update(dict({"epochs": 2}, **train))
    cfg["sweep"] = {"seeds": [1, 2]}
    p = os.path.join(WORK, name)
    json.dump(cfg, open(p, "w"))
    return p


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)


# ---- /runs longer than the metrics
cfg = config("base.json")
out = os.path.join(WORK, "out.h5")
check(run("sweep", cfg, "--output", out, "--progress", "0").returncode == 0, "base sweep")
hostile = os.path.join(WORK, "rows.h5")
with h5py.File(out, "r") as s, h5py.File(hostile, "w") as f:
    for k, v in s.attrs.items():
        f.attrs[k] = v
    f.create_dataset("runs", data=np.concatenate([s["runs"][:]] * 200))
    f["runs"].attrs["run_configs"] = list(s["runs"].attrs["run_configs"]) * 200
    for p in ("train/loss", "eval/accuracy", "eval/step"):
        f.create_dataset(p, data=s[p][:1])
for args in (("report", hostile), ("check", hostile), ("export", hostile, "--run", "3", os.path.join(WORK, "x"))):
    r = run(*args)
    check(r.returncode in (1, 3) and "rows.h5" in r.stderr + r.stdout and r.returncode < 128,
          f"{args[0]} on /runs longer than the metrics: exit {r.returncode}: {(r.stderr + r.stdout)[-300:]}")

# ---- checkpoint states naming rows that do not exist
cfg = config("ckpt.json", checkpoint_every=7, epochs=4)
for bad in (3e9, float("nan"), -0.5, 2.0 ** 31):
    out = os.path.join(WORK, f"slot_{bad}.h5")
    subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True,
                   env=dict(os.environ, BERTSWEEP_FAULT="kill:1:10"), timeout=300)
    with h5py.File(out, "r+") as f:
        n = 0
        for k in f["checkpoints"]:
            s = f[f"checkpoints/{k}/state"]
            v = s[:]
            if v[0] >= 0:
                v[0] = bad
                s[...] = v
                n += 1
    check(n >= 1, f"a live checkpoint to damage ({bad})")
    c = run("check", out)
    check(c.returncode == 1 and "does not fit" in c.stdout + c.stderr, f"check, slot run {bad}: {c.returncode} {c.stdout[-300:]}")
    salv = out.replace(".h5", "_salv.h5")
    r = run("check", "--salvage", out, salv)
    check(r.returncode == 0 and "runs copied" in r.stdout, f"salvage, slot run {bad}: exit {r.returncode}: {r.stderr[-300:]}")
    check(run("check", salv).returncode == 0, f"the salvaged file ({bad}) checks clean")

# ---- salvage keeps final weights
cfg = config("final.json", save_final_weights=True)
out = os.path.join(WORK, "final.h5")
check(run("sweep", cfg, "--output", out, "--progress", "0").returncode == 0, "sweep with final weights")
salv = os.path.join(WORK, "final_salv.h5")
r = run("check", "--salvage", out, salv)
check(r.returncode == 0, f"salvage: {r.stderr[-300:]}")
with h5py.File(out, "r") as a, h5py.File(salv, "r") as b:
    check("final_weights" in b and np.array_equal(a["final_weights"][:], b["final_weights"][:]),
          "salvage dropped or changed /final_weights")
r = run("sweep", cfg, "--output", salv, "--progress", "0")
check(r.returncode == 0 and "2 runs were done already" in r.stdout, f"resume of the salvaged file: {r.stdout[-300:]}")
exp = os.path.join(WORK, "exported")
r = run("export", salv, "--run", "0", exp)
raw = open(os.path.join(exp, "model.safetensors"), "rb").read() if r.returncode == 0 else b"\0" * 16
n = struct.unpack("<Q", raw[:8])[0]
w = np.frombuffer(raw[8 + n:], dtype=np.float32)
with h5py.File(out, "r") as a:
    check(r.returncode == 0 and (w != 0).sum() > w.size // 2 and np.sort(w).tobytes() == np.sort(a["final_weights"][0]).tobytes(),
          f"export after salvage + resume: exit {r.returncode}, {(w != 0).sum()} of {w.size} weights non-zero")
# ---- FIFOs never block
cfg = config("fifo.json")
fifo = os.path.join(WORK, "fifo.h5")
os.mkfifo(fifo + ".lock")
for args in (("sweep", cfg, "--output", fifo, "--progress", "0"), ("stop", fifo)):
    try:
        r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
        check(r.returncode in (0, 1) and "bertsweep:" in r.stderr, f"{args[0]} with a FIFO lock: {r.returncode} {r.stderr}")
    except subprocess.TimeoutExpired:
        check(False, f"{args[0]} with a FIFO as the lock hangs")
os.remove(fifo + ".lock")
os.mkfifo(fifo)
for args in (("sweep", cfg, "--output", fifo, "--progress", "0"), ("check", fifo), ("report", fifo)):
    try:
        r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
        check(r.returncode == 1 and "not a regular file" in r.stderr, f"{args[0]} of a FIFO: {r.returncode} {r.stderr}")
    except subprocess.TimeoutExpired:
        check(False, f"{args[0]} of a FIFO hangs")
os.remove(fifo)
c = json.load(open(cfg))
os.mkfifo(os.path.join(WORK, "train_fifo.jsonl"))
c["data"]["train"] = "train_fifo.jsonl"
json.dump(c, open(os.path.join(WORK, "fifo_data.json"), "w"))
try:
    r = subprocess.run([BIN, "train", os.path.join(WORK, "fifo_data.json")], capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "train_fifo.jsonl" in r.stderr and "not a regular file" in r.stderr,
          f"train on a FIFO: {r.returncode} {r.stderr}")
except subprocess.TimeoutExpired:
    check(False, "train with data.train a FIFO hangs")
done()
