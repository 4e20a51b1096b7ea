#!/usr/bin/python3
"""The report's verdicts on synthetic sweeps whose truth is known (metrics written directly,
no training):

(a) two groups with the same relative noise about loss curves that end at different levels are
    not called different in steadiness (though the older late-loss std differs, p < 0.01);
(b) a group genuinely noisier at the same loss level (and as fast): higher noise, p < 0.01, an
    exploratory finding (no verdict: the primary comparison is not decided, so the secondary
    family is not tested: serial gatekeeping);
(c) 10 pairs all one way: p = 2/1024 exactly and a Hodges-Lehmann interval that excludes 0;
(d) 3 pairs: "cannot reach p < 0.05", smallest possible p 0.25;
(e) a group stuck at chance is never faster; its censored runs and pairs are counted;
(f) Holm removes a marginal secondary outcome (raw p 0.027) and keeps a strong primary one;
(g) the power line equals a hand computation for differences of known sd, and the seeds
    advice names the count;
plus: zip tuples compare as one key, random keys get Spearman correlations (checked against
SciPy) and no pairwise comparisons, a group with no finished run gets no verdict, the CSV has
explicit columns, JSON numbers and booleans are typed, runs-csv has one row per run, and
plot_results.py draws random keys as scatter plots and never pools a key it does not show.

usage: report_verdicts.py BERTSWEEP WORKDIR
"""
import csv
import io
import json
import math
import os
import subprocess
import sys

import h5py
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done  # noqa: E402

BIN, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, runs, columns, sweep=None, steps=400, every=20):
    """runs: dicts with values (tuple, one per column), seed, loss (array), acc (final accuracy or
    an array per evaluation), status, eloss (array, optional). columns: [(name, numpy dtype)]."""
    evals = steps // every
    rows, L, A, S, E = [], [], [], [], []
    for i, r in enumerate(runs):
        loss = np.full(steps, np.nan, dtype="<f4")
        loss[:len(r["loss"])] = r["loss"]
        acc = r["acc"] if np.ndim(r["acc"]) else np.full(evals, r["acc"])
        st = np.arange(1, evals + 1) * every
        el = r.get("eloss", np.linspace(1.5, 1.0, evals))
        status = r.get("status", "done")
        n_done = len(r["loss"]) if status != "running" else len(r["loss"]) // 2
        if status == "running":
            st[evals // 2:] = -1
            acc = np.where(st > 0, acc, np.nan)
        rows.append((i, r["seed"]) + tuple(r["values"]) +
                    (status.encode(), n_done, steps, float(np.nanmax(acc)), float(acc[st > 0][-1]), 0.1, 0.2))
        L.append(loss)
        A.append(acc)
        S.append(st)
        E.append(el)
    dt = np.dtype([("run_id", "<i4"), ("seed", "<i4")] + columns +
                  [("status", "S8"), ("steps_done", "<i8"), ("total_steps", "<i8"), ("best_dev_accuracy", "<f8"),
                   ("final_dev_accuracy", "<f8"), ("majority_baseline", "<f8"), ("bow_baseline", "<f8")])
    with h5py.File(path, "w") as f:
        f["runs"] = np.array(rows, dtype=dt)
        f["train/loss"] = np.array(L, dtype="<f4")
        f["eval/accuracy"] = np.array(A, dtype="<f4")
        f["eval/step"] = np.array(S, dtype="<i8")
        f["eval/loss"] = np.array(E, dtype="<f4")
        if sweep is not None:
            f.attrs["sweep_config"] = json.dumps({"sweep": sweep})


def report(path, *args, fmt="json"):
    r = subprocess.run([BIN, "report", path, "--format", fmt, *args], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"report {path}: {r.stderr[-500:]}")
    return json.loads(r.stdout) if fmt == "json" and r.returncode == 0 else r.stdout


def curve(rng, steps, floor, tau, rel_noise, start=2.0):
    t = np.arange(1, steps + 1)
    c = floor + (start - floor) * np.exp(-t / tau)
    return c * (1 + rel_noise * rng.standard_normal(steps))


BOOL = [("optimizer.correct_bias", "?")]
seeds = list(range(1, 11))

# ---- (a) same relative noise, different final levels: not different in steadiness
rng = np.random.default_rng(1)
runs = [{"values": (True,), "seed": s, "loss": curve(rng, 400, 0.6, 60, 0.12), "acc": 0.6} for s in seeds]
runs += [{"values": (False,), "seed": s, "loss": curve(rng, 400, 0.15, 60, 0.12), "acc": 0.6} for s in seeds]
write(p := os.path.join(WORK, "a.h5"), runs, BOOL)
late = [np.std(r["loss"][320:], ddof=1) for r in runs]
check(stats.wilcoxon(np.array(late[10:]) - np.array(late[:10])).pvalue < 0.01,
      "premise (a): the late-loss std differs between the groups")
c = report(p)["comparisons"][0]
n = c["outcomes"]["loss_noise_at_equal_loss"]
check(n["verdict"] in ("no_clear_difference",) and "steadier" not in c["verdict"] and "less steady" not in c["verdict"],
      f"(a) equal relative noise at different levels called different: {n} / {c['verdict'][-700:]}")
check(c["steadiness"]["level_gap"] is not None and c["steadiness"]["level_gap"] < 0.10,
      f"(a) compared windows' levels differ: {c['steadiness']}")
check("late-loss std of the group table is not compared" in c["verdict"], "(a) the late-loss std caveat is missing")

# ---- (b) noisier at the same level: less steady
rng = np.random.default_rng(2)
runs = [{"values": (True,), "seed": s, "loss": curve(rng, 400, 0.3, 60, 0.08), "acc": 0.6} for s in seeds]
runs += [{"values": (False,), "seed": s, "loss": curve(rng, 400, 0.3, 60, 0.20), "acc": 0.6} for s in seeds]
write(p := os.path.join(WORK, "b.h5"), runs, BOOL)
c = report(p)["comparisons"][0]
n = c["outcomes"]["loss_noise_at_equal_loss"]
check(n["verdict"] == "exploratory" and n["p"] < 0.01 and n["ci95"][0] > 0 and
      "exploratory, no verdict" in c["verdict"] and "less steady" not in c["verdict"],
      f"(b) noisier group: {n}")

# ---- (c) and (g): deterministic steps to the target with known differences
def step_loss(at, steps=400):
    y = np.full(steps, 2.0, dtype="<f4")
    y[at:] = 0.2
    return y


base = [100, 120, 90, 110, 130, 95, 105, 115, 125, 100]
shift = [-30, -10, -50, -20, -40, -35, -25, -15, -45, -60]   # all one way, distinct: no ties
runs = [{"values": (True,), "seed": s, "loss": step_loss(b), "acc": 0.6} for s, b in zip(seeds, base)]
runs += [{"values": (False,), "seed": s, "loss": step_loss(b + d), "acc": 0.6} for s, b, d in zip(seeds, base, shift)]
write(p := os.path.join(WORK, "c.h5"), runs, BOOL)
j = report(p, "--effect", "8")
c = j["comparisons"][0]
o = c["outcomes"]["steps_to_loss_target"]
check(o["p"] == 2 / 1024 and o["exact"] and o["p_adjusted"] == 2 / 1024, f"(c) p {o['p']} (want 2/1024 exactly)")
walsh = sorted((a + b) / 2 for i, a in enumerate(shift) for b in shift[i:])
check(o["estimate"] == float(np.median(walsh)) and o["ci95"][1] < 0 and o["ci95_infinite"] == [0, 0],
      f"(c) HL {o['estimate']} vs {np.median(walsh)}, interval {o['ci95']}")
check(o["ci95"] == [walsh[8], walsh[46]], f"(c) exact interval {o['ci95']} vs [{walsh[8]}, {walsh[46]}]")
check("optimizer.correct_bias=false fits the training set faster" in c["verdict"], f"(c) verdict: {c['verdict'][:300]}")
# (g) power: sd of the paired differences, one primary test (alpha 0.05), 10 pairs, effect 8;
# the claimed 80% shift checked here by an independent simulation (SciPy's signed-rank test with
# Pratt's zeros on normal differences rounded to steps, the sd drawn as estimated from 10 pairs);
# the old normal-theory claim (efficiency 3/pi) is smaller: it overstated the power
sd = float(np.std(shift, ddof=1))
z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
normal_mde = z * sd / math.sqrt(10 * 3 / math.pi)
pw = c["power"]
mde, need = pw["detectable_shift"], pw["pairs_needed"]
check(abs(pw["sd_of_differences"] - sd) < 1e-9 and mde > normal_mde and pw["draws"] == 1000 and
      [r["pairs"] for r in pw["table"]] == [10, 20, 40] and pw["table"][0]["detectable_shift"] == mde and
      pw["table"][0]["detectable_shift"] > pw["table"][1]["detectable_shift"] > pw["table"][2]["detectable_shift"],
      f"(g) power {pw} vs sd {sd}, normal theory {normal_mde}")
sim = np.random.default_rng(42)
hits = 0
for _ in range(2000):
    s_ = sd * math.sqrt(9 / sim.chisquare(9))
    d_ = np.round(mde + s_ * sim.standard_normal(10))
    hits += (not np.all(d_ == 0)) and stats.wilcoxon(d_, zero_method="pratt").pvalue <= 0.05
check(0.75 <= hits / 2000 <= 0.86, f"(g) the claimed 80% shift {mde:.2f} is detected {hits / 2000:.3f} of the time by SciPy")
check(f"a shift of {mde:.1f} steps with 10 pairs" in c["verdict"] and need and need > 10 and
      f"the named shift of 8 steps needs {need} pairs" in c["verdict"], f"(g) power line: {c['verdict'][:900]}")
check(f"list {need} seeds in \"sweep.seeds\"" in c["verdict"] and "run the same sweep command" in c["verdict"],
      "(g) the seeds advice is missing")

# ---- (d) 3 pairs: cannot be tested
runs3 = [r for r in runs if r["seed"] <= 3]
write(p := os.path.join(WORK, "d.h5"), runs3, BOOL)
c = report(p)["comparisons"][0]
o = c["outcomes"]["steps_to_loss_target"]
check(o["verdict"] == "cannot_reach_significance" and o["smallest_possible_p"] == 0.25 and
      "cannot reach p < 0.05 with 3 pairs of a known sign (smallest possible p = 0.25)" in c["verdict"],
      f"(d) 3 pairs: {o} {c['verdict'][:300]}")
check("no clear difference" not in c["verdict"].split("Secondary")[0], "(d) 3 pairs read as 'no clear difference'")

# ---- (e) stuck at chance: never faster, censored counted
rng = np.random.default_rng(5)
runs = [{"values": (True,), "seed": s, "loss": curve(rng, 400, 0.3, 80, 0.05),
         "acc": np.linspace(0.1, 0.8, 20)} for s in seeds]
runs += [{"values": (False,), "seed": s, "loss": 2.0 + 0.05 * rng.standard_normal(400),
          "acc": np.full(20, 0.1)} for s in seeds]
write(p := os.path.join(WORK, "e.h5"), runs, BOOL)
c = report(p)["comparisons"][0]
for name in ("steps_to_loss_target", "steps_to_acc_target"):
    o = c["outcomes"][name]
    check(o["verdict"] == "second_higher" and o["censored_runs"] == [0, 10] and o["censored_pairs"] == 10 and
          o["ci95_infinite"] == [1, 1], f"(e) {name}: {o}")
check("is faster" not in c["verdict"] and "faster" not in c["verdict"].split("Secondary")[0].replace("fits the training set slower", "") and
      "never reached 0/10 vs 10/10" in c["verdict"] and "10 censored at the worst rank" in c["verdict"],
      f"(e) stuck group: {c['verdict'][:600]}")

# ---- (f) Holm: a strong primary stays, a marginal secondary goes
counts = [1, 2, 3, 4, 5, -6, 7, 8, 9, 10]             # W- = 6 of 55: exact p = 28/1024
runs = [{"values": (True,), "seed": s, "loss": step_loss(b), "acc": 0.5} for s, b in zip(seeds, base)]
runs += [{"values": (False,), "seed": s, "loss": step_loss(b + d), "acc": 0.5 + k / 600}
         for s, b, d, k in zip(seeds, base, shift, counts)]
write(p := os.path.join(WORK, "f.h5"), runs, BOOL)
c = report(p)["comparisons"][0]
f_ = c["outcomes"]["final_dev_accuracy"]
check(abs(f_["p"] - 28 / 1024) < 1e-12 and f_["p_adjusted"] > 0.05 and f_["verdict"] == "no_clear_difference" and
      abs(f_["grid"] - 1 / 600) < 1e-15, f"(f) marginal secondary: {f_}")
o = c["outcomes"]["steps_to_loss_target"]
check(o["p_adjusted"] < 0.05 and o["verdict"] == "second_lower", f"(f) strong primary: {o}")

# ---- a group with no finished run gets no verdict
rng = np.random.default_rng(6)
runs = [{"values": (True,), "seed": s, "loss": curve(rng, 400, 0.3, 60, 0.05), "acc": 0.6} for s in seeds]
runs += [{"values": (False,), "seed": s, "loss": curve(rng, 400, 0.3, 30, 0.05), "acc": 0.6, "status": "running"}
         for s in seeds]
write(p := os.path.join(WORK, "unfinished.h5"), runs, BOOL)
j = report(p)
c = j["comparisons"][0]
check(c["pairs"] == 0 and all(o["verdict"] in ("cannot_reach_significance", "exploratory") for o in c["outcomes"].values())
      and "nan" not in c["verdict"],
      f"unfinished group: {c['verdict'][:400]}")

# ---- zip: one key; random: correlations, no pairwise comparisons
ZIP = [("train.learning_rate", "<f8"), ("train.warmup_ratio", "<f8")]
rng = np.random.default_rng(7)
runs = []
for lr, wr, tau in ((1e-4, 0.0, 80), (3e-4, 0.1, 30)):
    runs += [{"values": (lr, wr), "seed": s, "loss": curve(rng, 400, 0.3, tau, 0.05), "acc": 0.6} for s in seeds]
write(p := os.path.join(WORK, "zip.h5"), runs, ZIP, sweep={"zip": {"train.learning_rate": [1e-4, 3e-4],
                                                                   "train.warmup_ratio": [0.0, 0.1]}})
j = report(p)
check(len(j["comparisons"]) == 1 and j["comparisons"][0]["keys"] == ["train.learning_rate", "train.warmup_ratio"] and
      j["comparisons"][0]["outcomes"]["steps_to_loss_target"]["verdict"] == "second_lower",
      f"zip: {[(c['key'], c['outcomes']['steps_to_loss_target']['verdict']) for c in j['comparisons']]}")
check(j["groups"][0]["values"] == {"train.learning_rate": 1e-4, "train.warmup_ratio": 0.0},
      f"JSON values typed: {j['groups'][0]['values']}")

RND = [("train.learning_rate", "<f8"), ("optimizer.correct_bias", "?")]
rng = np.random.default_rng(8)
lrs = np.exp(rng.uniform(np.log(1e-5), np.log(1e-3), 8))
runs, truth = [], []
for lr in lrs:
    for cb in (True, False):
        for s in (1, 2):
            acc = 0.4 + 60 * lr + 0.01 * rng.standard_normal()   # accuracy rises with lr
            runs.append({"values": (lr, cb), "seed": s, "loss": curve(rng, 400, 0.3, 60, 0.05), "acc": acc})
write(p := os.path.join(WORK, "random.h5"), runs, RND,
      sweep={"random": {"count": 8, "seed": 3, "params": {"train.learning_rate": {"log_uniform": [1e-5, 1e-3]}}},
             "grid": {"optimizer.correct_bias": [True, False]}})
j = report(p)
keys = {c["key"] for c in j["comparisons"]}
check(keys == {"optimizer.correct_bias"} and len(j["comparisons"]) == 8, f"random: comparisons {keys} {len(j['comparisons'])}")
corr = [c for c in j["correlations"] if c["statistic"] == "final_dev_accuracy"]
check(len(corr) == 2 and all(c["log_uniform"] and c["runs"] == 16 for c in corr), f"random: correlations {corr}")
for c in corr:
    cb = c["context"].endswith("true")
    sub = [r for r in runs if r["values"][1] == cb]
    want = stats.spearmanr([r["values"][0] for r in sub], [float(np.float64(r["acc"])) for r in sub])
    check(abs(c["spearman_rho"] - want.statistic) < 1e-12 and abs(c["p"] - want.pvalue) < 1e-9 and c["p_adjusted"] < 0.05,
          f"spearman {c} vs scipy {want}")
text = report(p, fmt="table")
check("Randomly sampled keys" in text and "rises with the key" in text, "random keys missing from the text report")
only_random = os.path.join(WORK, "random_only.h5")
write(only_random, [r for r in runs if r["values"][1]], RND[:1] + [("optimizer.correct_bias", "?")],
      sweep={"random": {"count": 8, "seed": 3, "params": {"train.learning_rate": {"log_uniform": [1e-5, 1e-3]}}}})
j = report(only_random)
check(j["comparisons"] == [] and "rank correlation" in j.get("note", ""), f"why nothing was compared: {j.get('note')}")

# ---- machine-readable output
out = report(os.path.join(WORK, "f.h5"), fmt="csv")
rows = list(csv.DictReader(io.StringIO(out)))
check(set(rows[0]) == {"file", "table", "key", "group", "other", "statistic", "family", "n", "n_pairs", "censored", "mean",
                       "sd", "median", "estimate", "ci_low", "ci_high", "p", "p_adjusted", "verdict"}, f"csv header {list(rows[0])}")
g = [r for r in rows if r["table"] == "group" and r["statistic"] == "final_dev_accuracy"]
check(len(g) == 2 and g[0]["ci_low"] == "" and float(g[0]["mean"]) == 0.5, f"csv group rows: {g}")
cmp_ = [r for r in rows if r["table"] == "comparison" and r["statistic"] == "final_dev_accuracy"]
check(len(cmp_) == 1 and abs(float(cmp_[0]["p"]) - 28 / 1024) < 1e-9 and float(cmp_[0]["p_adjusted"]) > 0.05 and
      cmp_[0]["family"] == "secondary", f"csv comparison row {cmp_}")
out = report(os.path.join(WORK, "zip.h5"), fmt="runs-csv")
rows = list(csv.DictReader(io.StringIO(out)))
check(len(rows) == 20 and rows[0]["train.learning_rate"] == "0.0001" and rows[0]["status"] == "done" and
      "final_dev_accuracy" in rows[0] and "min_dev_loss" in rows[0], f"runs-csv: {rows[:1]}")

# ---- plots: random keys as scatter, nothing pooled across a key not shown
plots = os.path.join(WORK, "plots")
r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "..", "scripts", "plot_results.py"), os.path.join(WORK, "random.h5"),
                    plots, "--json"], capture_output=True, text=True, timeout=300)
check(r.returncode == 0, f"plot_results.py random: {r.stderr[-400:]}")
info = json.loads(r.stdout) if r.returncode == 0 else {}
lr_plot = info.get("train.learning_rate", {})
check(lr_plot.get("kind") == "scatter" and lr_plot.get("xscale") == "log" and lr_plot.get("points") == 32,
      f"random key plot: {lr_plot}")
cb_plot = info.get("optimizer.correct_bias", {})
check(cb_plot.get("kind") == "curves" and cb_plot.get("max_runs_per_line") == 2 and cb_plot.get("facets") == 8,
      f"grid key within random points: one facet per point, 2 seeds a line: {cb_plot}")
for name in info:
    check(os.path.exists(os.path.join(plots, info[name]["file"])), f"plot file {info[name]['file']}")
done()
