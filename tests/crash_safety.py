#!/usr/bin/python3
"""Crash safety of the results file: the whole sweep (mpirun and both ranks: every process
of its session, as a node crash does; Open MPI puts each rank in a process group of its
own) is killed with SIGKILL at 30+ moments spread over its life — while the file is being
created, mid-run, mid-checkpoint, while finished checkpoints are being dropped at the end,
and while a resume that grows the grid rewrites the file. After each kill the file (when
there is one) passes `bertsweep check`; the same command then completes, the file passes
`check` again, and every metric and /runs column equals an uninterrupted sweep's bit for
bit. The file reads with xarray (h5netcdf) mid-sweep and at the end, and a finished file
holds no checkpoint data. Then mpirun alone is killed at 8 moments (its ranks live on for a
moment): `check` at once either passes or refuses a file still being written (exit 6), and
a resume started at once waits for the dying ranks and ends bit-identical.

usage: crash_safety.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun, proc_stat, read_results, SAME_COLUMNS, same_results, schema_metrics  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
MPI = mpirun(2)
METRICS = schema_metrics(BIN)
COLUMNS = SAME_COLUMNS
BASE_GRID = {"optimizer.correct_bias": [True, False]}


def write_config(name, grid, lrs=None):
    cfg = json.load(open(os.path.join(WORK, "tiny.json")))
    cfg["train"].update(epochs=8, checkpoint_every=7, dropout=0.1)
    cfg["sweep"] = {"seeds": [1, 2, 3], "grid": dict(grid)}
    if lrs:
        cfg["sweep"]["grid"]["train.learning_rate"] = lrs
    p = os.path.join(WORK, name)
    json.dump(cfg, open(p, "w"), indent=1)
    return p


def command(cfg, out):
    return MPI + [BIN, "sweep", cfg, "--output", out, "--progress", "0"]


def run(cfg, out, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(command(cfg, out), capture_output=True, text=True, env=e, timeout=300)


def session(sid):
    """Live (not zombie) processes of session sid."""
    stats = {int(d): proc_stat(d) for d in os.listdir("/proc") if d.isdigit()}
    return [pid for pid, f in stats.items() if f and int(f[3]) == sid]


def kill_session(sid):
    """SIGKILLs every process of the session at once (as a node crash or Slurm's cgroup
    kill would) and waits until none is left."""
    t = time.time()
    while time.time() - t < 30:
        left = session(sid)
        if not left:
            return
        for q in left:
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    check(False, f"session {sid}: processes survive SIGKILL: {session(sid)}")


def killed_at(cfg, out, seconds=None, env=None, launcher_only=False):
    """Starts the sweep in a session of its own; after `seconds` SIGKILLs every process of it
    (or mpirun alone), or waits for a fault hook to kill it. Returns the exit status."""
    e = dict(os.environ, **(env or {}))
    p = subprocess.Popen(command(cfg, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e,
                         start_new_session=True)
    try:
        p.wait(timeout=seconds if seconds is not None else 120)
    except subprocess.TimeoutExpired:
        if launcher_only:
            p.kill()
            p.wait()
            return p.returncode
        kill_session(p.pid)
        p.wait()
    kill_session(p.pid)  # whatever the fault hook left behind
    return p.returncode


def file_check(out, what):
    if not os.path.exists(out):
        return
    r = subprocess.run([BIN, "check", out], capture_output=True, text=True)
    check(r.returncode == 0, f"{what}: check failed: {r.stdout[-600:]} {r.stderr[-300:]}")


def metrics(path):
    return read_results(path, METRICS, COLUMNS)


def same(ref, out, what):
    got = metrics(out)
    same_results(ref, got, what)
    check(got["_slots"] == 0, f"{what}: {got['_slots']} checkpoint slots left in a finished file")


def resume_and_compare(cfg, out, ref, what, check_first=True):
    if check_first:
        file_check(out, what + " (after the kill)")
    r = run(cfg, out)
    msgs = [ln for ln in r.stderr.splitlines() if ln.startswith("bertsweep")]
    check(r.returncode == 0, f"{what}: rerun failed ({r.returncode}): {msgs}")
    if r.returncode == 0:
        file_check(out, what + " (after the rerun)")
        same(ref, out, what)


base = write_config("base.json", BASE_GRID, lrs=[3e-3])
grown = write_config("grown.json", BASE_GRID, lrs=[3e-3, 1e-3])
kills = 0

# the uninterrupted references: the base sweep, and the base sweep grown by a grid value
ref_path = os.path.join(WORK, "ref.h5")
t0 = time.time()
r = run(base, ref_path)
T = time.time() - t0
check(r.returncode == 0, f"reference sweep: {r.stderr[-600:]}")
ref = metrics(ref_path)
check(os.path.getsize(ref_path) < 1_000_000, f"finished file is {os.path.getsize(ref_path)} bytes")
grown_ref_path = os.path.join(WORK, "grown_ref.h5")
shutil.copy(ref_path, grown_ref_path)
r = run(grown, grown_ref_path)
check(r.returncode == 0, f"grown reference: {r.stderr[-600:]}")
grown_ref = metrics(grown_ref_path)
file_check(grown_ref_path, "grown reference")

# xarray reads the file mid-sweep (dimension scales exist from the first moment) and at the end
out = os.path.join(WORK, "xr.h5")
p = subprocess.Popen(command(base, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t = time.time()
while not os.path.exists(out) and time.time() - t < 60:
    time.sleep(0.02)
XR = ("import sys, xarray as xr; d = xr.open_dataset(sys.argv[1], engine='h5netcdf', group='train'); "
      "e = xr.open_dataset(sys.argv[1], engine='h5netcdf', group='eval'); "
      "assert d['loss'].dims == ('run', 'step') and d.sizes['run'] == 6 and d.sizes['step'] == 80, d; "
      "assert int(d['step'][0]) == 1 and e['accuracy'].dims[0] == 'run'; print(int(d['loss'].notnull().sum()))")
mid = subprocess.run(["/usr/bin/python3", "-c", XR, out], capture_output=True, text=True)
check(mid.returncode == 0, f"xarray mid-sweep: {mid.stderr[-500:]}")
p.wait()
end = subprocess.run(["/usr/bin/python3", "-c", XR, out], capture_output=True, text=True)
check(end.returncode == 0 and end.stdout.strip() == str(6 * 80), f"xarray at the end: {end.stdout} {end.stderr[-500:]}")

# 1. kills spread evenly over the whole life of a sweep (mpirun start-up to the last rename)
N = 16
for i in range(N):
    out = os.path.join(WORK, f"time{i}.h5")
    killed_at(base, out, seconds=T * (0.1 + 1.0 * i / (N - 1)))
    kills += 1
    resume_and_compare(base, out, ref, f"kill at {0.1 + 1.0 * i / (N - 1):.2f} T")

# 2. the narrow windows, by fault hooks: each stage of creating the file, mid-checkpoint,
#    and each stage of dropping the finished checkpoints at the end
HOOKS = [f"killbuild:{s}:0" for s in (1, 2, 3, 4)] + ["killckpt:0:7", "killckpt:3:35", "killckpt:5:77"] + \
        [f"killbuild:{s}:1" for s in (1, 2, 3, 4)]
for h in HOOKS:
    out = os.path.join(WORK, h.replace(":", "_") + ".h5")
    rc = killed_at(base, out, env={"BERTSWEEP_FAULT": h})
    check(rc != 0, f"{h}: the fault hook did not fire (exit {rc})")
    kills += 1
    resume_and_compare(base, out, ref, h)

# 3. a resume that grows the grid, killed while it rewrites the file and at moments after
for h in [f"killbuild:{s}:1" for s in (1, 2, 3, 4)]:
    out = os.path.join(WORK, "grow_" + h.replace(":", "_") + ".h5")
    shutil.copy(ref_path, out)
    rc = killed_at(grown, out, env={"BERTSWEEP_FAULT": h})
    check(rc != 0, f"grow {h}: the fault hook did not fire (exit {rc})")
    kills += 1
    file_check(out, f"grow {h} (after the kill)")
    if os.path.exists(out):  # the old file or the grown one, never a mix
        with h5py.File(out, "r") as f:
            check(len(f["runs"]) in (6, 12), f"grow {h}: {len(f['runs'])} rows")
    resume_and_compare(grown, out, grown_ref, "grow " + h)
for i in range(4):
    out = os.path.join(WORK, f"grow_time{i}.h5")
    shutil.copy(ref_path, out)
    killed_at(grown, out, seconds=T * (0.2 + 0.25 * i))
    kills += 1
    resume_and_compare(grown, out, grown_ref, f"grow, kill at {0.2 + 0.25 * i:.2f} T")

# 4. mpirun alone killed. Open MPI's ranks would run on (seen: a rank still training and in
#    fsync a second later); each rank watches its launcher and exits at its next step.
long_cfg = write_config("long.json", BASE_GRID, lrs=[3e-3])
cfg = json.load(open(long_cfg))
cfg["train"]["epochs"] = 400
json.dump(cfg, open(long_cfg, "w"), indent=1)
out = os.path.join(WORK, "orphans.h5")
p = subprocess.Popen(command(long_cfg, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
t = time.time()
while not os.path.exists(out) and time.time() - t < 60:
    time.sleep(0.02)
time.sleep(1.0)
check(p.poll() is None and len(session(p.pid)) >= 3, "orphans: the long sweep ended before the kill")
p.kill()
p.wait()
time.sleep(1.0)
left = session(p.pid)
check(not left, f"orphans: ranks alive 1 s after mpirun was killed: {left}")
kill_session(p.pid)

#    A kill of mpirun alone at 8 moments: its ranks outlive it for a moment. `check` at once passes or says
#    the file is still being written; a resume at once waits for them and ends identical.
for i in range(8):
    out = os.path.join(WORK, f"launcher{i}.h5")
    frac = 0.15 + 0.1 * i
    killed_at(base, out, seconds=T * frac, launcher_only=True)
    kills += 1
    if os.path.exists(out):
        r = subprocess.run([BIN, "check", out], capture_output=True, text=True)
        check(r.returncode == 0 or (r.returncode == 6 and "a sweep is writing it" in r.stderr),
              f"launcher killed at {frac:.2f} T: check at once: exit {r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}")
    resume_and_compare(base, out, ref, f"launcher killed at {frac:.2f} T", check_first=False)

check(kills >= 38, f"only {kills} kill moments")
print(f"{kills} kills, reference sweep {T:.2f} s")
done()
