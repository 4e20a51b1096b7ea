#!/usr/bin/python3
"""The results file in xarray and pandas without joins, and run configs that stand alone.

- `xr.open_dataset(FILE, engine="h5netcdf", group="train")` (and "eval") has `seed` and every
  grid key as coordinates along `run`, equal to /runs' columns (strings as str); a groupby on a
  dotted grid key gives the per-group means computed by hand from h5py;
- the root group opens with /final_weights in it (dimensions run x parameter), its values
  those h5py reads, and the "parameter" dimension takes no space;
- /runs run_configs holds every config key: defaults (optimizer.beta2, train.eval_batch_size),
  and what comes from the model (train.dropout, model.do_lower_case) as the model says;
  left out where the model gives no single value (dropouts that differ);
- `check` finds a coordinate that differs from /runs, and `check --salvage` writes it again
  without losing a run;
- the Python example of docs/results-file.md runs on such a file and prints no bytes;
- a file written before configs were completed (run_configs as given) resumes without
  running any run again.

usage: xarray_groups.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np
import xarray as xr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# two copies of the tiny model: A says dropout 0.2 everywhere and lower-cases; B's dropouts differ
for name, hidden, attn, lower in (("mA", 0.2, 0.2, True), ("mB", 0.1, 0.0, None)):
    d = os.path.join(WORK, name)
    shutil.copytree(os.path.join(WORK, "model"), d)
    conf = json.load(open(os.path.join(d, "config.json")))
    conf.update(hidden_dropout_prob=hidden, attention_probs_dropout_prob=attn)
    json.dump(conf, open(os.path.join(d, "config.json"), "w"))
    if lower is not None:
        json.dump({"do_lower_case": lower}, open(os.path.join(d, "tokenizer_config.json"), "w"))

cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["train"].update(epochs=1, save_final_weights=True)
cfg["sweep"] = {"seeds": [1, 2], "grid": {"model.path": ["mA", "mB"], "optimizer.correct_bias": [True, False]}}
cfg["output"] = "runs.h5"
given = json.loads(json.dumps(cfg))
path = os.path.join(WORK, "sweep.json")
json.dump(cfg, open(path, "w"))
res = os.path.join(WORK, "runs.h5")
r = subprocess.run([BIN, "sweep", path, "--progress", "0"], capture_output=True, text=True)
check(r.returncode == 0, f"sweep: {r.stderr[-400:]}")

with h5py.File(res, "r") as f:
    runs = f["runs"][:]
    loss = f["train/loss"][:]
    acc = f["eval/accuracy"][:]
    final = f["final_weights"][:]
    param_bytes = f["parameter"].id.get_storage_size() if "parameter" in f else -1
    configs = [json.loads(c) for c in f["runs"].attrs["run_configs"]]
nruns = len(runs)
check(nruns == 8, f"{nruns} runs")
nlabels = sum(1 for ln in open(os.path.join(WORK, "labels.json")) if ln.strip())
check(list(runs["labels"]) == [nlabels] * nruns, f"/runs labels {runs['labels']}, the task has {nlabels}")
KEYS = ["run_id", "seed", "model.path", "optimizer.correct_bias"]


def column(name):
    v = runs[name]
    return np.array([x.decode() for x in v]) if v.dtype.kind == "S" else v


for group, data in (("train", loss), ("eval", acc)):
    ds = xr.open_dataset(res, engine="h5netcdf", group=group)
    check(all(k in ds.coords and ds.coords[k].dims == ("run",) for k in KEYS),
          f"{group}: coordinates {list(ds.coords)}")
    for k in KEYS:
        if k in ds.coords:
            v = ds.coords[k].values
            check(v.tolist() == column(k).tolist(), f"{group}/{k}: {v.tolist()} != /runs {column(k).tolist()}")
    check(ds["model.path"].dtype.kind in "UO" and isinstance(ds["model.path"].values[0], str),
          f"{group}: string coordinate read as {ds['model.path'].dtype}")
    var = "loss" if group == "train" else "accuracy"
    means = ds[var].groupby("model.path").mean("run")
    for m in ("mA", "mB"):
        want = np.nanmean(data[column("model.path") == m], axis=0) if group == "eval" else \
            data[column("model.path") == m].mean(axis=0)
        got = means.sel({"model.path": m}).values
        check(np.allclose(got, want, rtol=1e-6, equal_nan=True), f"{group} groupby model.path={m}: {got[:3]} vs {want[:3]}")
    ds.close()

try:
    root = xr.open_dataset(res, engine="h5netcdf")
    fw = root["final_weights"]
    check(fw.dims == ("run", "parameter") and fw.shape == final.shape, f"root final_weights {fw.dims} {fw.shape}")
    check(np.array_equal(fw.values, final), "final_weights through xarray differ from h5py's")
    root.close()
except Exception as ex:  # the failure this test exists for: "mixing of labeled and unlabeled dimensions"
    check(False, f"the root group does not open in xarray: {ex}")
check(param_bytes == 0, f"/parameter stores {param_bytes} bytes")

# run_configs: every key docs/config.md's key table lists, defaults and the model's values
keys = set(re.findall(r'\{"([a-z_]+\.[a-z_0-9]+)", K_', open(os.path.join(SRC, "io", "runconfig.c")).read()))
check(len(keys) > 30, f"{len(keys)} config keys found in io/runconfig.c")
for i, c in enumerate(configs):
    flat = {f"{s}.{k}": v for s, sec in c.items() for k, v in sec.items()}
    model = flat.get("model.path")
    expect_missing = {"train.dropout"} if model == "mB" else set()
    missing = keys - set(flat) - expect_missing
    check(not missing, f"run {i}: run_configs lacks {sorted(missing)}")
    check(flat.get("optimizer.beta2") == 0.999 and flat.get("train.eval_batch_size") == 64,
          f"run {i}: defaults beta2 {flat.get('optimizer.beta2')}, eval_batch_size {flat.get('train.eval_batch_size')}")
    if model == "mA":
        check(flat.get("train.dropout") == 0.2 and flat.get("model.do_lower_case") is True,
              f"run {i}: model A's dropout/do_lower_case {flat.get('train.dropout')} {flat.get('model.do_lower_case')}")
    else:
        check("train.dropout" not in flat and flat.get("model.do_lower_case") is False,
              f"run {i}: model B: dropout {flat.get('train.dropout')}, do_lower_case {flat.get('model.do_lower_case')}")
    check(flat["train.seed"] == int(runs["seed"][i]) and flat["optimizer.correct_bias"] == bool(runs["optimizer.correct_bias"][i]),
          f"run {i}: seed and grid value in its config")

# check compares the copies with /runs; salvage writes them again from /runs
damaged = os.path.join(WORK, "damaged.h5")
shutil.copy(res, damaged)
with h5py.File(damaged, "r+") as f:
    f["eval/seed"][3] = 99
    f["train/model.path"][5] = b"mZ"
r = subprocess.run([BIN, "check", damaged], capture_output=True, text=True)
check(r.returncode == 1 and "/eval/seed of run 3 differs from its /runs seed" in r.stdout
      and "/train/model.path of run 5 differs" in r.stdout, f"check of changed coordinates: {r.stdout[-500:]}")
fixed = os.path.join(WORK, "fixed.h5")
r = subprocess.run([BIN, "check", "--salvage", damaged, fixed], capture_output=True, text=True)
with h5py.File(fixed, "r") as f:
    ok = f["eval/seed"][3] == runs["seed"][3] and f["train/model.path"][5] == runs["model.path"][5] and \
        list(f["runs"]["status"]) == [b"done"] * nruns
check(r.returncode == 0 and ok and subprocess.run([BIN, "check", fixed], capture_output=True).returncode == 0,
      f"salvage rewrites the coordinates and keeps every run: {r.stdout[-300:]} {r.stderr[-300:]}")
r = subprocess.run([BIN, "check", res], capture_output=True, text=True)
check(r.returncode == 0 and "no damage found" in r.stdout, f"check of the intact file: {r.stdout[-300:]}")

# the Python example of docs/results-file.md runs on this file as written (its path replaced)
readme = open(os.path.join(SRC, "docs", "results-file.md"), encoding="utf-8").read()
start = readme.index("```python")
code = readme[start + len("```python"):readme.index("```", start + 9)].replace("results/demo.h5", res)
r = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, cwd=WORK)
check(r.returncode == 0 and "True" in r.stdout, f"docs/results-file.md's example: {r.stderr[-600:]}")
check("b'" not in r.stdout, f"docs/results-file.md's example prints bytes: {r.stdout[:400]}")

# a file whose run_configs are as given (bertsweep 0.1) resumes with nothing run again
with h5py.File(res, "r+") as f:
    old = []
    for i in range(nruns):
        c = json.loads(json.dumps(given))
        for k in ("sweep", "output"):
            c.pop(k)
        c["train"]["seed"] = int(runs["seed"][i])
        c["model"]["path"] = column("model.path")[i]
        c["optimizer"]["correct_bias"] = bool(runs["optimizer.correct_bias"][i])
        old.append(json.dumps(c))
    f["runs"].attrs["run_configs"] = old
r = subprocess.run([BIN, "sweep", path, "--progress", "0"], capture_output=True, text=True)
check(r.returncode == 0 and "8 runs were done already" in r.stdout, f"resume of as-given configs: {r.stdout[-300:]} {r.stderr[-300:]}")
with h5py.File(res, "r") as f:
    check(len(f["runs"]) == 8 and np.array_equal(f["train/loss"][:], loss, equal_nan=True), "the resume added or changed runs")
    # a finished run's stored config is kept word for word (a default of today's version need
    # not be the one it was trained with): issue 43's h2
    check(list(f["runs"].attrs["run_configs"]) == old, "the resume rewrote finished runs' stored configs")
done()
