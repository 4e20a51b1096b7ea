#!/usr/bin/python3
"""Plots a bertsweep results file the way the seed's report did: training loss and dev accuracy
over steps, one figure per swept key, thin lines per run and the mean +- one standard deviation
per value of the key (other keys pooled). Unfinished runs are left out and counted in the title.

usage: plot_results.py RESULTS.h5 OUTDIR [--smooth 10] [--max-step N]
(a file can be read while its sweep runs)
"""
import argparse
import os
import warnings

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FIXED = {"run_id", "seed", "status", "steps_done", "total_steps", "best_dev_accuracy", "best_step",
         "final_dev_accuracy", "final_train_loss", "majority_baseline", "wall_seconds", "rank"}


def smooth(y, w):
    if w <= 1:
        return y
    c = np.cumsum(np.insert(np.nan_to_num(y), 0, 0.0))
    out = np.full_like(y, np.nan)
    out[w - 1:] = (c[w:] - c[:-w]) / w
    return out


def band(ax, x, ys, color, label):
    ys = np.array(ys)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m, s = np.nanmean(ys, axis=0), np.nanstd(ys, axis=0)
    ax.plot(x, m, color=color, lw=2, label=label)
    ax.fill_between(x, m - s, m + s, color=color, alpha=0.2, lw=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("outdir")
    ap.add_argument("--smooth", type=int, default=10)
    ap.add_argument("--max-step", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    with h5py.File(a.results, "r") as f:
        runs = f["runs"][:]
        loss, acc, est = f["train/loss"][:], f["eval/accuracy"][:], f["eval/step"][:]
    keys = [k for k in runs.dtype.names if k not in FIXED] or [None]
    done = runs["status"] == b"done"
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    written = []
    for key in keys:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        values = sorted(set(runs[key].tolist())) if key else [None]
        for i, v in enumerate(values):
            sel = np.where(done & ((runs[key] == v) if key else True))[0]
            if len(sel) == 0:
                continue
            col = colors[i % len(colors)]
            T = int(runs["total_steps"][sel].max())
            if a.max_step:
                T = min(T, a.max_step)
            x = np.arange(1, T + 1)
            ys = [smooth(loss[r, :T], a.smooth) for r in sel]
            for y in ys:
                ax1.plot(x, y, color=col, lw=0.5, alpha=0.35)
            name = (v.decode() if isinstance(v, bytes) else v) if key else "all runs"
            band(ax1, x, ys, col, f"{key}={name} ({len(sel)} runs)" if key else name)
            ne = int((est[sel[0]] >= 0).sum())
            ex = est[sel[0], :ne]
            keep = ex <= T
            accs = [acc[r, :ne][keep] for r in sel]
            for y in accs:
                ax2.plot(ex[keep], y, color=col, lw=0.5, alpha=0.35)
            band(ax2, ex[keep], accs, col, f"{key}={name}" if key else name)
        unfinished = int((~done).sum())
        ax1.set(xlabel="step", ylabel=f"training loss (moving average of {a.smooth})", title="training loss")
        ax2.set(xlabel="step", ylabel="dev accuracy", title="dev accuracy")
        for ax in (ax1, ax2):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"{os.path.basename(a.results)}: by {key or 'run'}"
                     + (f" ({unfinished} unfinished runs left out)" if unfinished else ""))
        fig.tight_layout()
        out = os.path.join(a.outdir, f"{(key or 'runs').replace('.', '_')}.png")
        fig.savefig(out, dpi=110)
        plt.close(fig)
        written.append(out)
    print("\n".join(written))


if __name__ == "__main__":
    main()
