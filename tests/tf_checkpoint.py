#!/usr/bin/python3
"""TensorFlow 1.x checkpoints (Google's and HFL's Chinese BERT releases): a tensor bundle that
this test writes following TF's format (a LevelDB-style table index with masked CRC-32C block
trailers, BundleEntryProtos with each tensor's CRC-32C, one data shard; kernels stored [in, out];
LayerNorm gamma/beta; cls/* heads, Adam slots and global_step present to be ignored;
bert_config.json instead of config.json) trains to the same numbers, bit for bit, as the same
weights in safetensors. A damaged tensor, a truncated shard and a missing shard are refused.
CRC-32C itself is checked against the published test vectors (RFC 3720 B.4).

usage: tf_checkpoint.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import os
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, crc32c, done, fresh_work, safetensors_arrays, train_with_model, write_tf_index, write_tf_model  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture

check(crc32c(b"123456789") == 0xE3069283 and crc32c(bytes(32)) == 0x8A9136AA and crc32c(b"\xff" * 32) == 0x62A8AB43
      and crc32c(bytes(range(32))) == 0x46DD794E, "crc32c test vectors")


tf = os.path.join(WORK, "tf")
src = os.path.join(WORK, "model")
write_tf_model(src, tf, extra=True)

r = subprocess.run([BIN, "inspect", tf], capture_output=True, text=True)
check(r.returncode == 0 and "bert/encoder/layer_1/output/dense/kernel" in r.stdout and "global_step" in r.stdout,
      f"inspect: {r.stdout[-300:]} {r.stderr[-200:]}")


def train(model, name):
    return train_with_model(BIN, WORK, model, name)


_, ref = train("model", "ref")
r, got = train("tf", "tf")
check(r.returncode == 0 and got and got == ref, f"the TF checkpoint's run differs: {r.stderr[-300:]}")

data = os.path.join(tf, "bert_model.ckpt.data-00000-of-00001")
good = open(data, "rb").read()
bad = bytearray(good)
bad[100] ^= 0x01
open(data, "wb").write(bytes(bad))
r, _ = train("tf", "bad")
check(r.returncode != 0 and "CRC-32C" in r.stderr, f"a flipped bit: {r.stderr[-300:]}")
open(data, "wb").write(good[: len(good) // 2])
r, _ = train("tf", "trunc")
check(r.returncode != 0 and "past the end" in r.stderr, f"a truncated shard: {r.stderr[-300:]}")
os.remove(data)
r, _ = train("tf", "missing")
check(r.returncode != 0 and "data-00000-of-00001" in r.stderr, f"a missing shard: {r.stderr[-300:]}")
done()
