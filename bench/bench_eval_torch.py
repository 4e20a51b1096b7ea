#!/usr/bin/python3
"""The PyTorch side of the evaluation benchmark: the same BERT shape (read from the model's
config.json), float32, under torch.inference_mode(), on the very batches bench_eval ran
(token lengths in batch order; ids random: the cost does not depend on them), best of REPEATS.

usage: bench_eval_torch.py MODEL_DIR LENGTHS_FILE THREADS BATCH REPEATS"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import best_of  # noqa: E402


def main():
    model, lengths_file, threads, batch, repeats = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    torch.set_num_threads(threads)
    c = json.load(open(f"{model}/config.json"))
    V, H, L, NH, I, P = (c[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                        "intermediate_size", "max_position_embeddings"))
    hd, C = H // NH, 12
    lengths = [int(x) for x in open(lengths_file)]
    g = torch.Generator().manual_seed(0)
    p = lambda *s: torch.randn(*s, generator=g) * 0.02  # noqa: E731
    emb = [p(V, H), p(P, H), p(2, H), torch.ones(H), torch.zeros(H)]
    layers = [[p(H, H), torch.zeros(H), p(H, H), torch.zeros(H), p(H, H), torch.zeros(H), p(H, H), torch.zeros(H),
               torch.ones(H), torch.zeros(H), p(I, H), torch.zeros(I), p(H, I), torch.zeros(H), torch.ones(H),
               torch.zeros(H)] for _ in range(L)]
    head = [p(H, H), torch.zeros(H), p(C, H), torch.zeros(C)]
    batches = []
    for s in range(0, len(lengths), batch):
        lens = lengths[s:s + batch]
        B, T = len(lens), max(lens)
        mask = torch.zeros(B, T)
        for b, n in enumerate(lens):
            mask[b, :n] = 1
        batches.append((torch.randint(106, V, (B, T), generator=g), mask, (1.0 - mask[:, None, None, :]) * -10000.0))

    def forward(ids, ext):
        B, T = ids.shape
        x = F.layer_norm(emb[0][ids] + emb[1][:T][None] + emb[2][0], (H,), emb[3], emb[4], 1e-12)
        for (wq, bq, wk, bk, wv, bv, wo, bo, g1, b1, wi, bi, wo2, bo2, g2, b2) in layers:
            q = F.linear(x, wq, bq).view(B, T, NH, hd).transpose(1, 2)
            k = F.linear(x, wk, bk).view(B, T, NH, hd).transpose(1, 2)
            v = F.linear(x, wv, bv).view(B, T, NH, hd).transpose(1, 2)
            pr = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + ext, -1)
            x = F.layer_norm(F.linear((pr @ v).transpose(1, 2).reshape(B, T, H), wo, bo) + x, (H,), g1, b1, 1e-12)
            x = F.layer_norm(F.linear(F.gelu(F.linear(x, wi, bi)), wo2, bo2) + x, (H,), g2, b2, 1e-12)
        return F.linear(torch.tanh(F.linear(x[:, 0], head[0], head[1])), head[2], head[3]).argmax(-1)

    def evaluate():
        for ids, _, ext in batches:
            forward(ids, ext)

    with torch.inference_mode():
        best = best_of(evaluate, repeats)
    print(f"impl=pytorch-{torch.__version__}-inference_mode layers={L} hidden={H} examples={len(lengths)} "
          f"tokens={sum(lengths)} batch={batch} threads={threads} eval_s={best:.4f} "
          f"examples_per_s={len(lengths) / best:.1f}")


if __name__ == "__main__":
    main()
