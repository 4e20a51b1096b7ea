#!/usr/bin/python3
"""Checkpoints written by someone else, hostile ones included, are refused with a message
naming the file, never a crash or an out-of-bounds access (the ASan + UBSan pass runs this
too). The findings of a review (reproduced in the project's h2, h3 and m10 scripts):

pytorch_model.bin (the pickle and its storages, written here by hand as torch.save lays them
out): sizes whose byte count wraps to 0 (2^40 x 2^22 elements), a storage of 2^62 elements,
negative strides (one walking back from element 3, one from element 0), a stride of 2^62
whose reach overflows int64, a view larger than its storage, a pickle of 20 M opcodes in a
20 KB deflated archive (refused within 1 GB), and a faithful file that loads (the writer is right);
TF 1.x bundles: an ignored entry of size -4096 beside a real tensor, a kernel of shape
[2^62, 1] whose bytes wrap to 0, a shape of [-1, -4], and a faithful one that loads.

usage: hostile_checkpoints.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, write_tf_index  # noqa: E402

BIN, FIX, WORK = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def model_dir(name):
    d = os.path.join(WORK, name)
    os.makedirs(d)
    for f in ("config.json", "vocab.txt"):
        shutil.copy(os.path.join(FIX, "model", f), d)
    return d


# ---- pytorch_model.bin: a pickle as torch.save (>= 1.6) writes a state dict

def pstr(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def pint(n):
    if 0 <= n < 1 << 31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes(8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1: any 64-bit value, negative ones too


def ptuple(items):
    return b"(" + b"".join(items) + b"t"


def state_dict_pickle(tensors):
    """tensors: [(name, storage key, storage numel, offset, size, stride)]."""
    p = b"\x80\x02" + b"ccollections\nOrderedDict\n" + b")R" + b"("
    for name, key, numel, offset, size, stride in tensors:
        storage = ptuple([pstr("storage"), b"ctorch\nFloatStorage\n", pstr(key), pstr("cpu"), pint(numel)]) + b"Q"
        args = ptuple([storage, pint(offset), ptuple([pint(x) for x in size]), ptuple([pint(x) for x in stride]),
                       b"\x89", b"ccollections\nOrderedDict\n)R"])
        p += pstr(name) + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R"
    return p + b"u."


def write_bin(d, tensors, storages, pickle=None):
    with zipfile.ZipFile(os.path.join(d, "pytorch_model.bin"), "w") as z:
        z.writestr("archive/data.pkl", pickle if pickle is not None else state_dict_pickle(tensors))
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)


def inspect(d):
    return subprocess.run([BIN, "inspect", d], capture_output=True, text=True, timeout=120)


raw4 = struct.pack("<4f", 1, 2, 3, 4)
d = model_dir("bin_ok")
write_bin(d, [("bert.good", "0", 4, 1, [3], [1])], {"0": raw4})
r = inspect(d)
check(r.returncode == 0 and "bert.good" in r.stdout, f"a faithful pickle: {r.returncode} {r.stderr[-300:]} {r.stdout[-300:]}")

HOSTILE_BIN = {
    "numel_wraps": ([("bert.evil", "0", 4, 0, [1 << 40, 1 << 22], [0, 0])], "bad size"),
    "storage_wraps": ([("bert.evil", "0", 1 << 62, 0, [1 << 20], [1])], "storage"),
    "negative_stride_from_3": ([("bert.evil", "0", 4, 3, [8], [-1])], "stride"),
    "negative_stride_from_0": ([("bert.evil", "0", 4, 0, [4096], [-4096])], "stride"),
    "stride_overflows": ([("bert.evil", "0", 4, 0, [3], [1 << 62])], "stride"),
    "view_past_storage": ([("bert.evil", "0", 4, 2, [3], [1])], "past its storage"),
    "view_larger_than_storage": ([("bert.evil", "0", 4, 0, [64], [0])], "past its storage"),
}
for name, (tensors, word) in HOSTILE_BIN.items():
    d = model_dir("bin_" + name)
    write_bin(d, tensors, {"0": raw4})
    r = inspect(d)
    check(r.returncode == 1 and "pytorch_model.bin" in r.stderr and word in r.stderr,
          f"{name}: exit {r.returncode} (want 1, a message naming the file): {r.stderr[-300:]}")

d = model_dir("bin_bomb")  # 20 M opcodes deflate to ~20 KB; each would cost a value of ~200 bytes
with zipfile.ZipFile(os.path.join(d, "pytorch_model.bin"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("archive/data.pkl", b")" * 20_000_000 + b"}.")
r = inspect(d)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB, the largest child so far
check(os.path.getsize(os.path.join(d, "pytorch_model.bin")) < 100_000 and r.returncode == 1 and
      "not a state dict" in r.stderr and peak < 1_000_000, f"pickle bomb: exit {r.returncode}, peak {peak} kB: {r.stderr[-300:]}")

# ---- TF 1.x bundles

data = bytes(range(256)) * 64  # 16 KiB of shard
GOOD = ("bert/embeddings/word_embeddings", 1, [4, 32], 0, 4 * 32 * 4, None)
HOSTILE_TF = {
    "negative_size_beside_a_tensor": [GOOD, ("global_step", 9, [], 0, -4096, 0)],
    "shape_wraps_to_zero_bytes": [("bert/encoder/layer_0/attention/self/query/kernel", 1, [1 << 62, 1], 0, 0, None)],
    "negative_shape": [("bert/embeddings/LayerNorm/gamma", 1, [-1, -4], 0, 16, None)],
    "past_the_shard": [("bert/embeddings/LayerNorm/gamma", 1, [8192], 0, 8192 * 4, 0)],
}


def tf_dir(name, entries):
    d = os.path.join(WORK, name)
    os.makedirs(d)
    shutil.copy(os.path.join(FIX, "model", "vocab.txt"), d)
    shutil.copy(os.path.join(FIX, "model", "config.json"), os.path.join(d, "bert_config.json"))
    write_tf_index(os.path.join(d, "bert_model.ckpt"), entries, data)
    return d


d = tf_dir("tf_ok", [GOOD])
r = inspect(d)
check(r.returncode == 0 and "word_embeddings" in r.stdout, f"a faithful TF index: {r.returncode} {r.stderr[-300:]}")
for name, entries in HOSTILE_TF.items():
    d = tf_dir("tf_" + name, entries)
    r = subprocess.run([BIN, "inspect", d], capture_output=True, text=True, timeout=120)
    r2 = subprocess.run([BIN, "tokenize", d, "你好"], capture_output=True, text=True, timeout=120)  # loads the vocab only
    check(r.returncode in (0, 1), f"{name}: inspect exit {r.returncode}: {r.stderr[-300:]}")  # the index only, no crash
    cfg = os.path.join(WORK, name + ".json")
    tiny = open(os.path.join(FIX, "tiny.json")).read().replace('"path": "model"', f'"path": "{d}"')
    tiny = tiny.replace('"train.jsonl"', f'"{FIX}/train.jsonl"').replace('"dev.jsonl"', f'"{FIX}/dev.jsonl"')
    tiny = tiny.replace('"labels.json"', f'"{FIX}/labels.json"')
    open(cfg, "w").write(tiny)
    t = subprocess.run([BIN, "train", cfg], capture_output=True, text=True, timeout=120)
    check(t.returncode == 1 and "bert_model.ckpt" in t.stderr and r2.returncode == 0,
          f"{name}: train exit {t.returncode} (want 1 naming the checkpoint): {t.stderr[-300:]}")
done()
