#!/usr/bin/python3
"""Candidate measures of training-loss steadiness, side by side, on a results file and on
synthetic runs whose truth is known: why the report measures noise at equal loss
(docs/decisions.md has the reasoning and this script's figures).

Candidates, each per run (paired by seed between the first two groups of the file):
  late_std     std about the straight-line trend of the last 20% of steps (the old measure)
  late_cv      late_std / mean loss of those steps
  late_log_std the same std on log(loss)
  equal_loss   std about the trend in windows (10% of the run, at least 20 steps) where the
               moving average first reaches each of three loss levels both groups reach
               (what `bertsweep report` uses; its level gap is printed beside it)

Synthetic scenarios (10 seeds each, 400 steps, tau 60):
  rel_noise    same relative noise (12%), final levels 0.6 vs 0.15: truth "equally steady"
  abs_noise    same absolute noise (0.05), final levels 0.6 vs 0.15: truth "equally steady"
  noisier      same level (0.3), relative noise 8% vs 20%: truth "second less steady"

usage: steadiness_candidates.py [RESULTS.h5 ...]
"""
import sys

import h5py
import numpy as np
from scipy import stats

SMOOTH = 10


def detrended_std(y):
    y = np.asarray(y, dtype=float)
    x = np.arange(len(y))
    ok = np.isfinite(y)
    if ok.sum() < 3:
        return np.nan
    b, a = np.polyfit(x[ok], y[ok], 1)
    return float(np.sqrt(np.sum((y[ok] - a - b * x[ok]) ** 2) / (ok.sum() - 2)))


def smoothed(y):
    return np.convolve(y, np.ones(SMOOTH) / SMOOTH, mode="valid")  # [i] ends at step i + SMOOTH


def late(y):
    k = max(1, len(y) // 5)
    return y[-k:]


def first_below(y, level):
    s = smoothed(y)
    i = np.argmax(s <= level)
    return int(i + SMOOTH) if s[i] <= level else -1


def equal_loss(ya, yb, floors, target, W):
    levels = [floors + (target - floors) * f for f in (0.25, 0.5, 0.75)]
    na, nb, gap = [], [], []
    for L in levels:
        w = []
        for y in (ya, yb):
            t = first_below(y, L)
            if t < 0:
                break
            a = max(0, t - SMOOTH // 2 - W // 2)
            b = min(len(y), a + W)
            w.append((detrended_std(y[a:b]), float(np.mean(y[a:b]))))
        if len(w) == 2:
            na.append(w[0][0])
            nb.append(w[1][0])
            gap.append(abs(w[1][1] - w[0][1]) / L)
    if not na:
        return np.nan, np.nan, np.nan
    return float(np.mean(na)), float(np.mean(nb)), float(np.mean(gap))


def compare(A, B, name):
    """A, B: lists of loss arrays paired by index."""
    T = min(len(y) for y in A + B)
    W = max(20, T // 10)
    start = np.mean([np.mean(y[:max(1, T // 20)]) for y in A + B])
    end = np.mean([np.mean(y[-max(1, T // 10):]) for y in A + B])
    target = (start + end) / 2
    floors = max(np.median([smoothed(y).min() for y in A]), np.median([smoothed(y).min() for y in B]))
    rows = {"late_std": [], "late_cv": [], "late_log_std": [], "equal_loss": []}
    gaps = []
    for ya, yb in zip(A, B):
        la, lb = late(ya), late(yb)
        rows["late_std"].append((detrended_std(la), detrended_std(lb)))
        rows["late_cv"].append((detrended_std(la) / np.mean(la), detrended_std(lb) / np.mean(lb)))
        rows["late_log_std"].append((detrended_std(np.log(la)), detrended_std(np.log(lb))))
        na, nb, g = equal_loss(ya, yb, floors, target, W)
        rows["equal_loss"].append((na, nb))
        gaps.append(g)
    print(f"\n{name}: {len(A)} pairs; late loss level {np.mean([np.mean(late(y)) for y in A]):.3f} vs "
          f"{np.mean([np.mean(late(y)) for y in B]):.3f}; equal-loss levels' median gap {np.nanmedian(gaps):.1%}")
    print(f"  {'measure':<13} {'first':>8} {'second':>8}  second lower in  p (Wilcoxon)  says")
    for k, v in rows.items():
        v = np.array(v, dtype=float)
        ok = np.isfinite(v).all(axis=1)
        d = v[ok, 1] - v[ok, 0]
        p = stats.wilcoxon(d).pvalue if ok.sum() >= 6 and np.any(d != 0) else np.nan
        says = "no difference" if not p < 0.05 else ("second steadier" if np.median(d) < 0 else "second less steady")
        print(f"  {k:<13} {v[ok, 0].mean():8.4f} {v[ok, 1].mean():8.4f}  {int((d < 0).sum()):2d}/{ok.sum():<2d}"
              f"           {p:10.3g}    {says}")


def synthetic():
    rng = np.random.default_rng(1)
    t = np.arange(1, 401)

    def run(floor, noise, rel):
        c = floor + (2.0 - floor) * np.exp(-t / 60)
        e = rng.standard_normal(400)
        return c * (1 + noise * e) if rel else c + noise * e

    compare([run(0.6, 0.12, True) for _ in range(10)], [run(0.15, 0.12, True) for _ in range(10)],
            "synthetic rel_noise (truth: equally steady)")
    compare([run(0.6, 0.05, False) for _ in range(10)], [run(0.15, 0.05, False) for _ in range(10)],
            "synthetic abs_noise (truth: equally steady)")
    compare([run(0.3, 0.08, True) for _ in range(10)], [run(0.3, 0.20, True) for _ in range(10)],
            "synthetic noisier (truth: second less steady)")


def from_file(path):
    with h5py.File(path, "r") as f:
        runs = f["runs"][:]
        loss = f["train/loss"][:]
    cols = [c for c in runs.dtype.names[2:runs.dtype.names.index("status")]]
    key = cols[0]
    values = list(dict.fromkeys(runs[key].tolist()))[:2]
    A = {int(r["seed"]): loss[i, :r["steps_done"]] for i, r in enumerate(runs) if r[key] == values[0] and r["status"] == b"done"}
    B = {int(r["seed"]): loss[i, :r["steps_done"]] for i, r in enumerate(runs) if r[key] == values[1] and r["status"] == b"done"}
    seeds = sorted(set(A) & set(B))
    compare([A[s] for s in seeds], [B[s] for s in seeds], f"{path}: {key} {values[0]} (first) vs {values[1]} (second)")


if __name__ == "__main__":
    synthetic()
    for p in sys.argv[1:]:
        from_file(p)
