#!/usr/bin/python3
"""pytorch_model.bin checkpoints, written here by Debian's python3-torch (torch.save): the same
tiny model as safetensors, as a .bin with contiguous tensors, as a .bin whose tensors are
transposed views and slices of shared storages (plus an int64 position_ids buffer, as older
transformers saved), as float16, and as two .bin shards with pytorch_model.bin.index.json —
every run equals the safetensors run bit for bit (float16: equals the float16 safetensors
run). Refused with a message: a pickle naming a global outside the state-dict subset (and
nothing of it executed), a truncated archive, a zip that torch did not write.

usage: torchbin.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import collections
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, safetensors_arrays, train_with_model  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
src = os.path.join(WORK, "model")
arrays = safetensors_arrays(os.path.join(src, "model.safetensors"))


def model_dir(name, files):
    d = os.path.join(WORK, name)
    shutil.copytree(src, d)
    os.remove(os.path.join(d, "model.safetensors"))
    for fname, obj in files.items():
        if isinstance(obj, bytes):
            open(os.path.join(d, fname), "wb").write(obj)
        elif isinstance(obj, dict) and "weight_map" in obj:
            json.dump(obj, open(os.path.join(d, fname), "w"))
        else:
            torch.save(obj, os.path.join(d, fname))
    return name


def plain(dtype=torch.float32):
    sd = collections.OrderedDict((k, torch.from_numpy(a).to(dtype)) for k, a in arrays.items())
    sd._metadata = collections.OrderedDict({"": {"version": 1}})
    return sd


def views():
    """Every 2-d weight stored transposed (a non-contiguous view); every 1-d tensor a slice of
    one shared storage; an int64 buffer that bertsweep must carry but never use."""
    sd = collections.OrderedDict()
    ones = [k for k, a in arrays.items() if a.ndim == 1]
    shared = torch.from_numpy(np.concatenate([arrays[k] for k in ones]))
    at = 0
    for k, a in arrays.items():
        if a.ndim == 2:
            sd[k] = torch.from_numpy(a.T.copy()).t()
        else:
            sd[k] = shared[at: at + a.size]
            at += a.size
    sd["bert.embeddings.position_ids"] = torch.arange(16).unsqueeze(0)
    check(not all(t.is_contiguous() for t in sd.values()), "the fixture has non-contiguous tensors")
    return sd


def safetensors_f16():
    body, out = b"", {}
    for k, a in arrays.items():
        b = a.astype(np.float16).tobytes()
        out[k] = {"dtype": "F16", "shape": list(a.shape), "data_offsets": [len(body), len(body) + len(b)]}
        body += b
    h = json.dumps(out).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body




def train(model, name):
    return train_with_model(BIN, WORK, model, name)


_, ref = train("model", "ref")
check(ref != "", "the safetensors run")
keys = list(arrays)
half = len(keys) // 2
shard = lambda ks: collections.OrderedDict((k, torch.from_numpy(arrays[k])) for k in ks)  # noqa: E731
cases = {
    "bin": model_dir("bin", {"pytorch_model.bin": plain()}),
    "bin_views": model_dir("bin_views", {"pytorch_model.bin": views()}),
    "bin_sharded": model_dir("bin_sharded", {
        "pytorch_model-00001-of-00002.bin": shard(keys[:half]),
        "pytorch_model-00002-of-00002.bin": shard(keys[half:]),
        "pytorch_model.bin.index.json": {"weight_map": {k: f"pytorch_model-0000{1 + (i >= half)}-of-00002.bin"
                                                        for i, k in enumerate(keys)}}}),
}
for name, d in cases.items():
    r, got = train(d, name)
    check(r.returncode == 0 and got == ref, f"{name}: differs from the safetensors run: {r.stderr[-300:]}")
f16s = model_dir("st_f16", {"model.safetensors": safetensors_f16()})
f16b = model_dir("bin_f16", {"pytorch_model.bin": plain(torch.float16)})
(r1, a), (r2, b) = train(f16s, "st_f16"), train(f16b, "bin_f16")
check(r1.returncode == 0 and r2.returncode == 0 and a == b and a != ref, f"float16: {r1.stderr[-200:]} {r2.stderr[-200:]}")
r = subprocess.run([BIN, "inspect", os.path.join(WORK, "bin_views")], capture_output=True, text=True)
check(r.returncode == 0 and "pytorch_model.bin" in r.stdout and "bert.embeddings.position_ids" in r.stdout,
      f"inspect .bin: {r.stdout[-300:]} {r.stderr[-200:]}")


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(WORK, "pwned"),))


sd = plain()
sd["evil"] = Evil()
bad = model_dir("bin_evil", {"pytorch_model.bin": sd})
r, _ = train(bad, "evil")
check(r.returncode != 0 and "refused, nothing executed" in r.stderr and "system" in r.stderr,
      f"a pickle calling os.system: {r.returncode} {r.stderr[-300:]}")
check(not os.path.exists(os.path.join(WORK, "pwned")), "the pickle's payload ran")
good = open(os.path.join(WORK, "bin", "pytorch_model.bin"), "rb").read()
trunc = model_dir("bin_trunc", {"pytorch_model.bin": good[: len(good) // 2]})
r, _ = train(trunc, "trunc")
check(r.returncode != 0 and "pytorch_model.bin" in r.stderr, f"truncated .bin: {r.stderr[-300:]}")
zpath = os.path.join(WORK, "plain.zip")
with zipfile.ZipFile(zpath, "w") as z:
    z.writestr("readme.txt", "not a checkpoint")
notbin = model_dir("bin_zip", {"pytorch_model.bin": open(zpath, "rb").read()})
r, _ = train(notbin, "zip")
check(r.returncode != 0 and "data.pkl" in r.stderr, f"a zip without data.pkl: {r.stderr[-300:]}")
done()
