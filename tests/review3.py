#!/usr/bin/python3
"""The third review's findings (issue 43), each as a check that fails while the failure is
there (the reproducers of the review, rewritten against the tiny fixture):

- resume identity: a resume after the model's config.json, its weights or a grid section's
  entry changed is refused naming what changed, a finished run's stored config is never
  rewritten, a pending row takes the new config; the report never pools two configurations
  into one group and pairs each seed once (a damaged file with a seed twice);
- a long evaluation is no silence: two ranks, BERTSWEEP_SILENCE_LIMIT=4, evaluations of
  more than 20 s, exit 0 and no rank named silent;
- locks: a renamed binary still holds its lock; BERTSWEEP_LOCK_STALE is checked; a signal
  ends the wait for a stale lock; a lock of 200,000 writer lines reads in linear time; a
  sweep frozen past its lock's staleness and taken over leaves the new holder's file alone
  (root: a UTS namespace stands in for a second host);
- status on unknown statuses and impossible step counts, and every command's failed write
  to stdout; --html never names the results file or the config; check names a missing run
  coordinate; label_field equal to text_field is refused; the page's evaluation curves are
  binned to 200 points.

usage: review3.py BERTSWEEP FIXTURE_DIR WORKDIR
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
from testlib import check, done  # noqa: E402

BIN, FIX, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
shutil.rmtree(WORK, ignore_errors=True)
shutil.copytree(FIX, WORK)
os.chdir(WORK)
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", HDF5_USE_FILE_LOCKING="FALSE")
MODEL_CONFIG = json.load(open("model/config.json"))
MODEL_CONFIG_BYTES = open("model/config.json", "rb").read()


def config(name, sweep, **train):
    c = json.load(open("tiny.json"))
    c["train"].update(dict(epochs=2, eval_every=5, threads=1), **train)
    c["data"].update(train_size=64, dev_size=32)
    c["sweep"] = sweep
    json.dump(c, open(name, "w"))
    return name


def run(*args, env=None, timeout=300):
    return subprocess.run([BIN, *args], env=env or ENV, capture_output=True, text=True, timeout=timeout)


def rows(path):
    with h5py.File(path, "r") as f:
        r = f["runs"][:]
        return [(int(x["seed"]), x["status"].decode()) for x in r], list(f["runs"].attrs["run_configs"])


def model_config(**changes):
    json.dump(dict(MODEL_CONFIG, **changes), open("model/config.json", "w"))


# ---- resume identity (h1, h2, h6, m6) ----
config("grid.json", {"seeds": [1, 2], "grid": {"optimizer.correct_bias": [True, False]}})
r = run("sweep", "grid.json", "--output", "grid.h5", "--progress", "0")
check(r.returncode == 0, f"first sweep: {r.stderr[-300:]}")
before = rows("grid.h5")
stored = json.loads(before[1][0])
check("model_files" in stored and set(stored["model_files"]) >= {"config.json", "vocab.txt", "model.safetensors"},
      f"the run config records the model's files: {stored.get('model_files')}")
model_config(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
r = run("sweep", "grid.json", "--output", "grid.h5", "--progress", "0")
check(r.returncode == 1 and "train.dropout: 0.1 -> 0.3" in r.stderr and "config.json changed" in r.stderr,
      f"a resume after config.json changed is refused naming it: {r.returncode} {r.stderr[-400:]}")
check(rows("grid.h5") == before, "the refused resume left the file as it was")
model_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.3)  # dropouts differ: no train.dropout
r = run("sweep", "grid.json", "--output", "grid.h5", "--progress", "0")
check(r.returncode == 1 and "config.json changed" in r.stderr, f"differing dropouts: refused too: {r.stderr[-300:]}")
check(rows("grid.h5") == before, "no done run's stored config was rewritten")
model_config()  # the same values in other bytes: still another file
r = run("sweep", "grid.json", "--output", "grid.h5", "--progress", "0")
check(r.returncode == 1 and "config.json changed" in r.stderr, "config.json rewritten with equal values: a change too")
open("model/config.json", "wb").write(MODEL_CONFIG_BYTES)
r = run("sweep", "grid.json", "--output", "grid.h5", "--progress", "0")
check(r.returncode == 0 and "4 runs were done already" in r.stdout and rows("grid.h5") == before,
      f"with the model restored the resume is a no-op: {r.stdout[-300:]} {r.stderr[-200:]}")
weights = open("model/model.safetensors", "rb").read()
open("model/model.safetensors", "wb").write(weights[:-4] + bytes(b ^ 1 for b in weights[-4:]))
r = run("sweep", "grid.json", "--output", "grid.h5", "--progress", "0")
check(r.returncode == 1 and "model.safetensors changed" in r.stderr, f"replaced weights: refused: {r.stderr[-300:]}")
open("model/model.safetensors", "wb").write(weights)

sec = {"seeds": [1, 2], "grid": {"data": [{"name": "A", "train_size": 32}, {"name": "B", "train_size": 48}]}}
config("sec.json", sec)
r = run("sweep", "sec.json", "--output", "sec.h5", "--progress", "0")
check(r.returncode == 0, f"section sweep: {r.stderr[-300:]}")
sec["grid"]["data"][0]["train_size"] = 64
config("sec.json", sec)
r = run("sweep", "sec.json", "--output", "sec.h5", "--progress", "0", "--html", "auto")
check(r.returncode == 1 and "data.train_size: 32 -> 64" in r.stderr and len(rows("sec.h5")[0]) == 4,
      f"an edited grid section entry under its old name: refused, no row added: {r.returncode} {r.stderr[-300:]}")
# a pending row (never trained) takes the new config: a sweep with one more seed, stopped at once
sec["seeds"] = [1, 2, 3]
config("sec.json", sec)
r = run("sweep", "sec.json", "--output", "sec.h5", "--progress", "0")
check(r.returncode == 1 and "row 0" in r.stderr, "still refused while the trained rows differ")

# the report on a file from before the refusal: row 1 with another config, row 3 a seed twice
shutil.copy("grid.h5", "mixed.h5")
with h5py.File("mixed.h5", "r+") as f:
    cfgs = list(f["runs"].attrs["run_configs"])
    c = json.loads(cfgs[1])
    c["train"]["learning_rate"] = 0.5
    cfgs[1] = json.dumps(c)
    f["runs"].attrs["run_configs"] = cfgs
    runs = f["runs"][:]
    runs[3]["seed"] = runs[2]["seed"]
    f["runs"][...] = runs
r = run("report", "mixed.h5", "--format", "json")
check(r.returncode == 0, f"report of a mixed file: {r.returncode} {r.stderr[-300:]}")
rep = json.loads(r.stdout) if r.returncode == 0 else {}
groups = rep.get("groups") or (rep.get("files") or [{}])[0].get("groups", [])
keys = [g.get("group", "") for g in groups]
check(len(groups) == 3 and any("configuration 2" in k and "train.learning_rate" in k for k in keys),
      f"the run of another configuration is a group of its own: {keys}")
comps = rep.get("comparisons") or (rep.get("files") or [{}])[0].get("comparisons", [])
check(all(c.get("pairs", 0) <= 1 for c in comps), f"a seed twice is paired once: {[c.get('pairs') for c in comps]}")

# ---- a long evaluation is no silence ----
c = json.load(open("tiny.json"))
c["train"].update(epochs=1, eval_every=0, threads=1, eval_batch_size=2, checkpoint_every=0)
c["data"].update(train_size=16, dev_size=64)
c["sweep"] = {"seeds": [1, 2]}
json.dump(c, open("long_eval.json", "w"))
t = time.time()
r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", BIN, "sweep", "long_eval.json",
                    "--output", "long_eval.h5", "--progress", "0"],
                   env=dict(ENV, BERTSWEEP_SILENCE_LIMIT="4", BERTSWEEP_EVAL_DELAY="0.7"), capture_output=True,
                   text=True, timeout=300)
took = time.time() - t
check(r.returncode == 0 and "silent" not in r.stderr and "not answered" not in r.stderr,
      f"two ranks, silence limit 4 s, evaluations of 22 s: exit {r.returncode}: {r.stderr[-400:]}")
check(took > 20 and rows("long_eval.h5")[0] == [(1, "done"), (2, "done")] if r.returncode == 0 else False,
      f"both runs done after evaluations of 32 x 0.7 s ({took:.0f} s)")

# ---- locks ----
config("lock.json", {"seeds": [1, 2, 3, 4]}, checkpoint_every=4)
os.symlink(BIN, "bertsweep-0.2")
a = subprocess.Popen(["./bertsweep-0.2", "sweep", "lock.json", "--output", "lock.h5", "--progress", "0"],
                     env=dict(ENV, BERTSWEEP_STEP_DELAY="0.2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
for _ in range(200):
    if os.path.exists("lock.h5.lock") and os.path.exists("lock.h5"):
        break
    time.sleep(0.05)
time.sleep(1)
r = run("sweep", "lock.json", "--output", "lock.h5", "--progress", "0")
out, err = a.communicate(timeout=300)
check(r.returncode == 6 and "taking over" not in r.stderr, f"a sweep run as bertsweep-0.2 keeps its lock: {r.stderr[-300:]}")
check(a.returncode == 0 and [s for _, s in rows("lock.h5")[0]] == ["done"] * 4, f"the first sweep: {err[-300:]}")

for bad in ("inf", "abc", "1", "-5"):
    r = run("sweep", "lock.json", "--output", "bad.h5", env=dict(ENV, BERTSWEEP_LOCK_STALE=bad))
    check(r.returncode == 2 and "BERTSWEEP_LOCK_STALE" in r.stderr and not os.path.exists("bad.h5"),
          f"BERTSWEEP_LOCK_STALE={bad}: exit {r.returncode} {r.stderr[-200:]}")

old_lock = "host=elsewhere\npid=123\nslurm_job=\nstarted=2026-01-01T00:00:00Z\nwriter=elsewhere 123 1\n"
open("wait.h5.lock", "w").write(old_lock)
os.utime("wait.h5.lock", (time.time() - 100, time.time() - 100))
p = subprocess.Popen([BIN, "sweep", "lock.json", "--output", "wait.h5", "--progress", "0"], env=ENV,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.5)
p.send_signal(signal.SIGINT)
try:
    out, err = p.communicate(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
check(p.returncode == 3 and "waiting" in err and "stopped by a signal" in err,
      f"^C ends the wait for a stale lock: exit {p.returncode}: {err[-300:]}")
check(not os.path.exists("wait.h5"), "nothing was written")

with open("lock.h5.lock", "w") as f:
    f.write("host=elsewhere\npid=123\nslurm_job=\nstarted=x\n")
    f.write("".join(f"writer=h{i:07d} {i + 1000} 1\n" for i in range(200000)))
try:
    r = run("status", "lock.h5", timeout=60)
    check(r.returncode == 0 and "sweep: running (host elsewhere" in r.stdout and "..." in r.stdout,
          f"status with a 200,000-writer lock: {r.stdout[:300]}")
except subprocess.TimeoutExpired:
    check(False, "status with a 200,000-writer lock did not finish in 60 s (quadratic)")
os.unlink("lock.h5.lock")

if os.geteuid() == 0 and shutil.which("unshare"):
    lenv = dict(ENV, BERTSWEEP_LOCK_STALE="3")
    a = subprocess.Popen(["unshare", "-u", "sh", "-c", f"hostname hostA; exec {BIN} sweep lock.json --output took.h5 "
                          "--progress 0"], env=dict(lenv, BERTSWEEP_STEP_DELAY="0.25"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        if os.path.exists("took.h5.lock") and os.path.exists("took.h5"):
            break
        time.sleep(0.05)
    time.sleep(2)
    os.kill(a.pid, signal.SIGSTOP)
    time.sleep(2.5)
    b = subprocess.Popen([BIN, "sweep", "lock.json", "--output", "took.h5", "--progress", "0"],
                         env=dict(lenv, BERTSWEEP_STEP_DELAY="0.6"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    for _ in range(100):
        if os.path.exists("took.h5.lock") and open("took.h5.lock").read().startswith("host=" + os.uname().nodename):
            break
        time.sleep(0.2)
    time.sleep(1.5)
    os.kill(a.pid, signal.SIGCONT)
    aout, aerr = a.communicate(timeout=300)
    bout, berr = b.communicate(timeout=300)
    check("taking over" in berr and "fenced" in berr and b.returncode == 0, f"B took over: {b.returncode} {berr[-300:]}")
    check(a.returncode == 6 and "another sweep took the file over" in aerr, f"A, woken: {a.returncode} {aerr[-300:]}")
    check([s for _, s in rows("took.h5")[0]] == ["done"] * 4, f"the file B leaves: {rows('took.h5')[0]}")
else:
    print("skipped: a frozen sweep taken over from another host (needs root for a UTS namespace)")

# ---- status, stdout, --html, check, label_field, the page ----
config("small.json", {"seeds": [1, 2]})
r = run("sweep", "small.json", "--output", "small.h5", "--progress", "0")
check(r.returncode == 0, f"small sweep: {r.stderr[-200:]}")
for args in (["report", "small.h5"], ["report", "small.h5", "--format", "json"], ["report", "small.h5", "--format", "csv"],
             ["status", "small.h5"], ["schema"]):
    with open("/dev/full", "w") as full:
        rc = subprocess.run([BIN, *args], env=ENV, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    check(rc.returncode == 1 and "writing the standard output failed" in rc.stderr,
          f"{' '.join(args)} > /dev/full: exit {rc.returncode} {rc.stderr[-200:]}")

shutil.copy("small.h5", "odd.h5")
with h5py.File("odd.h5", "r+") as f:
    runs = f["runs"][:]
    runs[0]["status"] = b"evaluating"
    runs[1]["total_steps"] = 2 ** 62
    runs[1]["status"] = b"running"
    f["runs"][...] = runs
r = run("status", "odd.h5")
check(r.returncode == 0 and "1 of unknown status" in r.stdout and "1 with impossible step counts" in r.stdout,
      f"status on an unknown status and damaged steps: {r.returncode} {r.stdout[:400]} {r.stderr[-300:]}")

size = os.path.getsize("small.h5")
for target in ("small.h5", "small.h5.lock", "small.json", "train.jsonl"):
    r = run("sweep", "small.json", "--output", "small.h5", "--progress", "0", "--html", target)
    check(r.returncode == 2 and "--html" in r.stderr, f"--html {target}: refused: {r.returncode} {r.stderr[-200:]}")
check(os.path.getsize("small.h5") == size and open("small.json").read().startswith("{"), "and nothing replaced")

shutil.copy("small.h5", "nocoord.h5")
with h5py.File("nocoord.h5", "r+") as f:
    del f["train/seed"]
r = run("check", "nocoord.h5")
check(r.returncode == 1 and "/train/seed is missing" in r.stdout, f"check: a missing coordinate: {r.stdout[-300:]}")

c = json.load(open("tiny.json"))
c["data"].update(label_field="sentence")
json.dump(c, open("leak.json", "w"))
r = run("train", "leak.json")
check(r.returncode == 1 and '"data.label_field" is "sentence", the same field as "data.text_field"' in r.stderr,
      f"label_field = text_field: {r.returncode} {r.stderr[-200:]}")

c = json.load(open("tiny.json"))
c["train"].update(max_steps=600, eval_every=1, checkpoint_every=0, threads=1)
c["data"].update(dev_size=8)
c["sweep"] = {"seeds": [1]}
json.dump(c, open("evals.json", "w"))
r = run("sweep", "evals.json", "--output", "evals.h5", "--progress", "0")
check(r.returncode == 0, f"600-evaluation sweep: {r.stderr[-200:]}")
r = run("report", "evals.h5", "--format", "html")
page = r.stdout
start = page.find('<script id="data" type="application/json">')
data = json.loads(page[page.index(">", start) + 1:page.index("</script>", start)].replace("\\u003c", "<"))
one = data["files"][0]["runs"][0]
with h5py.File("evals.h5", "r") as f:
    acc = f["eval/accuracy"][0]
    steps = f["eval/step"][0]
curve = one["curves"]["eval/accuracy"]
check(len(curve) <= 200 and len(curve) == len(one["eval_step"]), f"the page's accuracy curve: {len(curve)} points (<= 200)")
every = data["files"][0].get("evals_every", 0)
check(every == 3 and abs(curve[0] - float(acc[:3].mean())) < 1e-6 and one["eval_step"][0] == float(steps[:3].mean()),
      f"binned by {every}: first bin {curve[0]} at {one['eval_step'][0]} (file: {acc[:3]} at {steps[:3]})")
done()
