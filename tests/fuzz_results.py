#!/usr/bin/python3
"""Results files as untrusted input, fuzzed: a file written by a real sweep (with a live
checkpoint and final weights) is mutated at random — values of datasets and /runs columns
(NaN, huge, negative, wrong), datasets deleted or replaced with other shapes and types,
attributes (the sweep config, run configs) garbled or cut, checkpoint states and data changed —
with a fixed seed for a fixed time, and every reader of such a file runs on each mutant:
`report` (table, JSON and the HTML page writer), `status`, `check`, `check --salvage`, `export`
and a resume (`sweep`). Each
must end with one of its exit codes, never a signal, and (in the ASan + UBSan build) never
a memory or undefined-behaviour report.

usage: fuzz_results.py BERTSWEEP FIXTURE_DIR WORKDIR SECONDS
"""
import json
import os
import random
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done  # noqa: E402

BIN, FIX, WORK, SECONDS = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
shutil.rmtree(WORK, ignore_errors=True)
shutil.copytree(FIX, WORK)
cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["train"].update(epochs=3, checkpoint_every=7, save_final_weights=True)
cfg["sweep"] = {"seeds": [1, 2], "grid": {"optimizer.correct_bias": [True, False]}}
cfg["output"] = "base.h5"
CFG = os.path.join(WORK, "base.json")
json.dump(cfg, open(CFG, "w"))
base = os.path.join(WORK, "base.h5")
r = subprocess.run([BIN, "sweep", CFG, "--progress", "0"], capture_output=True, text=True, timeout=300,
                   env=dict(os.environ, BERTSWEEP_FAULT="kill:2:10"))  # killed mid-run: a live checkpoint stays
check(os.path.exists(base), f"the seed file: {r.stderr[-300:]}")
os.remove(base + ".lock") if os.path.exists(base + ".lock") else None

rng = random.Random(20261204)
WILD = [np.nan, np.inf, -np.inf, -1, 0, 1, 2 ** 31, -2 ** 31, 2 ** 62, 3e9, 1e300, 0.5]


def datasets(f):
    out = []
    f.visititems(lambda name, obj: out.append(name) if isinstance(obj, h5py.Dataset) else None)
    return out


def mutate(path):
    """One to three random structural mutations; returns what was done."""
    done_ = []
    with h5py.File(path, "r+") as f:
        for _ in range(rng.randint(1, 3)):
            names = datasets(f)
            kind = rng.randrange(8)
            name = rng.choice(names)
            d = f[name]
            try:
                if kind == 0 and d.dtype.names is None and d.size:  # a value of a plain dataset
                    a = d[...]
                    idx = tuple(rng.randrange(s) for s in a.shape) if a.ndim else ()
                    a[idx] = rng.choice(WILD) if a.dtype.kind == "f" else rng.choice([-1, 0, 2 ** 31 - 1, -2 ** 62, 7])
                    d[...] = a
                elif kind == 1 and d.dtype.names is not None:  # a /runs column of one row
                    a = d[...]
                    col = rng.choice(a.dtype.names)
                    row = rng.randrange(len(a))
                    if a.dtype[col].kind == "S":
                        a[col][row] = rng.choice([b"", b"done", b"running", b"stopped", b"\xff\xfe", b"x" * 100,
                                                  b"evaluating"])
                    elif a.dtype[col].kind == "f":
                        a[col][row] = rng.choice(WILD)
                    elif a.dtype[col].kind in "iu":
                        a[col][row] = rng.choice([-1, 0, 2 ** 31 - 1, -(2 ** 31), 123456789, 2 ** 62, -(2 ** 62)])
                    d[...] = a
                elif kind == 2:  # a dataset gone
                    del f[name]
                elif kind == 3:  # a dataset replaced by another shape and type
                    del f[name]
                    shape = rng.choice([(1,), (3, 2), (200, 1), (2, 200), ()])
                    f.create_dataset(name, data=np.full(shape, rng.choice([1.5, -7, 0]), dtype=rng.choice(["<f4", "<i8", "<f8"])))
                elif kind == 4:  # the sweep config garbled or cut
                    text = f.attrs.get("sweep_config", "{}")
                    f.attrs["sweep_config"] = rng.choice([text[: rng.randrange(len(text) + 1)], "[]", "null", '{"report": 3}',
                                                          text.replace("seeds", "seedz")])
                elif kind == 5 and "runs" in f:  # run configs: fewer, garbled
                    rc = list(f["runs"].attrs.get("run_configs", []))
                    if rc:
                        rc[rng.randrange(len(rc))] = rng.choice(["", "{", "[1]", '{"model": 5}'])
                        f["runs"].attrs["run_configs"] = rc[: rng.randrange(len(rc) + 1)] if rng.random() < 0.3 else rc
                elif kind == 6 and "checkpoints" in f and len(f["checkpoints"]):  # a checkpoint state
                    s = f[f"checkpoints/{rng.choice(list(f['checkpoints']))}/state"]
                    v = s[...]
                    v[rng.randrange(len(v))] = rng.choice(WILD)
                    s[...] = v
                else:  # an attribute of a dataset
                    d.attrs[rng.choice(["units", "long_name", "tensors"])] = rng.choice(["", "[", "[{}]", "x"])
                done_.append(f"{kind}:{name}")
            except (TypeError, ValueError, KeyError, OSError):
                pass
    return done_


def run(args, timeout=60):
    try:
        r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    return r.returncode, r.stderr


bad = []
n = 0
t0 = time.time()
while time.time() - t0 < SECONDS:
    m = os.path.join(WORK, f"m{n % 4}.h5")
    shutil.copy(base, m)
    what = mutate(m)
    for args in (["report", m], ["report", m, "--format", "json"], ["report", m, "--format", "html"], ["status", m],
                 ["check", m],
                 ["check", "--salvage", m, m + ".salv"], ["export", m, "--run", "0", os.path.join(WORK, f"x{n}")],
                 ["sweep", CFG, "--output", m, "--progress", "0"]):
        rc, err = run(args)
        sanitizer = any(s in err for s in ("AddressSanitizer", "runtime error:", "LeakSanitizer"))
        if rc is None or rc < 0 or rc >= 128 or rc not in (0, 1, 2, 3, 4, 6) or sanitizer:
            bad.append(f"{args[0]} exit {rc} after {what}: {err[-300:]}")
        if os.path.exists(m + ".lock"):
            os.remove(m + ".lock")
    shutil.rmtree(os.path.join(WORK, f"x{n}"), ignore_errors=True)
    for suffix in (".salv", ".partial"):
        if os.path.exists(m + suffix):
            os.remove(m + suffix)
    n += 1
print(f"{n} mutated results files, {8 * n} reader runs in {time.time() - t0:.0f} s")
check(n >= 3, f"only {n} mutants tried")
check(not bad, f"{len(bad)} reader runs crashed, hung or broke an exit code:\n  " + "\n  ".join(bad[:8]))
done()
