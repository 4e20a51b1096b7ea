#!/usr/bin/python3
"""Sharded safetensors checkpoints (model.safetensors.index.json + shards, as transformers'
save_pretrained writes them past max_shard_size): a run on the sharded copy of a model equals
a run on the single file bit for bit; inspect lists every shard's tensors; a truncated shard, a
weight_map that puts a tensor in the wrong shard, and a shard path leaving the directory are
refused with messages naming the file.

usage: sharded.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, safetensors_read, safetensors_write_subset, train_with_model  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
single, sharded = os.path.join(WORK, "model"), os.path.join(WORK, "model_sharded")
shutil.copytree(single, sharded)
os.remove(os.path.join(sharded, "model.safetensors"))
src = safetensors_read(os.path.join(single, "model.safetensors"))
names = sorted(src[0])
parts = [names[: len(names) // 2], names[len(names) // 2:]]
weight_map = {}


for i, keys in enumerate(parts):
    fname = f"model-{i + 1:05d}-of-00002.safetensors"
    safetensors_write_subset(os.path.join(sharded, fname), src, keys)
    weight_map.update({k: fname for k in keys})
index = os.path.join(sharded, "model.safetensors.index.json")
json.dump({"metadata": {"total_size": len(src[1])}, "weight_map": weight_map}, open(index, "w"))



def train(model, name):
    return train_with_model(BIN, WORK, model, name)


r1, a = train("model", "single")
r2, b = train("model_sharded", "sharded")
check(r1.returncode == 0 and r2.returncode == 0, f"train: {r1.stderr[-200:]} {r2.stderr[-300:]}")
check(a and a == b, "the sharded checkpoint's run differs from the single file's")

r = subprocess.run([BIN, "inspect", sharded], capture_output=True, text=True)
r0 = subprocess.run([BIN, "inspect", single], capture_output=True, text=True)
check(r.returncode == 0 and "sharded" in r.stdout and "in 2 file(s)" in r.stdout, f"inspect: {r.stdout[-300:]} {r.stderr}")
check(r0.stdout.splitlines()[-1].split(",")[-1] == r.stdout.splitlines()[-1].split(",")[-1],
      f"parameter counts differ: {r0.stdout.splitlines()[-1]} vs {r.stdout.splitlines()[-1]}")


def refused(what, want):
    r, _ = train("model_sharded", "bad")
    check(r.returncode != 0 and want in r.stderr, f"{what}: {r.returncode} {r.stderr[-300:]}")


shard2 = os.path.join(sharded, "model-00002-of-00002.safetensors")
good = open(shard2, "rb").read()
open(shard2, "wb").write(good[:-64])
refused("truncated shard", "model-00002-of-00002.safetensors")
open(shard2, "wb").write(good)
moved = dict(weight_map)
moved[parts[1][0]] = "model-00001-of-00002.safetensors"
json.dump({"weight_map": moved}, open(index, "w"))
refused("tensor in the wrong shard", "weight_map puts")
json.dump({"weight_map": {k: "../model/model.safetensors" for k in weight_map}}, open(index, "w"))
refused("shard outside the directory", "same directory")
json.dump({"weight_map": weight_map}, open(index, "w"))
r, _ = train("model_sharded", "again")
check(r.returncode == 0, f"restored index: {r.stderr[-200:]}")
done()
