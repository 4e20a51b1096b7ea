#!/usr/bin/python3
"""Checkpoint cost for a BERT-base-sized state: a sweep over a random BERT-base-shaped model
(12 layers, hidden 768, vocab 21128) writes checkpoints of parameters + Adam moments into the
results file; prints seconds per checkpoint and the slowdown at a given interval, measured
against the same run without checkpoints, in the same script.

usage: checkpoint_cost.py BERTSWEEP WORKDIR [STEPS=12] [THREADS=2]
"""
import json
import os
import shutil
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
from reference import f32, write_safetensors  # noqa: E402
import torch  # noqa: E402

BIN, WORK = sys.argv[1:3]
STEPS = int(sys.argv[3]) if len(sys.argv) > 3 else 12
THREADS = int(sys.argv[4]) if len(sys.argv) > 4 else 2
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(os.path.join(WORK, "model"))
V, H, L, I = 21128, 768, 12, 3072
g = torch.Generator().manual_seed(0)
t = {"bert.embeddings.word_embeddings.weight": f32(torch.randn(V, H, generator=g) * 0.02),
     "bert.embeddings.position_embeddings.weight": f32(torch.randn(512, H, generator=g) * 0.02),
     "bert.embeddings.token_type_embeddings.weight": f32(torch.randn(2, H, generator=g) * 0.02),
     "bert.embeddings.LayerNorm.weight": f32(torch.ones(H)), "bert.embeddings.LayerNorm.bias": f32(torch.zeros(H)),
     "bert.pooler.dense.weight": f32(torch.randn(H, H, generator=g) * 0.02), "bert.pooler.dense.bias": f32(torch.zeros(H))}
for l in range(L):
    p = f"bert.encoder.layer.{l}."
    for n, (o, i) in {"attention.self.query": (H, H), "attention.self.key": (H, H), "attention.self.value": (H, H),
                      "attention.output.dense": (H, H), "intermediate.dense": (I, H), "output.dense": (H, I)}.items():
        t[p + n + ".weight"] = f32(torch.randn(o, i, generator=g) * 0.02)
        t[p + n + ".bias"] = f32(torch.zeros(o))
    for n in ("attention.output.LayerNorm", "output.LayerNorm"):
        t[p + n + ".weight"] = f32(torch.ones(H))
        t[p + n + ".bias"] = f32(torch.zeros(H))
write_safetensors(os.path.join(WORK, "model", "model.safetensors"), t)
json.dump({"vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": 12, "intermediate_size": I,
           "max_position_embeddings": 512, "type_vocab_size": 2}, open(os.path.join(WORK, "model", "config.json"), "w"))
open(os.path.join(WORK, "model", "vocab.txt"), "w").write(
    "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"t{i}" for i in range(V - 5)]) + "\n")
with open(os.path.join(WORK, "train.jsonl"), "w") as f:
    for i in range(16 * STEPS):
        f.write(json.dumps({"label": str(i % 3), "sentence": " ".join(f"t{(i * 7 + k) % 999}" for k in range(100))}) + "\n")
open(os.path.join(WORK, "dev.jsonl"), "w").write(open(os.path.join(WORK, "train.jsonl")).read().split("\n", 16)[0] + "\n")


def run(every, name):
    cfg = {"model": {"path": "model"}, "data": {"train": "train.jsonl", "dev": "dev.jsonl", "format": "jsonl",
                                                "max_seq_length": 128},
           "train": {"batch_size": 16, "epochs": 1, "checkpoint_every": every, "threads": THREADS, "eval_every": 0},
           "output": name}
    p = os.path.join(WORK, name + ".json")
    json.dump(cfg, open(p, "w"))
    t0 = time.time()
    r = subprocess.run([BIN, "sweep", p, "--progress", "0"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr)
    with h5py.File(os.path.join(WORK, name), "r") as f:
        return float(f["runs"]["wall_seconds"][0]), time.time() - t0


base, _ = run(0, "nockpt.h5")
ck, _ = run(1, "ckpt_every_step.h5")
per_ckpt = (ck - base) / (STEPS - 1)
step = base / STEPS
size_gb = os.path.getsize(os.path.join(WORK, "ckpt_every_step.h5")) / 1e9
print(f"bert-base state (params + Adam m, v = {3 * 4 * 102e6 / 1e9:.2f} GB): step={step:.2f}s "
      f"checkpoint={per_ckpt:.2f}s file={size_gb:.1f}GB threads={THREADS}")
for every in (100, 500):
    print(f"checkpoint_every={every}: slowdown {100 * per_ckpt / (every * step):.2f}%")
