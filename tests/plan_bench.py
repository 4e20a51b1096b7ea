#!/usr/bin/python3
"""`bertsweep bench` stores a calibration keyed by CPU, kernel, threads, model shape, batch,
sequence length and data; `bertsweep plan` turns it into time: training = steps x step time,
evaluation = evaluations x evaluation time, wall = max(sum / ranks, longest run), node-hours =
wall x nodes. Without a calibration plan times 5 steps and one evaluation of each run shape
itself (and stores them) when the model and data are there; a damaged calibration file is
named. plan works without the data when data.train_size is given (no estimate then).
`plan --layout` measures every split of the node's physical cores into ranks x threads (all
ranks of a split stepping at once), prints each split's steps per second, recommends the
fastest with no more ranks than runs, does not start splits whose ranks would not fit in the
memory a cgroup allows, and leaves no probe process behind.

usage: plan_bench.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import re
import subprocess
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
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
check(r.returncode == 0 and "no calibration matches yet: timing 5 steps" in r.stdout and "calibrated on" in r.stdout
      and "5 step(s) timed" in r.stdout and "checkpoint space on 2 rank(s)" in r.stdout,
      f"plan without calibration: {r.stdout[-400:]} {r.stderr[-200:]}")
check(os.path.exists(cal) and [v["steps_timed"] for v in json.load(open(cal)).values()] == [5],
      "plan's own timing was not stored")
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
D = r"([0-9.]+ (?:s|min|h))"


def seconds(d):
    x, unit = d.split()
    return float(x) * {"s": 1, "min": 60, "h": 3600}[unit]


def near(printed, want):  # printed with 2-3 significant digits
    return abs(seconds(printed) - want) <= 0.5 + 0.05 * want


m = re.search(rf"training {D} \+ evaluation {D} = {D}", r.stdout)
w = re.search(rf"about {D} of wall time \(longest run {D}\), ([0-9.]+) node-hours on (\d+) node", r.stdout)
check(m and near(m.group(1), train) and near(m.group(2), ev), f"training/evaluation: {m and m.groups()} vs {train}, {ev} s")
check(w and near(w.group(1), wall) and near(w.group(2), longest) and abs(float(w.group(3)) - wall / 3600 * 2) < 0.0051
      and w.group(4) == "2", f"wall/node-hours: {w and w.groups()} vs {wall} s, {wall / 3600 * 2:.3f} node-hours")
r = run("plan", path, "--threads", "2")
check("no calibration matches yet" in r.stdout and "2 thread(s) per rank" in r.stdout,
      f"other thread count: {r.stdout[-300:]}")
r = run("plan", path, "--ranks", "0")
check(r.returncode == 2 and "--ranks" in r.stderr, f"--ranks 0: {r.stderr}")

# without the data: steps from data.train_size, time still estimated
nodata = dict(cfg, data=dict(cfg["data"], train="not-downloaded-yet/train.jsonl"))  # the key uses file names
p2 = os.path.join(WORK, "nodata.json")
json.dump(nodata, open(p2, "w"))
r = run("plan", p2)
check(r.returncode == 0 and "training set was not found" in r.stdout and "calibrated on" in r.stdout,
      f"plan without data: {r.stdout[-300:]} {r.stderr[-200:]}")

# --layout: one row per divisor of the core count, ranks x threads = cores, the recommendation
# is the printed argmax among splits with no more ranks than runs
def layout(config):
    r = run("plan", config, "--layout")
    m = re.search(r"# layout: (\d+) physical cores", r.stdout)
    cores = int(m.group(1)) if m else 0
    rows = [(int(a), int(b), float(c), "more ranks than runs" in ln) for ln in r.stdout.splitlines()
            for a, b, c in re.findall(r"^(\d+)\s+(\d+)\s+[\d.]+\s+([\d.]+)", ln)]
    rec = re.search(r"recommended: (\d+) rank\(s\) per node x (\d+) thread", r.stdout)
    return r, cores, rows, (int(rec.group(1)), int(rec.group(2))) if rec else None


r, cores, rows, rec = layout(path)
divisors = [t for t in range(1, cores + 1) if cores and cores % t == 0]
check(r.returncode == 0 and cores >= 1 and len(rows) == len(divisors) and all(k * t == cores for k, t, _, _ in rows),
      f"layout rows for {cores} cores: {rows} {r.stdout[-400:]} {r.stderr[-300:]}")
fit = [x for x in rows if not x[3] and x[0] <= 6]
if fit and rec:
    best = max(fit, key=lambda x: x[2])
    check(rec == (best[0], best[1]), f"recommended {rec}, the fastest printed split is {best[:2]}")
else:
    check(False, f"no recommendation: {r.stdout[-300:]}")
one = dict(cfg, sweep={"seeds": [1]})
p1 = os.path.join(WORK, "one.json")
json.dump(one, open(p1, "w"))
r, cores, rows, rec = layout(p1)
check(r.returncode == 0 and rec == (1, cores) and all(x[3] == (x[0] > 1) for x in rows),
      f"a one-run sweep: recommended {rec}, rows {rows}")

# memory: with a cgroup limit that fits one rank (1.65 x its peak) the splits of more ranks
# are not started, and the recommendation is one rank of every core (root and a memory
# cgroup, v1 or v2, needed: else this part is skipped, saying so)
def memory_cgroup():
    for line in open("/proc/self/cgroup").read().splitlines():
        num, ctrl, path = line.split(":", 2)
        if ctrl == "memory" and os.path.isdir(f"/sys/fs/cgroup/memory{path}"):
            return f"/sys/fs/cgroup/memory{path}", "memory.limit_in_bytes"
        if num == "0" and os.path.exists(f"/sys/fs/cgroup{path}/memory.max"):
            return f"/sys/fs/cgroup{path}", "memory.max"
    return None, None


r, cores, rows, rec = layout(path)
m = re.search(r"^1\s+\d+\s+[\d.]+\s+[\d.]+\s+([\d.]+) (kB|MB|GB)", r.stdout, re.M)
base, limit_file = memory_cgroup()
if os.geteuid() == 0 and base and m and cores > 1:
    peak = float(m.group(1)) * {"kB": 1e3, "MB": 1e6, "GB": 1e9}[m.group(2)]
    # the limit on the parent, the process in a child without one: as Slurm's job and task cgroups
    cg = os.path.join(base, f"bs-plan-test-{os.getpid()}")
    task = os.path.join(cg, "task_0")
    try:
        os.mkdir(cg)
        open(os.path.join(cg, limit_file), "w").write(str(int(1.65 * peak)))
        os.mkdir(task)
        r = subprocess.run(["sh", "-c", f'echo $$ > {task}/cgroup.procs && exec "$@"', "sh", BIN, "plan", path, "--layout"],
                           capture_output=True, text=True, env=env)
        skipped = re.findall(r"^(\d+)\s+\d+\s+-\s+-\s+-\s+\(not run: needs about", r.stdout, re.M)
        rec = re.search(r"recommended: (\d+) rank\(s\) per node x (\d+) thread", r.stdout)
        check(r.returncode == 0 and sorted(map(int, skipped)) == [k for k in sorted(cores // t for t in divisors) if k > 1]
              and rec and rec.groups() == ("1", str(cores)),
              f"a memory limit of 1.65 x one rank's peak: skipped {skipped}, {r.stdout[-500:]} {r.stderr[-300:]}")
    finally:
        time.sleep(0.3)  # the probes leave the cgroup as they are reaped
        os.rmdir(task)
        os.rmdir(cg)
elif os.environ.get("CI") == "true" and cores > 1:
    check(False, f"CI=true: the memory-limit check should run here: root {os.geteuid() == 0}, memory cgroup {base}")
else:
    print(f"SKIP the memory-limit check: root {os.geteuid() == 0}, memory cgroup {base}, cores {cores}")

left = subprocess.run(["pgrep", "-f", "bench .*--probe"], capture_output=True, text=True).stdout.split()
check(not left, f"probe processes left behind: {left}")

open(cal, "w").write("{ not json")
r = run("plan", path)
check(r.returncode == 0 and "not estimated" in r.stdout and cal in r.stdout, f"damaged calibration: {r.stdout[-300:]}")
r = run("bench", path, "--steps", "2")
check(r.returncode != 0 and cal in r.stderr and "step_s" not in r.stdout and "step " not in r.stdout,
      f"bench over a damaged calibration (refused before timing anything): {r.stdout[-300:]} {r.stderr[-300:]}")
done()
