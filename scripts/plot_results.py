#!/usr/bin/python3
"""Plots a bertsweep results file as the seed's report did — training loss (moving average)
dev accuracy and dev loss over steps — with one figure per swept key (a zipped tuple is one key). Each
figure has one pair of panels per setting of the other keys, random ones included (held fixed,
never pooled; up to 36 settings, the rest named as left out), the key's values as colours,
thin lines per seed, and the mean across seeds with its 95% interval (mean +- 1.96 standard
errors). Dev-accuracy panels show the majority-class and bag-of-words baselines and chance (1 / labels). Runs
still running are drawn dashed as far as they got; diverged runs are drawn up to where they
stopped and counted in the legend. A randomly sampled key (sweep.random) is drawn as a scatter
of each finished run's final and best dev accuracy against the key's value (log axis for
log-uniform keys), coloured by the other keys' setting.

usage: plot_results.py RESULTS.h5 OUTDIR [--smooth 10] [--max-step N] [--json]
(--json prints what each figure shows, for tests and scripts)
(a file can be read while its sweep runs)
"""
import argparse
import json
import os
import sys
import textwrap
import warnings

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import numpy as np  # noqa: E402


# /runs columns that are not grid keys (`bertsweep schema` lists them), for files without a sweep_config
FIXED = {"run_id", "seed", "status", "steps_done", "total_steps", "best_dev_accuracy", "best_step",
         "final_dev_accuracy", "final_train_loss", "majority_baseline", "bow_baseline", "initialised", "wall_seconds", "rank", "host", "cpu", "blas",
         "threads", "libraries", "started", "finished"}


def smooth(y, w):
    if w <= 1:
        return y
    out = np.full_like(y, np.nan)
    for i in range(w - 1, len(y)):
        win = y[i - w + 1:i + 1]
        if np.isfinite(win).all():
            out[i] = win.mean()
    return out


def band(ax, x, ys, color, label):
    ys = np.array(ys, dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        n = np.sum(np.isfinite(ys), axis=0)
        m = np.nanmean(ys, axis=0)
        se = np.nanstd(ys, axis=0, ddof=1) / np.sqrt(np.maximum(n, 1))
    ax.plot(x, m, color=color, lw=2, label=label)
    ok = n >= 2
    ax.fill_between(x, np.where(ok, m - 1.96 * se, np.nan), np.where(ok, m + 1.96 * se, np.nan), color=color,
                    alpha=0.2, lw=0)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v).lower() if isinstance(v, (bool, np.bool_)) else f"{v:g}" \
        if isinstance(v, (float, np.floating)) else str(v)


MAX_FACETS = 36


def swept_keys(sweep, names):
    """[(label, [columns])]: grid keys one each, a zipped tuple as one key, random keys one each;
    and {column: "uniform" | "log_uniform"} for the random ones."""
    keys, random = [], {}
    for k in sweep.get("grid", {}):
        if k in names:
            keys.append((k, [k]))
    zipped = [k for k in sweep.get("zip", {}) if k in names]
    if zipped:
        keys.append((" + ".join(zipped), zipped))
    for k, dist in sweep.get("random", {}).get("params", {}).items():
        if k in names:
            keys.append((k, [k]))
            random[k] = "log_uniform" if isinstance(dist, dict) and "log_uniform" in dist else "uniform"
    return keys, random


def scatter(a, runs, status, label, col, others, log, path):
    """Final and best dev accuracy of each finished run against a random key's value."""
    fin = np.where(status == "done")[0]
    settings = sorted(set(tuple(text(runs[r][k]) for k in others) for r in fin)) if others else [()]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), squeeze=False)
    for ax, stat in zip(axes[0], ("final_dev_accuracy", "best_dev_accuracy")):
        for i, setting in enumerate(settings):
            sel = [r for r in fin if tuple(text(runs[r][k]) for k in others) == setting]
            where = ", ".join(f"{k}={v}" for k, v in zip(others, setting)) or "all runs"
            ax.scatter(runs[col][sel], runs[stat][sel], s=14, color=colors[i % len(colors)], label=f"{where} ({len(sel)})")
        if log:
            ax.set_xscale("log")
        ax.set(xlabel=f"{label} ({'log-uniform' if log else 'uniform'} sample)", ylabel=stat.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{os.path.basename(a.results)}: {label}, one point per finished run", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return {"kind": "scatter", "xscale": "log" if log else "linear", "points": len(fin),
            "file": os.path.basename(path)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("outdir")
    ap.add_argument("--smooth", type=int, default=10)
    ap.add_argument("--max-step", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    with h5py.File(a.results, "r") as f:
        runs = f["runs"][:]
        loss, acc, est = f["train/loss"][:], f["eval/accuracy"][:], f["eval/step"][:]
        eloss = f["eval/loss"][:] if "eval/loss" in f else np.full(acc.shape, np.nan)
        sweep = json.loads(f.attrs["sweep_config"]).get("sweep", {}) if "sweep_config" in f.attrs else {}
        configs = f["runs"].attrs.get("run_configs", None)
    keys, random = swept_keys(sweep, runs.dtype.names)
    if not keys:  # files without a sweep_config: every non-fixed column is a key
        keys = [(k, [k]) for k in runs.dtype.names if k not in FIXED]
    columns = [c for _, cols in keys for c in cols]
    keys = keys or [(None, [])]
    status = np.array([s.decode() if isinstance(s, bytes) else s for s in runs["status"]])
    shown = np.isin(status, ["done", "running", "diverged"])
    nlabels = None
    if configs is not None and len(configs):
        lab = json.loads(configs[0]).get("data", {}).get("labels")
        try:
            p = os.path.join(os.path.dirname(os.path.abspath(a.results)), lab) if lab else None
            nlabels = sum(1 for line in open(p) if line.strip()) if p and os.path.exists(p) else None
        except OSError:
            nlabels = None
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    written, info = [], {}
    for key, members in keys:
        others = [c for c in columns if c not in members]
        out = os.path.join(a.outdir, f"{(key or 'runs').replace('.', '_').replace(' + ', '__')}.png")
        if key in random:
            info[key] = scatter(a, runs, status, key, key, others, random[key] == "log_uniform", out)
            written.append(out)
            continue
        value_of = np.array([" / ".join(text(r[c]) for c in members) for r in runs]) if key else None
        settings = sorted(set(tuple(text(r[k]) for k in others) for r in runs)) if others else [()]
        left_out = max(0, len(settings) - MAX_FACETS)
        settings = settings[:MAX_FACETS]
        ncol = min(len(settings), 6)
        nrow = (len(settings) + ncol - 1) // ncol
        fig, axes = plt.subplots(3 * nrow, ncol, figsize=(5.5 * ncol + 1, 12 * nrow), squeeze=False)
        for i in range(len(settings), nrow * ncol):
            for k in range(3):
                axes[3 * (i // ncol) + k, i % ncol].set_visible(False)
        per_line = 0
        for col, setting in enumerate(settings):
            ax1, ax2, ax3 = (axes[3 * (col // ncol) + k, col % ncol] for k in range(3))
            in_setting = np.array([all(text(r[k]) == v for k, v in zip(others, setting)) for r in runs])
            values = sorted(set(value_of)) if key else ["all runs"]
            majority, bow = [], []
            for i, v in enumerate(values):
                sel = np.where(shown & in_setting & ((value_of == v) if key else True))[0]
                per_line = max(per_line, len(sel))
                if len(sel) == 0:
                    continue
                c = colors[i % len(colors)]
                T = int(runs["total_steps"][sel].max())
                if a.max_step:
                    T = min(T, a.max_step)
                x = np.arange(1, T + 1)
                w = a.smooth
                if T < w:  # runs shorter than the window: a window of the run's length, said so
                    w = max(1, T // 2)
                    print(f"warning: runs of {T} steps are shorter than --smooth {a.smooth}: their loss is "
                          f"smoothed over {w} steps", file=sys.stderr)
                ys = [smooth(loss[r, :T], w) for r in sel]
                for r, y in zip(sel, ys):
                    ax1.plot(x, y, color=c, lw=0.5, alpha=0.35, ls="--" if status[r] == "running" else "-")
                n_run = int((status[sel] == "running").sum())
                n_div = int((status[sel] == "diverged").sum())
                extra = "".join([f", {n_run} running" if n_run else "", f", {n_div} diverged" if n_div else ""])
                band(ax1, x, ys, c, f"{key}={v}: mean, 95% CI ({len(sel)} seeds{extra})" if key else v)
                ne = int((est[sel] >= 0).sum(axis=1).max())
                ex = est[sel[np.argmax((est[sel] >= 0).sum(axis=1))], :ne]
                keep = (ex <= T) & (ex >= 0)
                accs = [np.where(est[r, :ne][keep] >= 0, acc[r, :ne][keep], np.nan) for r in sel]
                for r, y in zip(sel, accs):
                    ax2.plot(ex[keep], y, color=c, lw=0.5, alpha=0.35, ls="--" if status[r] == "running" else "-")
                band(ax2, ex[keep], accs, c, f"{key}={v}" if key else v)
                dls = [np.where(est[r, :ne][keep] >= 0, eloss[r, :ne][keep], np.nan) for r in sel]
                for r, y in zip(sel, dls):
                    ax3.plot(ex[keep], y, color=c, lw=0.5, alpha=0.35, ls="--" if status[r] == "running" else "-")
                band(ax3, ex[keep], dls, c, f"{key}={v}" if key else v)
                majority += [m for m in runs["majority_baseline"][sel] if np.isfinite(m)]
                if "bow_baseline" in runs.dtype.names:
                    bow += [m for m in runs["bow_baseline"][sel] if np.isfinite(m)]
            if majority:
                ax2.axhline(np.mean(majority), color="k", ls=":", lw=1, label="majority-class baseline")
            if bow:
                ax2.axhline(np.mean(bow), color="k", ls="--", lw=1, label="bag-of-words baseline")
            if nlabels:
                ax2.axhline(1 / nlabels, color="grey", ls="-.", lw=1, label=f"chance (1/{nlabels})")
            where = ", ".join(f"{k}={v}" for k, v in zip(others, setting))
            ax1.set(xlabel="step", ylabel=f"training loss (moving average of {a.smooth} steps)",
                    title=f"training loss{' — ' + where if where else ''}")
            ax2.set(xlabel="step", ylabel="dev accuracy", title=f"dev accuracy{' — ' + where if where else ''}")
            ax3.set(xlabel="step", ylabel="dev loss (cross-entropy)", title=f"dev loss{' — ' + where if where else ''}")
            for ax in (ax1, ax2, ax3):
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)
        title = (f"{os.path.basename(a.results)}: by {key or 'run'} (thin: one seed each; dashed: still running; "
                 f"band: 95% interval of the mean across seeds)"
                 f"{f'; {left_out} more settings of the other keys not drawn' if left_out else ''}")
        # wrapped to the figure's width (about 14 characters per inch at this size)
        fig.suptitle(textwrap.fill(title, width=int(fig.get_figwidth() * 14)), fontsize=10)
        fig.tight_layout()
        fig.savefig(out, dpi=100)
        plt.close(fig)
        written.append(out)
        info[key or "runs"] = {"kind": "curves", "facets": len(settings), "left_out": left_out,
                               "max_runs_per_line": per_line, "file": os.path.basename(out)}
    print(json.dumps(info, indent=1) if a.json else "\n".join(written))


if __name__ == "__main__":
    main()
