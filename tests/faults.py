#!/usr/bin/python3
"""Faults in a running sweep (shared/repro h5, m1, m8 and their neighbours), and the report's
stability when a finished sweep grows:
- a run whose loss goes non-finite (optimizer.eps 0) stops at once as "diverged", its
  metrics kept to that step; the sweep goes on and exits 0; the report counts it as failed
  and a diverged group never changes the healthy group's numbers;
- a checkpoint state with step NaN or 1e300, or data that fails its checksum, makes the
  run start over with a warning, and the result equals an uninterrupted sweep;
- an output path of 250 characters works (Open MPI's lockedfile component is kept out);
- the "done" hint quotes the output path for the shell;
- SIGUSR1 in the first moments of a sweep stops it cleanly (exit 3), not by killing it;
- a failure that only rank 0 reports is printed even when the other ranks exit first.

usage: faults.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import math
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun, read_results, safetensors_read, SAME_COLUMNS, same_results, schema_metrics  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
MPI = mpirun(2)
METRICS = schema_metrics(BIN)
COLS = SAME_COLUMNS


def config(name, grid, seeds=(1, 2), epochs=4, **train):
    cfg = json.load(open(os.path.join(WORK, "tiny.json")))
    cfg["train"].update(epochs=epochs, checkpoint_every=7, **train)
    cfg["sweep"] = {"seeds": list(seeds), "grid": grid}
    p = os.path.join(WORK, name)
    json.dump(cfg, open(p, "w"), indent=1)
    return p


def sweep(cfg, out, np_=2, env=None):
    cmd = (MPI if np_ else []) + [BIN, "sweep", cfg, "--output", out, "--progress", "0"]
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=300)


def report(path):
    r = subprocess.run([BIN, "report", path, "--format", "json"], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr}



# ---- divergence (h5_nan_report.sh)
ok_cfg = config("ok.json", {"optimizer.eps": [1e-8]}, epochs=2)
nan_cfg = config("nan.json", {"optimizer.eps": [1e-8, 0.0]}, epochs=2)
ok_h5, nan_h5 = os.path.join(WORK, "ok.h5"), os.path.join(WORK, "nan.h5")
r1, r2 = sweep(ok_cfg, ok_h5, np_=0), sweep(nan_cfg, nan_h5, np_=0)
check(r1.returncode == 0 and r2.returncode == 0, f"sweeps with a diverging run exit 0: {r2.stderr[-400:]}")
check(r2.stderr.count("diverged at step") == 2, f"each diverged run says so: {r2.stderr!r}")
with h5py.File(nan_h5, "r") as f:
    st = [s.decode() for s in f["runs"]["status"]]
    steps = f["runs"]["steps_done"][:]
    loss = f["train/loss"][:]
check(st == ["done", "done", "diverged", "diverged"], f"statuses: {st}")
check(all(0 < steps[i] < 20 and not np.isfinite(loss[i, steps[i] - 1]) and np.isnan(loss[i, steps[i]:]).all()
          for i in (2, 3)), f"diverged runs stop at the first non-finite step: {steps}")
a, b = report(ok_h5), report(nan_h5)
ga = {g["group"]: g for g in a.get("groups", [])}
gb = {g["group"]: g for g in b.get("groups", [])}
healthy, bad = "optimizer.eps=1e-08", "optimizer.eps=0"
check(healthy in ga and healthy in gb and bad in gb, f"report groups: {list(gb)} {b.get('error', '')}")
if healthy in ga and healthy in gb and bad in gb:
    check(json.dumps(ga[healthy], sort_keys=True) == json.dumps(gb[healthy], sort_keys=True),
          f"a diverged group changed the healthy group's numbers: {ga[healthy]} vs {gb[healthy]}")
    check(gb[bad]["diverged"] == 2 and gb[bad]["failed"] == 2, f"diverged runs counted as failed: {gb[bad]}")
r = subprocess.run([BIN, "report", nan_h5], capture_output=True, text=True)
check("2 diverged" in r.stdout, f"the table says how many diverged: {r.stdout[:300]}")
# a resume leaves diverged runs as they are: they would diverge again, deterministically (l4)
r = sweep(nan_cfg, nan_h5, np_=0)
check(r.returncode == 0 and "4 runs were done already" in r.stdout and "diverged at step" not in r.stderr,
      f"a resume trains diverged runs again: {r.stdout[-300:]} {r.stderr[-300:]}")
cfg = json.load(open(nan_cfg))
cfg.pop("sweep")
cfg["optimizer"]["eps"] = 0.0
json.dump(cfg, open(os.path.join(WORK, "nan-train.json"), "w"))
t = subprocess.run([BIN, "train", os.path.join(WORK, "nan-train.json")], capture_output=True, text=True)
check(t.returncode == 1 and "diverged at step" in t.stderr, f"train reports divergence: {t.returncode} {t.stderr!r}")

# ---- checkpoint states that lie (m8_slotnan.sh), data that fails its checksum
base = config("base.json", {"optimizer.correct_bias": [True, False]})
ref_h5 = os.path.join(WORK, "ref.h5")
check(sweep(base, ref_h5).returncode == 0, "reference sweep")
ref = read_results(ref_h5, METRICS, COLS)
for name, field, value in (("step NaN", 1, np.nan), ("step 1e300", 1, 1e300), ("half 7", 3, 7.0),
                           ("run -0.5", 0, None), ("crc", 9, 1.0)):
    out = os.path.join(WORK, f"slot_{field}_{name.split()[-1]}.h5")
    sweep(base, out, env={"BERTSWEEP_FAULT": "kill:1:30"})
    with h5py.File(out, "r+") as f:
        for k in f["checkpoints"]:
            s = f[f"checkpoints/{k}/state"]
            v = s[:]
            if v[0] == 1:
                v[field] = value if value is not None else -0.5
                s[:] = v
    r = sweep(base, out)
    check(r.returncode == 0, f"slot {name}: resume failed ({r.returncode}): {r.stderr[-300:]}")
    if value is not None:
        check("does not verify" in r.stderr, f"slot {name}: no warning: {r.stderr[-300:]}")
    same_results(ref, read_results(out, METRICS, COLS), f"slot {name}")

# ---- a stop during an evaluation: abandoned, checkpointed with the evaluation pending, redone on resume
out = os.path.join(WORK, "stopeval.h5")
r = sweep(base, out, env={"BERTSWEEP_FAULT": "stopeval:3:35"})
check(r.returncode == 3, f"stop during an evaluation: exit {r.returncode}: {r.stderr[-300:]}")
with h5py.File(out, "r") as f:
    states = [f[f"checkpoints/{k}/state"][:] for k in f["checkpoints"]]
check(any(v[0] == 3 and v[1] == 35 and v[11] == 1 for v in states), f"checkpoint with the evaluation pending: {states}")
check(subprocess.run([BIN, "check", out], capture_output=True).returncode == 0, "stop during an evaluation: check")
r = sweep(base, out)
check(r.returncode == 0, f"resume after a stop during an evaluation: {r.stderr[-300:]}")
same_results(ref, read_results(out, METRICS, COLS), "stop during an evaluation")

# ---- a resume with another thread count says that bit-identity is gone
cfg0 = json.load(open(base))
cfg0["train"]["threads"] = 0
json.dump(cfg0, open(os.path.join(WORK, "threads0.json"), "w"))
out = os.path.join(WORK, "threads.h5")
sweep(os.path.join(WORK, "threads0.json"), out, np_=0, env={"BERTSWEEP_FAULT": "kill:1:30", "OMP_NUM_THREADS": "1"})
r = sweep(os.path.join(WORK, "threads0.json"), out, np_=0, env={"OMP_NUM_THREADS": "2"})
check(r.returncode == 0 and "checkpointed with 1 threads resumes with 2" in r.stderr, f"thread change: {r.stderr[-300:]}")

# ---- a long output path (m1_longpath.sh)
deep = os.path.join(WORK, "d" * 220)
os.makedirs(deep)
out = os.path.join(deep, "results.h5")
check(len(out) >= 234, "the path is long enough")
r = sweep(config("one.json", {}, seeds=[1], epochs=1), out)
check(r.returncode == 0 and "buffer overflow" not in r.stderr, f"long path: {r.returncode} {r.stderr[-300:]}")

# ---- the done hint quotes the path
odd = os.path.join(WORK, "it's here.h5")
r = sweep(os.path.join(WORK, "one.json"), odd, np_=0)
hint = [ln for ln in r.stdout.splitlines() if "h5py.File" in ln]
check(r.returncode == 0 and hint, f"done hint: {r.stdout}")
if hint:
    h = subprocess.run(["bash", "-c", hint[0].lstrip("# ")], capture_output=True, text=True)
    check(h.returncode == 0 and "done" in h.stdout, f"the hint runs as printed: {h.stderr[-300:]}")

# ---- SIGUSR1 in the first moments: as soon as the process catches it (main's first act), and a little later
def catches_usr1(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16) & (1 << (signal.SIGUSR1 - 1))
    except OSError:
        pass
    return 0


long_cfg = config("long.json", {"optimizer.correct_bias": [True, False]}, epochs=60)
for delay in (0.0, 0.2, 0.5):
    out = os.path.join(WORK, f"early_{delay}.h5")
    p = subprocess.Popen([BIN, "sweep", long_cfg, "--output", out, "--progress", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not catches_usr1(p.pid) and p.poll() is None and time.time() - t0 < 30:
        time.sleep(0.001)
    time.sleep(delay)
    p.send_signal(signal.SIGUSR1)
    so, se = p.communicate(timeout=120)
    check(p.returncode == 3, f"USR1 {delay} s after the handler: exit {p.returncode}, want 3: {se[-300:]}")

# ---- a grid value added to a finished sweep leaves the comparison of the old groups alone
grow_a = config("grow_a.json", {"optimizer.correct_bias": [True, False], "train.learning_rate": [3e-3]})
grow_b = config("grow_b.json", {"optimizer.correct_bias": [True, False], "train.learning_rate": [3e-3, 1e-2]})
gh5 = os.path.join(WORK, "grow.h5")
check(sweep(grow_a, gh5).returncode == 0, "grow: base sweep")
before = [c for c in report(gh5)["comparisons"] if c["key"] == "optimizer.correct_bias"]
check(sweep(grow_b, gh5).returncode == 0, "grow: grown sweep")
after = report(gh5)["comparisons"]
same_pair = [c for c in after if before and c["from"] == before[0]["from"] and c["to"] == before[0]["to"]]


def unadjusted(c):
    """A comparison without what Holm's adjustment moves when the file gains comparisons."""
    out = {k: v for k, v in c.items() if k not in ("power", "verdict")}
    out["outcomes"] = {k: {q: w for q, w in v.items() if q not in ("p_adjusted", "verdict")} for k, v in c["outcomes"].items()}
    return json.dumps(out, sort_keys=True)


check(len(before) == 1 and len(after) > 1 and same_pair and unadjusted(before[0]) == unadjusted(same_pair[0]),
      f"growing the grid changed the old comparison: {before} vs {same_pair}")

# ---- `bertsweep stop`: checkpoint, exit 5, resume later; OMP_NUM_THREADS is honoured and recorded
out = os.path.join(WORK, "userstop.h5")
p = subprocess.Popen(MPI + [BIN, "sweep", long_cfg, "--output", out, "--progress", "0"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
t0 = time.time()
while not os.path.exists(out + ".lock") and time.time() - t0 < 60:
    time.sleep(0.05)
time.sleep(0.5)
st = subprocess.run([BIN, "stop", out], capture_output=True, text=True)
so, se = p.communicate(timeout=120)
check(st.returncode == 0 and p.returncode == 5 and "bertsweep stop" in so, f"user stop: {st.stderr} exit {p.returncode} {se[-300:]}")
check(not os.path.exists(out + ".stop") and not os.path.exists(out + ".lock"), "user stop leaves no stop or lock file")
with h5py.File(out, "r") as f:
    check(set(f["runs"]["threads"][f["runs"]["status"] != b"pending"]) <= {1}, "OMP_NUM_THREADS=1 recorded")
r = sweep(long_cfg, out)
check(r.returncode == 0 and "resumed" in r.stdout, f"resume after a user stop: {r.stderr[-300:]}")
st = subprocess.run([BIN, "stop", out], capture_output=True, text=True)
check(st.returncode == 0 and "no sweep is writing it" in st.stdout and "nothing to stop" in st.stdout,
      f"stop without a sweep: {st.returncode} {st.stdout} {st.stderr}")

# ---- a string grid value of 300 bytes is stored and reported whole
longdir = os.path.join(WORK, "m" * 150, "n" * 150)
os.makedirs(os.path.dirname(longdir), exist_ok=True)
os.symlink(os.path.join(WORK, "model"), longdir)
rel = os.path.relpath(longdir, WORK)
lcfg = config("longvalue.json", {"model.path": ["model", rel]}, seeds=[1], epochs=1)
lh5 = os.path.join(WORK, "longvalue.h5")
r = sweep(lcfg, lh5, np_=0)
rep = report(lh5)
check(r.returncode == 0 and any(g["values"]["model.path"] == rel for g in rep.get("groups", [])),
      f"300-byte grid value: {r.stderr[-300:]} {str(rep)[:300]}")

# ---- plan works before the data and model are downloaded, when data.train_size fixes the steps
tnews = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "tnews-bias-correction.json")
r = subprocess.run([BIN, "plan", tnews], capture_output=True, text=True)
check(r.returncode == 0 and "40 runs" in r.stdout and "data.train_size" in r.stdout and "unknown" in r.stdout,
      f"plan without data: {r.returncode} {r.stdout[-400:]} {r.stderr}")

# ---- numeric options reject garbage
r = subprocess.run([BIN, "sweep", base, "--progress", "abc"], capture_output=True, text=True)
check(r.returncode == 2 and "--progress" in r.stderr, f"--progress abc: {r.returncode} {r.stderr!r}")

# ---- inspect (headers and indexes only) and tokenize
tfdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tf-chinese-bert-wwm-index")
r = subprocess.run([BIN, "inspect", tfdir], capture_output=True, text=True)
check(r.returncode == 0 and "bert/embeddings/word_embeddings" in r.stdout and "[21128, 768]" in r.stdout and
      "207 tensors" in r.stdout and "num_hidden_layers=12" in r.stdout, f"inspect TF: {r.stdout[-300:]} {r.stderr}")
r = subprocess.run([BIN, "inspect", os.path.join(WORK, "model")], capture_output=True, text=True)
hdr = safetensors_read(os.path.join(WORK, "model", "model.safetensors"))[0]
want = sum(math.prod(v["shape"]) for v in hdr.values())
check(r.returncode == 0 and f"{want} parameters" in r.stdout, f"inspect safetensors: want {want}: {r.stdout[-200:]}")
r = subprocess.run([BIN, "tokenize", os.path.join(WORK, "model"), "的一是", "不了"], capture_output=True, text=True)
rows = [ln.split() for ln in r.stdout.splitlines()[2:]]
check(r.returncode == 0 and [x[1] for x in rows] == ["[CLS]", "的", "一", "是", "[SEP]", "不", "了", "[SEP]"] and
      [x[3] for x in rows] == ["0"] * 5 + ["1"] * 3, f"tokenize: {r.stdout} {r.stderr}")

# ---- rank 0's message is printed even though rank 1 finishes first
bad = config("badmodel.json", {}, seeds=[1])
c = json.load(open(bad))
c["model"]["path"] = "no-such-model"
json.dump(c, open(bad, "w"))
for _ in range(5):
    r = sweep(bad, os.path.join(WORK, "badmodel.h5"))
    check(r.returncode == 1 and "no-such-model" in r.stderr, f"rank 0's error under mpirun: {r.stderr[-300:]}")
done()
