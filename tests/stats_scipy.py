#!/usr/bin/python3
"""The signed-rank test, its Hodges-Lehmann estimate and its inverted interval (src/stats.c,
through `test_stats --cases`) against SciPy and against an independent enumeration, on 400
random cases with a fixed seed:

- without ties or zeros (n 1..25): p equals scipy.stats.wilcoxon(method="exact");
- with ties and zeros on an integer grid (n 1..12): p equals the exact conditional distribution
  of Pratt's mid-ranks (zeros ranked, then left out of W+ and of the signs), enumerated here
  over all 2^n sign patterns;
- above 25 differences: p equals scipy.stats.wilcoxon(method="approx", correction=True);
- the estimate is the median of the Walsh averages (numpy; censored ones included, NaN when that
  median is infinite or outside the interval), and the interval equals a brute-force inversion:
  the test of d - theta run at every Walsh average and between consecutive ones and beyond
  them; the accepted points are one run (checked), and the interval spans it; censored
  differences (+-inf) included.

usage: stats_scipy.py TEST_STATS
"""
import itertools
import math
import subprocess
import sys

import numpy as np
from scipy import stats

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from testlib import check, done  # noqa: E402

BIN = sys.argv[1]
rng = np.random.default_rng(20261204)


def enum_p(d):
    """Two-sided exact conditional p, Pratt's zeros: NaN dropped, mid-ranks of |d| (inf largest)
    with the zeros, then the zeros' ranks left out."""
    d = [x for x in d if not math.isnan(x)]
    r_all = stats.rankdata(np.abs(d)) if d else []
    r = [ri for ri, x in zip(r_all, d) if x != 0]
    d = [x for x in d if x != 0]
    if not d:
        return 1.0
    w = sum(ri for ri, x in zip(r, d) if x > 0)
    le = ge = 0
    for signs in itertools.product((0, 1), repeat=len(d)):
        s = sum(ri for ri, b in zip(r, signs) if b)
        le += s <= w + 1e-9
        ge += s >= w - 1e-9
    return min(1.0, 2 * min(le, ge) / 2 ** len(d))


noncontiguous = 0


def brute_interval(d, alpha=0.05):
    """The accepted shifts: gaps (even points) and Walsh averages (odd points), hull of the run."""
    global noncontiguous
    fin = [x for x in d if math.isfinite(x)]
    walsh = sorted({(a + b) / 2 for i, a in enumerate(fin) for b in fin[i:]})
    if not walsh:
        return None
    thetas = [walsh[0] - 1]
    for i, w in enumerate(walsh):
        thetas += [w, (w + walsh[i + 1]) / 2 if i + 1 < len(walsh) else w + 1]
    acc = [enum_p([x - t if math.isfinite(x) else x for x in d]) >= alpha for t in thetas]
    if not any(acc):
        return None
    first, last = acc.index(True), len(acc) - 1 - acc[::-1].index(True)
    noncontiguous += not all(acc[first:last + 1])
    lo = -math.inf if first == 0 else walsh[(first - 1) // 2] if first % 2 else walsh[first // 2 - 1]
    hi = math.inf if last == len(thetas) - 1 else walsh[(last - 1) // 2] if last % 2 else walsh[last // 2]
    return lo, hi


def hl(d):
    """Median of the Walsh averages, censored ones included (inf + -inf left out); NaN if infinite."""
    v = [x for x in d if not math.isnan(x)]
    walsh = [(a + b) / 2 for i, a in enumerate(v) for b in v[i:] if not (math.isinf(a) and math.isinf(b) and a != b)]
    if not walsh:
        return math.nan
    m = float(np.median(walsh)) if all(math.isfinite(w) for w in walsh) else None
    if m is None:
        s = sorted(walsh)
        k = len(s)
        a, b = s[(k - 1) // 2], s[k // 2]
        m = 0.5 * (a + b) if math.isfinite(a) and math.isfinite(b) else math.nan
    return m


cases = []  # (grid, d, kind)
for _ in range(150):  # continuous, no ties, no zeros
    n = int(rng.integers(1, 26))
    cases.append((0.0, list(rng.normal(rng.normal(0, 1), 1, n)), "scipy"))
for _ in range(150):  # integer grid: ties and zeros; some censored
    n = int(rng.integers(1, 11))
    d = [float(x) for x in rng.integers(-4, 7, n)]
    if rng.random() < 0.3:
        d[int(rng.integers(0, n))] = math.inf if rng.random() < 0.7 else -math.inf
    if rng.random() < 0.2:
        d[int(rng.integers(0, n))] = math.nan
    cases.append((1.0, d, "enum"))
for _ in range(60):  # interval by brute force, small continuous
    n = int(rng.integers(2, 9))
    cases.append((0.0, list(np.round(rng.normal(0.8, 1, n), 3)), "interval"))
for _ in range(40):  # large n: normal approximation
    n = int(rng.integers(26, 80))
    cases.append((0.0, list(rng.normal(0.3, 1, n)), "approx"))

text = "".join(f"{g} {len(d)} {' '.join(repr(float(x)) for x in d)}\n" for g, d, _ in cases)
r = subprocess.run([BIN, "--cases"], input=text, capture_output=True, text=True, timeout=600)
check(r.returncode == 0, f"test_stats --cases: exit {r.returncode} {r.stderr[-300:]}")
out = [list(map(float, line.split())) for line in r.stdout.splitlines()]
check(len(out) == len(cases), f"{len(out)} answers for {len(cases)} cases")

bad = {"scipy": 0, "enum": 0, "interval": 0, "approx": 0, "estimate": 0}
for (grid, d, kind), (used, p, est, lo, hi) in zip(cases, out):
    want_est = hl(d)
    if not (lo <= want_est <= hi):
        want_est = math.nan
    if not (math.isclose(est, want_est, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(est) and math.isnan(want_est))):
        bad["estimate"] += 1
        print(f"estimate {est} != {want_est} for {d}")
    if kind == "scipy":
        want = stats.wilcoxon(d, method="exact").pvalue
    elif kind == "approx":
        want = stats.wilcoxon(d, method="approx", correction=True).pvalue
    else:
        want = enum_p(d)
    if not math.isclose(p, want, rel_tol=1e-9, abs_tol=1e-12):
        bad[kind] += 1
        print(f"{kind}: p {p} != {want} for {d}")
    if kind in ("interval", "enum") and len(d) <= 10:
        iv = brute_interval(d)
        if iv is not None and (lo, hi) != iv:
            bad["interval"] += 1
            print(f"interval ({lo}, {hi}) != {iv} for {d}")
for k, v in bad.items():
    check(v == 0, f"{v} cases disagree ({k})")
check(noncontiguous == 0, f"Pratt's accepted shifts not one run in {noncontiguous} cases")
print(f"{len(cases)} cases: " + ", ".join(f"{sum(c[2] == k for c in cases)} {k}" for k in ("scipy", "enum", "interval", "approx")))
done()
