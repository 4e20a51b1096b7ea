#!/usr/bin/python3
"""Never lose a run: a sweep killed (kill -9 of a rank, SIGKILL in the middle of a checkpoint
write) or stopped (SIGTERM in a rank, SIGUSR1 to mpirun, SIGTERM to a plain process) and run
again ends with per-run metrics bit-identical to an uninterrupted sweep. Grid growth appends
runs and leaves finished ones untouched; a changed base config is refused; --restart moves
the old file aside.

usage: resume.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, MPIRUN, SAME_COLUMNS, schema_metrics  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
MPI = MPIRUN
NAMES = schema_metrics(BIN)


def write_config(name, epochs=8, seeds=3, grid=None, **train):
    cfg = json.load(open(os.path.join(WORK, "tiny.json")))
    cfg["train"].update(epochs=epochs, checkpoint_every=7, **train)
    cfg["sweep"] = {"seeds": {"from": 1, "count": seeds},
                    "grid": grid or {"optimizer.correct_bias": [True, False], "train.learning_rate": [3e-3]}}
    p = os.path.join(WORK, name)
    json.dump(cfg, open(p, "w"), indent=1)
    return p


def sweep(cfg, out, np_=2, env=None, extra=()):
    cmd = (MPI + ["-np", str(np_)] if np_ else []) + [BIN, "sweep", cfg, "--output", out, "--progress", "0", *extra]
    e = dict(os.environ, **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)


def metrics(path):
    with h5py.File(path, "r") as f:
        d = {k: f[k][:] for k in NAMES}
        d["runs"] = f["runs"][:]
    return d


def same(a, b, what, rows=None):
    for k in NAMES:
        x, y = (a[k], b[k]) if rows is None else (a[k][rows], b[k][rows])
        check(x.shape == y.shape and x.tobytes() == y.tobytes(), f"{what}: {k} differs from the uninterrupted sweep")
    for col in SAME_COLUMNS:
        x, y = (a["runs"][col], b["runs"][col]) if rows is None else (a["runs"][col][rows], b["runs"][col][rows])
        check(x.tobytes() == y.tobytes(), f"{what}: /runs column {col} differs: {x} vs {y}")


cfg = write_config("sweep.json")
ref_path = os.path.join(WORK, "ref.h5")
r = sweep(cfg, ref_path)
check(r.returncode == 0, f"reference sweep: {r.stderr}")
ref = metrics(ref_path)

# kill -9 of a rank mid-run (run 2 at step 30, after the checkpoint at step 28), then resume
for kind, run, step, code in (("kill", 2, 30, None), ("killckpt", 3, 35, None), ("term", 4, 40, 3)):
    out = os.path.join(WORK, f"{kind}.h5")
    r = sweep(cfg, out, env={"BERTSWEEP_FAULT": f"{kind}:{run}:{step}"})
    if code is None:
        check(r.returncode != 0, f"{kind}: the job did not die (exit {r.returncode})")
    else:
        check(r.returncode == code, f"{kind}: exit {r.returncode}, want {code}: {r.stderr[-500:]}")
        check("resume" in r.stdout, f"{kind}: no resume hint in {r.stdout!r}")
    with h5py.File(out, "r") as f:  # readable after the kill, partial
        st = f["runs"]["status"]
        check(b"done" in list(st) and any(s != b"done" for s in st), f"{kind}: statuses after the stop: {list(st)}")
    r = sweep(cfg, out)
    check(r.returncode == 0 and "resumed" in r.stdout, f"{kind}: resume failed: {r.returncode} {r.stderr[-500:]}")
    same(ref, metrics(out), kind)

# a signal from outside: SIGUSR1 to mpirun (as Slurm's --signal does) and SIGTERM to a plain process
long_cfg = write_config("long.json", epochs=100, seeds=2)
long_ref = os.path.join(WORK, "long_ref.h5")
r = sweep(long_cfg, long_ref, np_=0)
check(r.returncode == 0, f"long reference: {r.stderr}")
for name, np_, sig in (("usr1_mpirun", 2, signal.SIGUSR1), ("term_plain", 0, signal.SIGTERM)):
    out = os.path.join(WORK, name + ".h5")
    cmd = (MPI + ["-np", str(np_)] if np_ else []) + [BIN, "sweep", long_cfg, "--output", out, "--progress", "0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 60 and not os.path.exists(out):
        time.sleep(0.05)
    time.sleep(1.0)
    if np_:  # read the file while the sweep writes it: written steps are numbers, the rest NaN
        code = ("import h5py, numpy as np, sys; f = h5py.File(sys.argv[1], 'r'); l = f['train/loss'][:]; "
                "n = int((~np.isnan(l)).sum()); sys.exit(0 if 0 < n < l.size else 1)")
        rd = subprocess.run(["/usr/bin/python3", "-c", code, out], capture_output=True, text=True,
                            env=dict(os.environ))
        check(rd.returncode == 0, f"{name}: reading the file mid-sweep failed: {rd.stderr[-300:]}")
    p.send_signal(sig)
    so, se = p.communicate(timeout=120)
    check(p.returncode == 3, f"{name}: exit {p.returncode}, want 3; {se[-800:]}")
    r = sweep(long_cfg, out, np_=np_)
    check(r.returncode == 0, f"{name}: resume: {r.stderr[-500:]}")
    same(metrics(long_ref), metrics(out), name)

# grid growth: a new grid value and a new seed are appended; finished rows stay untouched
GROWN = {"optimizer.correct_bias": [True, False], "train.learning_rate": [3e-3, 1e-3]}
grown = write_config("sweep.json", seeds=4, grid=GROWN)
before = metrics(ref_path)
r = sweep(grown, ref_path)
check(r.returncode == 0, f"grown sweep: {r.stderr[-800:]}")
after = metrics(ref_path)
check(after["runs"].shape == (16,), f"grown sweep has {after['runs'].shape} rows, want 16")
same(before, {k: v[:6] for k, v in after.items()}, "finished rows after growth")
check(after["runs"]["wall_seconds"][:6].tobytes() == before["runs"]["wall_seconds"].tobytes(), "finished rows were rerun")
check(all(s == b"done" for s in after["runs"]["status"]), "grown sweep: not all done")
with h5py.File(ref_path, "r") as f:
    check(len(f["runs"].attrs["run_configs"]) == 16, "run_configs not grown")
    check(sorted(set(f["runs"]["train.learning_rate"].tolist())) == [1e-3, 3e-3], "new grid value missing")

# a changed base config is refused, naming what changed, and the file is untouched
digest = hashlib.sha256(open(ref_path, "rb").read()).hexdigest()
changed = write_config("changed.json", seeds=4, grid=GROWN, weight_decay=0.1)
r = sweep(changed, ref_path)
check(r.returncode == 1 and "train.weight_decay: 0.01 -> 0.1" in r.stderr and "different sweep" in r.stderr,
      f"changed base config: exit {r.returncode}, {r.stderr!r}")
check(hashlib.sha256(open(ref_path, "rb").read()).hexdigest() == digest, "refused resume modified the file")

# grid keys may not change
newkey = write_config("newkey.json", seeds=4, grid=dict(GROWN, **{"reinit.pooler": [False]}))
r = sweep(newkey, ref_path)
check(r.returncode == 1 and "grid keys changed" in r.stderr, f"new grid key: exit {r.returncode}, {r.stderr!r}")
check(hashlib.sha256(open(ref_path, "rb").read()).hexdigest() == digest, "refused resume modified the file")

# --restart moves the old file aside and starts over
r = sweep(changed, ref_path, extra=("--restart",))
check(r.returncode == 0 and "moved the old results" in r.stdout, f"--restart: {r.stderr[-500:]}")
check(any(n.startswith("ref.h5.replaced-") for n in os.listdir(WORK)), "--restart did not keep the old file")

done()
