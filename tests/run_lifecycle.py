#!/usr/bin/python3
"""One run lifecycle for `train` and `sweep` (jobs/run.c):

- a sweep whose grid holds runs that cannot open (reinit.top_layers beyond the model's layers,
  a model.path that does not exist) records them "failed" with their reason in /runs "error",
  finishes the others, exits 1 with a last line that names how many failed and why; `report`
  counts them as failed and prints the reasons; `check` agrees;
- a stop by `bertsweep stop` (exit 5) and by USR1 to mpirun (exit 3), and SIGTERM to a plain
  process (exit 3), read as stops: no line matching error|failed|MPI_ABORT on stdout or
  stderr, the runs that were running read "stopped", the last line says how many runs were
  checkpointed at which steps and how to resume; the resume then finishes;
- `train --save` writes a complete model directory: reloaded, it tokenizes as the original
  and evaluates to the same dev accuracy;
- `train --metrics` has one column per metric of `bertsweep schema --format json`.

usage: run_lifecycle.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MPI = mpirun(2)
NOISE = re.compile(r"error|failed|MPI_ABORT", re.I)


def config(name, sweep, epochs=2, **train):
    cfg = json.load(open(os.path.join(WORK, "tiny.json")))
    cfg["train"].update(epochs=epochs, **train)
    cfg["sweep"] = sweep
    p = os.path.join(WORK, name)
    json.dump(cfg, open(p, "w"), indent=1)
    return p


def runs_of(path):
    with h5py.File(path, "r") as f:
        r = f["runs"][:]
    return [s.decode() for s in r["status"]], [s.decode() for s in r["error"]], r


# ---- runs that cannot open: failed, with their reason; the rest finish
cfg = config("fail.json", {"seeds": [1, 2], "grid": {"reinit.top_layers": [0, 1000]}})
out = os.path.join(WORK, "fail.h5")
r = subprocess.run(MPI + [BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True,
                   timeout=300)
ours = [line for line in r.stderr.split("\n") if line.startswith("bertsweep:")]  # mpirun adds its own lines after
last = ours[-1] if ours else ""
check(r.returncode == 1 and "2 runs failed" in last and "exceeds the model's 2 layers" in last,
      f"failed runs: exit {r.returncode}, last line {last!r}")
st, err, rows = runs_of(out)
check(st == ["done", "done", "failed", "failed"] and all("reinit.top_layers 1000 exceeds the model's 2 layers" in e
                                                         for e in err[2:]) and err[:2] == ["", ""],
      f"statuses {st}, errors {err}")
check(all(rows["steps_done"][2:] == 0), "a run that never opened did no steps")
rep = json.loads(subprocess.run([BIN, "report", out, "--format", "json"], capture_output=True, text=True).stdout)
g = {x["values"]["reinit.top_layers"]: x for x in rep["groups"]}
check(g[1000]["failed"] == 2 and g[1000]["could_not_run"] == 2 and g[1000]["runs"] == 0 and
      "exceeds" in g[1000]["could_not_run_reasons"][0]["error"], f"report: {g[1000]}")
text = subprocess.run([BIN, "report", out], capture_output=True, text=True).stdout
check("could not run" in text and "exceeds the model's 2 layers" in text, f"report text: {text[:600]}")
c = subprocess.run([BIN, "check", out], capture_output=True, text=True)
check(c.returncode == 0 and "2 failed" in c.stdout and "2 done" in c.stdout, f"check: {c.returncode} {c.stdout} {c.stderr}")
# a resume tries failed runs again (their model or data may have been fixed), and leaves done ones
r = subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True, timeout=300)
check(r.returncode == 1 and "2 runs were done already" in r.stdout and "2 runs failed" in r.stderr,
      f"resume of failed runs: {r.stdout[-300:]}")

cfg = config("nomodel.json", {"seeds": [1], "grid": {"model.path": ["model", "nosuch"]}})
out = os.path.join(WORK, "nomodel.h5")
r = subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True, timeout=300)
st, err, _ = runs_of(out)
check(r.returncode == 1 and st == ["done", "failed"] and "nosuch" in err[1] and "1 run failed, run 1" in r.stderr,
      f"missing model.path: {r.returncode} {st} {err} {r.stderr[-300:]}")


# ---- stops read as stops
def stopped_sweep(name, how, ranks=2):
    cfg = config(name + ".json", {"seeds": [1, 2, 3]}, epochs=400, checkpoint_every=20)
    out = os.path.join(WORK, name + ".h5")
    cmd = (MPI if ranks == 2 else []) + [BIN, "sweep", cfg, "--output", out, "--progress", "1"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    t = time.time()
    while (not os.path.exists(out + ".lock") or time.time() - t < 3) and time.time() - t < 60:
        time.sleep(0.05)
    if how == "stop":
        s = subprocess.run([BIN, "stop", out], capture_output=True, text=True)
        check(s.returncode == 0, f"bertsweep stop: {s.stderr}")
    else:
        p.send_signal(how)
    so, se = p.communicate(timeout=120)
    return cfg, out, p.returncode, so, se


for name, how, ranks, code in (("userstop", "stop", 2, 5), ("usr1", signal.SIGUSR1, 2, 3),
                               ("term1", signal.SIGTERM, 1, 3)):
    cfg, out, rc, so, se = stopped_sweep(name, how, ranks)
    noisy = [line for line in (so + se).split("\n") if NOISE.search(line)]
    check(rc == code and not noisy, f"{name}: exit {rc} (want {code}); lines that read as failure: {noisy[:5]}")
    lastline = so.strip().split("\n")[-1]
    check(re.search(r"stopped .*: \d+ runs? checkpointed: run \d+ at step \d+", lastline) and
          "run the same command to resume" in lastline, f"{name}: last line {lastline!r}")
    check(re.search(r"\d+ stopped\)", so) is not None, f"{name}: progress does not count stopped runs: {so[-400:]}")
    st, _, rows = runs_of(out)
    check("stopped" in st and "running" not in st and "failed" not in st, f"{name}: statuses {st}")
    for i, s_ in enumerate(st):
        if s_ == "stopped":
            with h5py.File(out, "r") as f:
                states = [f[f"checkpoints/{k}/state"][:] for k in f["checkpoints"]]
            check(any(int(x[0]) == i and int(x[1]) == rows["steps_done"][i] for x in states),
                  f"{name}: run {i} reads stopped at step {rows['steps_done'][i]} without that checkpoint")
    r = subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True,
                       timeout=600)
    st, _, _ = runs_of(out)
    check(r.returncode == 0 and st == ["done"] * 3, f"{name}: resume: {r.returncode} {st} {r.stderr[-300:]}")

# ---- `bertsweep stop` racing the end of a sweep: either the sweep stops (exit 5, checkpointed) or
#      it ends as done (exit 0) and leaves no FILE.stop behind for the next run to trip over
cfg = config("race.json", {"seeds": [1]}, epochs=6)
t_run = time.time()
out = os.path.join(WORK, "race0.h5")
subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, timeout=300)
length = time.time() - t_run
for k in range(8):
    out = os.path.join(WORK, f"race{k + 1}.h5")
    p = subprocess.Popen([BIN, "sweep", cfg, "--output", out, "--progress", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(length * (0.6 + 0.06 * k))
    subprocess.run([BIN, "stop", out], capture_output=True, text=True)
    so, se = p.communicate(timeout=300)
    check((p.returncode == 5) or (p.returncode == 0 and not os.path.exists(out + ".stop")),
          f"stop racing the end ({k}): exit {p.returncode}, stop file left: {os.path.exists(out + '.stop')}")

# ---- checkpoint_every 0 means "only on a stop": the stop does checkpoint (m7)
cfg = config("ck0.json", {"seeds": [1, 2]}, epochs=60, checkpoint_every=0)
out = os.path.join(WORK, "ck0.h5")
r = subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True, timeout=300,
                   env=dict(os.environ, BERTSWEEP_FAULT="term:0:150"))
st, _, _ = runs_of(out)
check(r.returncode == 3 and "1 run checkpointed: run 0 at step 150" in r.stdout and st[0] == "stopped",
      f"checkpoint_every 0, stopped: {r.returncode} {r.stdout[-300:]} {st}")
r = subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True, timeout=300)
check(r.returncode == 0 and "1 continued from checkpoints" in r.stdout, f"checkpoint_every 0, resumed: {r.stdout[-300:]}")

# ---- a resume under another BLAS kernel is warned about and recorded (m1)
cfg = config("kernel.json", {"seeds": [1]}, epochs=60, checkpoint_every=7)
out = os.path.join(WORK, "kernel.h5")
subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True, timeout=300,
               env=dict(os.environ, OPENBLAS_CORETYPE="Haswell", BERTSWEEP_FAULT="kill:0:100"))
r = subprocess.run([BIN, "sweep", cfg, "--output", out, "--progress", "0"], capture_output=True, text=True, timeout=300,
                   env=dict(os.environ, OPENBLAS_CORETYPE="Prescott"))
_, _, rows = runs_of(out)
blas = rows["blas"][0].decode()
check(r.returncode == 0 and "checkpointed under OpenBLAS" in r.stderr and "Haswell, then" in blas and "Prescott" in blas,
      f"kernel change on resume: {r.returncode} {blas!r} {r.stderr[-400:]}")

# ---- an output that is a symbolic link (to scratch) is followed, and kept (m8)
scratch = os.path.join(WORK, "scratch")
os.makedirs(scratch)
link = os.path.join(WORK, "linked.h5")
os.symlink(os.path.join(scratch, "x.h5"), link)
cfg = config("link.json", {"seeds": [1, 2]})
r = subprocess.run([BIN, "sweep", cfg, "--output", link, "--progress", "0"], capture_output=True, text=True, timeout=300)
check(r.returncode == 0 and os.path.islink(link) and os.path.getsize(os.path.join(scratch, "x.h5")) > 0 and
      "following the symbolic link" in r.stdout, f"symlinked output: {r.returncode} {r.stdout[:300]} {r.stderr[-300:]}")
c = subprocess.run([BIN, "check", link], capture_output=True, text=True)
check(c.returncode == 0 and "2 done" in c.stdout, f"check through the link: {c.stdout} {c.stderr}")
check(not os.path.exists(link + ".lock") and not os.path.exists(os.path.join(scratch, "x.h5.lock")), "a lock left behind")

# ---- train --save: a complete model directory (the demo model reads words: tokenizer_config.json matters)
demo = json.load(open(os.path.join(ROOT, "configs", "demo.json")))
demo["model"]["path"] = os.path.join(ROOT, "models", "zh-apps-tiny")
for k in ("train", "dev", "labels"):
    demo["data"][k] = os.path.join(ROOT, "data", "demo", os.path.basename(demo["data"][k]))
demo["data"].update(train_size=200, dev_size=150)
demo["train"].update(max_steps=40, eval_every=40, threads=1)
demo.pop("sweep")
demo.pop("output")
p = os.path.join(WORK, "demo_train.json")
json.dump(demo, open(p, "w"))
saved = os.path.join(WORK, "saved")
tsv = os.path.join(WORK, "demo.tsv")
r = subprocess.run([BIN, "train", p, "--save", saved, "--metrics", tsv], capture_output=True, text=True, timeout=300)
acc = re.findall(r"acc=([0-9.]+)", r.stdout)
check(r.returncode == 0 and acc and os.path.exists(os.path.join(saved, "tokenizer_config.json")),
      f"train --save: {r.returncode} {r.stderr[-300:]} {os.listdir(saved) if os.path.isdir(saved) else None}")
text = "文件可能无效或已被破坏，请检查网络连接"
a = subprocess.run([BIN, "tokenize", demo["model"]["path"], text], capture_output=True, text=True).stdout
b = subprocess.run([BIN, "tokenize", saved, text], capture_output=True, text=True).stdout
check(a and a.split("\n")[1:] == b.split("\n")[1:], f"tokens differ after --save:\n{a}\n{b}")
demo["model"]["path"] = saved
demo["train"].update(max_steps=1, eval_every=1, learning_rate=1e-30, warmup_ratio=0.0)
p2 = os.path.join(WORK, "reload.json")
json.dump(demo, open(p2, "w"))
r = subprocess.run([BIN, "train", p2], capture_output=True, text=True, timeout=300)
acc2 = re.findall(r"acc=([0-9.]+)", r.stdout)
check(r.returncode == 0 and acc and acc2 and acc2[0] == acc[-1], f"reloaded model: acc {acc2} vs {acc[-1:]}: {r.stderr[-300:]}")

# ---- the TSV's columns are the schema's metrics
schema = json.loads(subprocess.run([BIN, "schema", "--format", "json"], capture_output=True, text=True).stdout)
metrics = [d for d in schema["datasets"] if d["role"] == "metric"]
head = open(tsv).readline().strip().split("\t")
check(head[0] == "step" and len(head) == len(metrics) and all(d["column"] in head for d in metrics),
      f"TSV header {head} vs schema metrics {[d['path'] for d in metrics]}")
done()
