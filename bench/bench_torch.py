#!/usr/bin/python3
"""The PyTorch side of the benchmark: the same BERT (HF structure, float32, dropout on) and the
same step (forward, backward, clip, AdamW) at the same thread count.

usage: bench_torch.py base|small THREADS STEPS"""
import math
import os
import resource
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import best_of  # noqa: E402


def main():
    which, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    V, P, C, B, T = 21128, 512, 15, 16, 128
    H, L, NH, I = (768, 12, 12, 3072) if which == "base" else (256, 4, 4, 1024)
    hd = H // NH
    g = torch.Generator().manual_seed(0)

    def p(*shape, std=0.02):
        return (torch.randn(*shape, generator=g) * std).requires_grad_(True)

    def ones(n):
        return torch.ones(n).requires_grad_(True)

    def zeros(n):
        return torch.zeros(n).requires_grad_(True)

    emb = [p(V, H), p(P, H), p(2, H), ones(H), zeros(H)]
    layers = [[p(H, H), zeros(H), p(H, H), zeros(H), p(H, H), zeros(H), p(H, H), zeros(H), ones(H), zeros(H),
               p(I, H), zeros(I), p(H, I), zeros(H), ones(H), zeros(H)] for _ in range(L)]
    head = [p(H, H), zeros(H), p(C, H), zeros(C)]
    params = emb + [t for l in layers for t in l] + head
    ids = torch.randint(100, 20100, (B, T), generator=g)
    mask = torch.ones(B, T)
    for b in range(B):
        mask[b, T - b * 4:] = 0
    types = torch.zeros(B, T, dtype=torch.long)
    labels = torch.arange(B) % C
    ext = (1.0 - mask[:, None, None, :]) * -10000.0
    opt = torch.optim.AdamW(params, lr=2e-5, weight_decay=0.01)

    def step():
        x = emb[0][ids] + emb[1][:T][None] + emb[2][types]
        x = F.dropout(F.layer_norm(x, (H,), emb[3], emb[4], 1e-12), 0.1)
        for (wq, bq, wk, bk, wv, bv, wo, bo, g1, b1, wi, bi, wo2, bo2, g2, b2) in layers:
            q = F.linear(x, wq, bq).view(B, T, NH, hd).transpose(1, 2)
            k = F.linear(x, wk, bk).view(B, T, NH, hd).transpose(1, 2)
            v = F.linear(x, wv, bv).view(B, T, NH, hd).transpose(1, 2)
            pr = F.dropout(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + ext, -1), 0.1)
            ctx = (pr @ v).transpose(1, 2).reshape(B, T, H)
            x = F.layer_norm(F.dropout(F.linear(ctx, wo, bo), 0.1) + x, (H,), g1, b1, 1e-12)
            f = F.linear(F.gelu(F.linear(x, wi, bi)), wo2, bo2)
            x = F.layer_norm(F.dropout(f, 0.1) + x, (H,), g2, b2, 1e-12)
        pooled = torch.tanh(F.linear(x[:, 0], head[0], head[1]))
        loss = F.cross_entropy(F.linear(F.dropout(pooled, 0.1), head[2], head[3]), labels)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    best = best_of(step, steps)
    print(f"impl=pytorch-{torch.__version__} model={which} layers={L} hidden={H} batch={B} seq={T} "
          f"threads={threads} step_s={best:.4f} tokens_per_s={B * T / best:.1f} "
          f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}")


if __name__ == "__main__":
    main()
