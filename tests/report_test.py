#!/usr/bin/python3
"""`bertsweep report` on synthetic results files with known answers: a group made to converge
faster comes out faster with p < 0.05; groups drawn from one distribution do not; failed runs
(final accuracy <= majority baseline) are counted exactly; unfinished runs are counted and
left out of the statistics; a group stuck at chance is never "faster" (targets are common to
the two groups, runs that never reach them are censored); a third group in the file does not
change the comparison of the other two; several files make one report.

usage: report_test.py BERTSWEEP WORKDIR
"""
import json
import os
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done  # noqa: E402
import numpy as np

BIN, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)


def write(path, groups, seeds, steps=200, every=10, rng=None, flat=(), values=None):
    """groups: list of (grid value, tau, final_accs, unfinished_seeds); flat: values whose runs
    never learn (loss stays at its start); values: the column as strings instead of booleans."""
    runs, loss, acc, est = [], [], [], []
    evals = steps // every
    for value, tau, finals, unfinished in groups:
        for k, s in enumerate(seeds):
            t = np.arange(1, steps + 1)
            l = 0.3 + 1.5 * np.exp(-t / tau) + 0.05 * rng.standard_normal(steps)
            if value in flat:
                l = 1.8 + 0.05 * rng.standard_normal(steps)
            a = finals[k] * (1 - np.exp(-np.arange(1, evals + 1) * every / tau))
            st = np.arange(1, evals + 1) * every
            done = s not in unfinished
            if not done:
                l[steps // 2:] = np.nan
                a[evals // 2:] = np.nan
                st[evals // 2:] = -1
            runs.append((len(runs), s, value, b"done" if done else b"running", steps if done else steps // 2, steps,
                         a[:evals // 2].max() if not done else a.max(), a[-1], 0.2))
            loss.append(l)
            acc.append(a)
            est.append(st)
    if values:
        runs = [(r[0], r[1], values[[g[0] for g in groups].index(r[2])]) + r[3:] for r in runs]
    dt = np.dtype([("run_id", "<i4"), ("seed", "<i4"), ("optimizer.correct_bias", "S8" if values else "?"), ("status", "S8"),
                   ("steps_done", "<i8"), ("total_steps", "<i8"), ("best_dev_accuracy", "<f8"),
                   ("final_dev_accuracy", "<f8"), ("majority_baseline", "<f8")])
    with h5py.File(path, "w") as f:
        f["runs"] = np.array(runs, dtype=dt)
        f["train/loss"] = np.array(loss, dtype="<f4")
        f["eval/accuracy"] = np.array(acc, dtype="<f4")
        f["eval/step"] = np.array(est, dtype="<i8")


def report(path, *args):
    r = subprocess.run([BIN, "report", path, "--format", "json", *args], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"report {path}: {r.stderr}")
    return json.loads(r.stdout)


rng = np.random.default_rng(2024)
seeds = list(range(1, 13))
fast_final = [0.8] * 12
slow_final = [0.8] * 12
slow_final[2] = slow_final[5] = slow_final[9] = 0.15  # three failed runs (<= 0.2 majority)
fast_final[4] = 0.2                                  # exactly at the baseline: failed too
p1 = os.path.join(WORK, "faster.h5")
write(p1, [(True, 60.0, slow_final, {7}), (False, 20.0, fast_final, set())], seeds, rng=rng)
j = report(p1)
g = {x["values"]["optimizer.correct_bias"]: x for x in j["groups"]}
check(g[True]["failed"] == 3 and g[False]["failed"] == 1, f"failed counts {g[True]['failed']}, {g[False]['failed']}")
check(g[True]["runs"] == 11 and g[True]["unfinished"] == 1, f"unfinished run counted: {g[True]}")
check(g[False]["runs"] == 12 and g[False]["unfinished"] == 0, "group false runs")
c = j["comparisons"][0]
check(c["pairs"] == 11, f"pairs {c['pairs']} (the unfinished seed has no pair)")
s = c["outcomes"]["steps_to_loss_target"]
check(s["estimate"] < 0 and s["p"] < 0.05 and s["p_adjusted"] < 0.05 and s["ci95"][1] < 0,
      f"faster group not found faster: {s}")
check(c["outcomes"]["train_loss_auc"]["estimate"] < 0 and c["outcomes"]["train_loss_auc"]["p"] < 0.05, "AUC not lower")
check("optimizer.correct_bias=false fits the training set faster" in c["verdict"], f"verdict: {c['verdict']}")

p2 = os.path.join(WORK, "same.h5")
write(p2, [(True, 40.0, [0.8] * 12, set()), (False, 40.0, [0.8] * 12, set())], seeds, rng=rng)
j = report(p2)
c = j["comparisons"][0]
for m in ("steps_to_loss_target", "train_loss_auc", "loss_noise_at_equal_loss"):
    o = c["outcomes"][m]
    check(o["p"] > 0.05 and o["verdict"] in ("no_clear_difference", "exploratory"), f"same distribution but {m} p = {o['p']}")
    check(o["ci95"][0] <= 0 <= o["ci95"][1], f"same distribution but {m} CI {o['ci95']} excludes 0 ({o['estimate']})")

# steadiness is noise about the trend: a group whose loss still falls steeply over the last 20%
# of steps (a ramp of -0.5 added there) with the same noise (0.05) as one that has flattened is
# not less steady, though the raw std of its late loss is three times as high
desc = os.path.join(WORK, "descending.h5")
write(desc, [(True, 5.0, [0.8] * 12, set()), (False, 5.0, [0.8] * 12, set())], seeds, rng=np.random.default_rng(11))
with h5py.File(desc, "r+") as f:
    loss = f["train/loss"][:]
    loss[12:, 160:] += np.linspace(0.0, -0.5, 40, dtype=np.float32)
    f["train/loss"][...] = loss
    raw = loss[:, 160:].std(axis=1, ddof=1)
check(raw[12:].mean() > 2 * raw[:12].mean(), f"the test's premise: raw late std {raw[12:].mean()} vs {raw[:12].mean()}")
cmp = report(desc)["comparisons"][0]
c = cmp["outcomes"]["loss_noise_at_equal_loss"]
check(c["verdict"] in ("no_clear_difference", "withheld", "exploratory") and "is less steady" not in cmp["verdict"],
      f"a descending loss counted as unsteady: {c} {cmp['verdict'][-300:]}")

# a group stuck at chance (accuracy 0.2 = majority, loss flat) against one that learns slowly:
# the stuck group reaches its own 90% in no time, but never the common target
stuck = os.path.join(WORK, "stuck.h5")
write(stuck, [(True, 80.0, [0.8] * 12, set()), (False, 5.0, [0.2] * 12, set())], seeds, rng=rng, flat={False})
j = report(stuck)
c = j["comparisons"][0]
acc = c["kaplan_meier"]["steps_to_acc_target"]
check(acc["never_reached"] == [0, 12] and c["outcomes"]["steps_to_acc_target"]["ci95_infinite"] == [1, 1],
      f"stuck group reaches the target: {acc} {c['outcomes']['steps_to_acc_target']}")
check("optimizer.correct_bias=false is faster" not in c["verdict"] and "optimizer.correct_bias=false is slower" in c["verdict"],
      f"the stuck group is reported faster: {c['verdict']}")
check(c["outcomes"]["steps_to_loss_target"]["verdict"] == "second_higher", f"stuck loss 'faster': {c['outcomes']['steps_to_loss_target']}")
g = {x["values"]["optimizer.correct_bias"]: x for x in j["groups"]}
check(g[False]["failed"] == 12, "stuck runs all failed")
# a flat, stuck run is not a steady one: steadiness counts runs that learned only
check("is steadier" not in c["verdict"] and "Steadiness not compared" in c["verdict"] and c["learned_pairs"] == 0,
      f"stuck runs reported steadier: {c['verdict']}")
check(g[False]["late_loss_std"]["mean"] is None and g[True]["late_loss_std"]["mean"] is not None,
      f"stuck group's late loss std counted: {g[False]['late_loss_std']}")

# a third group added to the file leaves the comparison of the first two as it was
three = os.path.join(WORK, "three.h5")
rng3 = np.random.default_rng(7)
write(three, [(True, 60.0, slow_final, set()), (False, 20.0, fast_final, set())], seeds, rng=rng3)
rng3 = np.random.default_rng(7)
grown = os.path.join(WORK, "grown.h5")
write(grown, [(True, 60.0, slow_final, set()), (False, 20.0, fast_final, set()), ("third", 5.0, [0.9] * 12, set())],
      seeds, rng=rng3, values=[b"true", b"false", b"third"])
# (Holm's adjustment counts the file's comparisons, so adjusted p, verdicts and power may move; nothing else)


def raw(c):
    out = {k: v for k, v in c.items() if k not in ("power", "verdict")}
    out["outcomes"] = {k: {q: w for q, w in v.items() if q not in ("p_adjusted", "verdict", "family_tests")}
                       for k, v in c["outcomes"].items()}
    return json.dumps(out, sort_keys=True)


a = report(three)["comparisons"][0]
b = [x for x in report(grown)["comparisons"] if x["from"] == a["from"] and x["to"] == a["to"]]
check(b and raw(a) == raw(b[0]), f"a third group changed it: {a} vs {b}")

# several files, one report
r = subprocess.run([BIN, "report", p1, p2, "--format", "json"], capture_output=True, text=True)
check(r.returncode == 0 and [f["label"] for f in json.loads(r.stdout)["files"]] == ["faster.h5", "same.h5"],
      f"two files: {r.stderr or r.stdout[:200]}")
# declared parameters: what the command line says is what is used, and printed
j = report(p1, "--loss-target", "0.9", "--acc-target", "0.5")
check(j["parameters"]["loss_target"] == 0.9 and j["comparisons"][0]["loss_target"] == 0.9 and
      j["comparisons"][0]["acc_target"] == 0.5, f"fixed targets: {j['parameters']}")
for bad in (["--loss-target", "abc"], ["--smooth", "2.5"], ["--effect", "-3"], ["--bootstrap", "10"], ["--format", "xml"]):
    r = subprocess.run([BIN, "report", p1, *bad], capture_output=True, text=True)
    check(r.returncode == 2 and bad[0] in r.stderr, f"{bad}: exit {r.returncode} {r.stderr!r}")
r = subprocess.run([BIN, "report", "--help"], capture_output=True, text=True)
check(r.returncode == 0 and all(o in r.stdout for o in ("--format", "--loss-target", "--acc-target", "--acc-fraction",
                                                        "--smooth", "--effect", "runs-csv", "default")), "report --help")

for fmt, marker in (("table", "Verdicts"), ("markdown", "| group |"), ("csv", "file,table,key,group")):
    r = subprocess.run([BIN, "report", p1, "--format", fmt], capture_output=True, text=True)
    check(r.returncode == 0 and marker in r.stdout, f"--format {fmt}: {r.stderr or r.stdout[:200]}")
# the page: its embedded report is the JSON report, every run and its curve is in it, nothing is
# referenced by URL (the SVG namespace is a name, not a request), and a "</script>" in a grid
# value cannot end the embedded data early
import re  # noqa: E402
hostile = os.path.join(WORK, "hostile.h5")
write(hostile, [(True, 20, [0.8] * 8, ()), (False, 60, [0.8] * 8, ())], list(range(1, 9)), rng=np.random.default_rng(5),
      values=[b"</script", b"<!--x"])
for path in (p1, p2, hostile):
    r = subprocess.run([BIN, "report", path, "--format", "html"], capture_output=True, text=True)
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', r.stdout, re.S)
    page = json.loads(m.group(1)) if m else None
    check(r.returncode == 0 and page and page["report"] == report(path), f"--format html of {path}: {r.stderr[-200:]}")
    with h5py.File(path, "r") as f:
        nruns, nsteps = len(f["runs"]), f["train/loss"].shape[1]
    runs = page["files"][0]["runs"] if page else []
    check(len(runs) == nruns and all(len(x["curves"]["train/loss"]) * page["files"][0]["steps_every"] >= nsteps for x in runs),
          f"--format html: {len(runs)} runs of {nruns}")
    refs = [a or b or "@import" for a, b in re.findall(r'(?:src|href)\s*=\s*["\']?([^"\' >]+)|url\(([^)]*)\)|@import', r.stdout)]
    refs = [x for x in refs if not x.startswith("#")]  # the page's own clip paths
    check(not refs, f"--format html references {refs[:3]}")
r = subprocess.run([BIN, "status", p1], capture_output=True, text=True)
check(r.returncode == 0 and "sweep: none holds the file" in r.stdout and "progress:" in r.stdout, f"status: {r.stdout}")
with h5py.File(p1, "r") as f:
    total = int(f["runs"]["total_steps"].sum())
    st = [s.decode() for s in f["runs"]["status"]]
check(f"{len(st)} runs:" in r.stdout, f"status: the run count: {r.stdout}")
for bad in (["--watch", "0"], ["--watch", "x"], ["--bogus"], []):
    r = subprocess.run([BIN, "status", *([p1] if bad != [] else []), *bad], capture_output=True, text=True)
    check(r.returncode == 2 and "bertsweep status --help" in r.stderr, f"status {bad}: exit {r.returncode} {r.stderr!r}")
r = subprocess.run([BIN, "status", os.path.join(WORK, "missing.h5")], capture_output=True, text=True)
check(r.returncode == 1 and "missing.h5: no such file" in r.stderr, f"status of a missing file: {r.stderr}")
plots = os.path.join(WORK, "plots")
r = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts",
                                                     "plot_results.py"), p1, plots], capture_output=True, text=True)
png = os.path.join(plots, "optimizer_correct_bias.png")
check(r.returncode == 0 and os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
      f"plot_results.py: {r.stderr[-500:]}")
r = subprocess.run([BIN, "report", os.path.join(WORK, "missing.h5")], capture_output=True, text=True)
check(r.returncode == 1 and "missing.h5" in r.stderr, f"missing file: {r.stderr}")
done()
