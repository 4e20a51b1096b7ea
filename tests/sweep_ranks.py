#!/usr/bin/python3
"""The sweep as a plain process and under mpirun with 1, 2 and 3 ranks: every run's loss, lr, grad-norm and
eval series are bit-identical across all four and equal to `bertsweep train` of that run
alone; the results file reads with h5py and pandas, and h5dump -H reads it.

usage: sweep_ranks.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun, schema_metrics  # noqa: E402
import numpy as np

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture


cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["train"]["epochs"] = 3
cfg["train"]["save_final_weights"] = True
cfg["sweep"] = {"seeds": [1, 2], "grid": {"optimizer.correct_bias": [True, False], "train.epochs": [2, 3]}}
json.dump(cfg, open(os.path.join(WORK, "sweep.json"), "w"), indent=1)

files = {}
for n in (0, 1, 2, 3):  # 0: a plain process, no mpirun
    out = os.path.join(WORK, f"np{n}.h5")
    cmd = (mpirun(n) if n else []) + [BIN, "sweep", os.path.join(WORK, "sweep.json"), "--output", out,
                                      "--progress", "0"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, f"np={n}: exit {r.returncode}: {r.stderr[-2000:]}")
    files[n] = out

NAMES = schema_metrics(BIN)
SCHEMA = json.loads(subprocess.run([BIN, "schema", "--format", "json"], capture_output=True, text=True).stdout)
data = {}
for n, path in files.items():
    with h5py.File(path, "r") as f:
        data[n] = {k: f[k][:] for k in NAMES}
        data[n]["runs"] = f["runs"][:]
for n in (0, 2, 3):
    for k in NAMES:
        a, b = data[1][k], data[n][k]
        check(a.shape == b.shape and a.tobytes() == b.tobytes(), f"{k}: np=1 and np={n} differ")
ranks_used = set(data[3]["runs"]["rank"].tolist())
check(len(ranks_used) >= 2, f"np=3: all runs ran on ranks {ranks_used}")

# file structure, read as users will
with h5py.File(files[3], "r") as f:
    runs = f["runs"][:]
    check(runs.shape == (8,), f"/runs shape {runs.shape}")
    check(set(runs.dtype.names) >= {"run_id", "seed", "optimizer.correct_bias", "train.epochs", "status",
                                    "steps_done", "best_dev_accuracy", "final_dev_accuracy", "wall_seconds"},
          f"/runs columns {runs.dtype.names}")
    check(runs.dtype["optimizer.correct_bias"] == np.bool_, "bool grid column is not numpy bool")
    check(all(s == b"done" for s in runs["status"]), f"statuses {runs['status']}")
    check(np.array_equal(runs["steps_done"], runs["total_steps"]), "steps_done != total_steps")
    T = f["train/loss"].shape[1]
    check(f["train/loss"].shape == (8, T) and T == runs["total_steps"].max(), "train/loss shape")
    for i, row in enumerate(runs):
        n = row["total_steps"]
        loss = f["train/loss"][i]
        check(not np.isnan(loss[:n]).any() and np.isnan(loss[n:]).all(), f"run {i}: NaN layout of train/loss")
        ne = int((f["eval/step"][i] >= 0).sum())
        check(ne >= 1 and not np.isnan(f["eval/accuracy"][i][:ne]).any(), f"run {i}: eval rows")
        check(f["eval/step"][i][ne - 1] == n, f"run {i}: last eval not at the last step")
        check(np.float32(row["final_dev_accuracy"]) == f["eval/accuracy"][i][ne - 1], f"run {i}: final acc")
    for a in ("program_version", "sweep_config", "created", "config_path"):
        check(isinstance(f.attrs[a], str), f"attribute {a} is not str")
    json.loads(f.attrs["sweep_config"])
    cfgs = f["runs"].attrs["run_configs"]
    check(len(cfgs) == 8 and isinstance(cfgs[0], str), "run_configs attribute")
    check(isinstance(f["train/loss"].attrs["units"], str), "units attribute")
    check([d.label for d in f["train/loss"].dims] == ["run", "step"] or
          [list(d.keys()) for d in f["train/loss"].dims] == [["run"], ["step"]], "dimension scales")
    try:
        import pandas
        df = pandas.DataFrame(runs)
        check(len(df) == 8 and df["optimizer.correct_bias"].dtype == bool, "pandas DataFrame")
    except ImportError:
        check(False, "pandas missing")
    # each run equals `bertsweep train` of its resolved config alone
    for i in (0, 5):
        p = os.path.join(WORK, f"run{i}.json")
        open(p, "w").write(cfgs[i])
        m = os.path.join(WORK, f"run{i}.tsv")
        r = subprocess.run([BIN, "train", p, "--metrics", m], capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, f"train run {i}: {r.stderr}")
        lines = open(m).read().strip().split("\n")
        head, rows = lines[0].split("\t"), [l.split("\t") for l in lines[1:]]
        n = runs["total_steps"][i]
        ev = [x for x in rows if len(x) == len(head)]
        # every metric of the schema: per-step ones on every line, per-evaluation ones where one ran
        for d in SCHEMA["datasets"]:
            if d["role"] != "metric":
                continue
            per_eval = d["shape"] == "[runs, max evaluations]"
            src = ev if per_eval else rows
            col = head.index(d["column"])
            want = f[d["path"]][i][:len(src) if per_eval else n]
            got = np.array([float(x[col]) for x in src], dtype=want.dtype)
            check(len(src) and got.tobytes() == want.tobytes(), f"run {i}: {d['path']} differs from bertsweep train")

    # final weights: the same bytes as `bertsweep train --save` of that run
    layout = json.loads(f["final_weights"].attrs["tensors"])
    fw = f["final_weights"][5]
    save = os.path.join(WORK, "saved5")
    r = subprocess.run([BIN, "train", os.path.join(WORK, "run5.json"), "--save", save], capture_output=True, text=True)
    check(r.returncode == 0, f"train --save: {r.stderr}")
    raw = open(os.path.join(save, "model.safetensors"), "rb").read()
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8:8 + n])
    same = True
    for t in layout:
        key = t["name"] if t["name"].startswith("classifier") else "bert." + t["name"]
        b0, b1 = hdr[key]["data_offsets"]
        want = np.frombuffer(raw[8 + n + b0:8 + n + b1], dtype="<f4")
        size = int(np.prod(t["shape"]))
        same &= want.tobytes() == fw[t["offset"]:t["offset"] + size].tobytes()
    check(same and len(layout) > 10, "final_weights differ from train --save")

r = subprocess.run(["h5dump", "-H", files[3]], capture_output=True, text=True)
check(r.returncode == 0 and "train" in r.stdout, "h5dump -H failed")
done()
