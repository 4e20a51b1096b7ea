#!/usr/bin/python3
"""PyTorch reference for bertsweep's numerics (DESIGN.md section 3).

Writes a small random BERT as a HuggingFace directory and a reference file (safetensors) with
a batch, the logits, the loss, every parameter gradient, and the losses and final parameters
of 10 optimizer steps for each optimizer variant. The model follows transformers'
BertForSequenceClassification (post-LN, additive -10000 padding mask) and runs in float64,
so the reference is exact to far below the float32 tolerances the C test asserts.

usage: reference.py OUTDIR [gelu|gelu_new]
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

V, H, L, NH, I, P, TT, C = 100, 64, 2, 4, 128, 32, 2, 3
B, T = 4, 16
EPS_LN = 1e-12
STEPS = 10

# Optimizer variants; tests/test_parity.c holds the same table.
VARIANTS = [
    # name, kind, correct_bias, lr, wd, warmup, max_grad_norm, layer-wise lr decay, prior weight decay
    ("hf_bias", "hf_adamw", True, 1e-3, 0.01, 3, 0.5, 1.0, False),
    ("hf_nobias", "hf_adamw", False, 1e-3, 0.01, 3, 0.5, 1.0, False),
    ("torch", "torch_adamw", True, 1e-3, 0.01, 3, 0.5, 1.0, False),
    ("bertadam", "bert_adam", False, 1e-3, 0.01, 3, 0.5, 1.0, False),
    ("hf_noclip", "hf_adamw", True, 5e-4, 0.0, 0, 0.0, 1.0, False),
    ("hf_strong_wd", "hf_adamw", True, 1e-3, 0.5, 0, 0.5, 1.0, False),  # ordinary decay with prior off
    ("llrd", "hf_adamw", True, 1e-3, 0.01, 3, 0.5, 0.7, False),
    ("prior_wd", "hf_adamw", True, 1e-3, 0.5, 3, 0.5, 1.0, True),
    ("llrd_prior_torch", "torch_adamw", True, 1e-3, 0.5, 3, 0.5, 0.7, True),
]
BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-6


def param_shapes():
    s = {"embeddings.word_embeddings.weight": (V, H),
         "embeddings.position_embeddings.weight": (P, H),
         "embeddings.token_type_embeddings.weight": (TT, H),
         "embeddings.LayerNorm.weight": (H,), "embeddings.LayerNorm.bias": (H,)}
    for l in range(L):
        p = f"encoder.layer.{l}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            s[p + n + ".weight"] = (H, H)
            s[p + n + ".bias"] = (H,)
        s[p + "attention.output.LayerNorm.weight"] = (H,)
        s[p + "attention.output.LayerNorm.bias"] = (H,)
        s[p + "intermediate.dense.weight"] = (I, H)
        s[p + "intermediate.dense.bias"] = (I,)
        s[p + "output.dense.weight"] = (H, I)
        s[p + "output.dense.bias"] = (H,)
        s[p + "output.LayerNorm.weight"] = (H,)
        s[p + "output.LayerNorm.bias"] = (H,)
    s["pooler.dense.weight"] = (H, H)
    s["pooler.dense.bias"] = (H,)
    s["classifier.weight"] = (C, H)
    s["classifier.bias"] = (C,)
    return s


def init_params(gen):
    params = {}
    for name, shape in param_shapes().items():
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        if name.endswith("LayerNorm.weight"):
            x = 1.0 + 0.1 * x
        elif name.endswith(".bias"):
            x = 0.05 * x
        else:
            x = 0.15 * x
        # round to float32 so that C (which loads float32) starts from the same point
        params[name] = x.float().double().requires_grad_(True)
    return params


def gelu(x, act):
    if act == "gelu":
        return F.gelu(x)
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(p, ids, types, mask, labels, act):
    hd = H // NH
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][:T][None] \
        + p["embeddings.token_type_embeddings.weight"][types]
    x = F.layer_norm(x, (H,), p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], EPS_LN)
    ext = (1.0 - mask[:, None, None, :].double()) * -10000.0
    for l in range(L):
        pre = f"encoder.layer.{l}."
        lin = lambda t, n: F.linear(t, p[pre + n + ".weight"], p[pre + n + ".bias"])
        heads = lambda t: t.view(B, T, NH, hd).transpose(1, 2)
        q, k, v = heads(lin(x, "attention.self.query")), heads(lin(x, "attention.self.key")), \
            heads(lin(x, "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + ext
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(B, T, H)
        a = lin(ctx, "attention.output.dense")
        x1 = F.layer_norm(a + x, (H,), p[pre + "attention.output.LayerNorm.weight"],
                          p[pre + "attention.output.LayerNorm.bias"], EPS_LN)
        f = lin(gelu(lin(x1, "intermediate.dense"), act), "output.dense")
        x = F.layer_norm(f + x1, (H,), p[pre + "output.LayerNorm.weight"], p[pre + "output.LayerNorm.bias"], EPS_LN)
    pooled = torch.tanh(F.linear(x[:, 0], p["pooler.dense.weight"], p["pooler.dense.bias"]))
    logits = F.linear(pooled, p["classifier.weight"], p["classifier.bias"])
    return logits, F.cross_entropy(logits, labels)


def no_decay(name):
    return name.endswith(".bias") or name.endswith("LayerNorm.weight")


class HfAdamW(torch.optim.Optimizer):
    """transformers.AdamW (optimization.py), as DESIGN.md section 3 states it."""

    def __init__(self, params, lr, betas, eps, weight_decay, correct_bias):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      correct_bias=correct_bias))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                st = self.state[p]
                if not st:
                    st["step"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                b1, b2 = g["betas"]
                st["step"] += 1
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                denom = st["v"].sqrt().add_(g["eps"])
                step_size = g["lr"]
                if g["correct_bias"]:
                    step_size = step_size * math.sqrt(1 - b2 ** st["step"]) / (1 - b1 ** st["step"])
                p.addcdiv_(st["m"], denom, value=-step_size)
                if g["weight_decay"] > 0:
                    p.add_(p, alpha=-g["lr"] * g["weight_decay"])


class BertAdam(torch.optim.Optimizer):
    """Google BERT's AdamWeightDecayOptimizer: no bias correction, decay inside the update."""

    def __init__(self, params, lr, betas, eps, weight_decay):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                st = self.state[p]
                if not st:
                    st["m"], st["v"] = torch.zeros_like(p), torch.zeros_like(p)
                b1, b2 = g["betas"]
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                update = st["m"] / (st["v"].sqrt() + g["eps"])
                if g["weight_decay"] > 0:
                    update += g["weight_decay"] * p
                p.add_(update, alpha=-g["lr"])


def depth(name):
    """Layer-wise lr decay exponent: head and pooler 0... as Zhang et al.: top block 1, embeddings L+1."""
    if name.startswith("embeddings."):
        return L + 1
    if name.startswith("encoder.layer."):
        return L - int(name.split(".")[2])
    return 0


def make_optimizer(kind, params, lr, wd, correct_bias, llrd, prior):
    groups = []
    for n, p in params.items():  # one group per tensor: its own lr scale and decay
        g = {"params": [p], "lr": lr * llrd ** depth(n), "weight_decay": 0.0 if no_decay(n) else wd}
        if prior:
            g["prior_wd"], g["weight_decay"], g["prior"] = g["weight_decay"], 0.0, p.detach().clone()
        groups.append(g)
    if kind == "hf_adamw":
        return HfAdamW(groups, lr, (BETA1, BETA2), ADAM_EPS, wd, correct_bias)
    if kind == "torch_adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(BETA1, BETA2), eps=ADAM_EPS, weight_decay=wd)
    return BertAdam(groups, lr, (BETA1, BETA2), ADAM_EPS, wd)


@torch.no_grad()
def prior_decay(opt):
    """Zhang et al.'s PriorWD, before the optimizer's step: p -= lr * wd * (p - p_pretrained)."""
    for g in opt.param_groups:
        if g.get("prior_wd", 0) > 0:
            for p in g["params"]:
                p.add_(p - g["prior"], alpha=-g["lr"] * g["prior_wd"])


def linear_warmup(warmup, total):
    # transformers.get_linear_schedule_with_warmup
    def f(k):
        if k < warmup:
            return float(k) / float(max(1, warmup))
        return max(0.0, float(total - k) / float(max(1, total - warmup)))
    return f


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, (dtype, arr) in tensors.items():
        b = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def f32(t):
    return ("F32", t.detach().float().numpy().astype("<f4"))


def main():
    out, act = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "gelu")
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(1234 if act == "gelu" else 4321)
    params = init_params(gen)
    ids = torch.randint(5, V, (B, T), generator=gen)
    lens = [T, 11, 7, 13]
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(lens):
        mask[b, :n] = 1
        ids[b, 0] = 2  # [CLS]
        ids[b, n:] = 0  # [PAD]
    types = torch.zeros(B, T, dtype=torch.long)
    types[0, 9:] = 1
    types[3, 6:13] = 1
    labels = torch.tensor([0, 2, 1, 2])

    # The model directory: mixed naming on purpose (bert. prefix or not, gamma/beta), plus an
    # ignored MLM head tensor, as real checkpoints come.
    cfg = {"vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": NH,
           "intermediate_size": I, "max_position_embeddings": P, "type_vocab_size": TT,
           "layer_norm_eps": EPS_LN, "hidden_act": act, "hidden_dropout_prob": 0.1,
           "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
           "id2label": {str(i): f"L{i}" for i in range(C)}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(5, V)]) + "\n")
    model = {}
    for n, p in params.items():
        stored = n
        if n.startswith("embeddings."):
            stored = "bert." + n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        elif n.startswith("encoder.layer.0."):
            stored = "bert." + n
        model[stored] = f32(p)
    model["cls.predictions.bias"] = f32(torch.zeros(V))
    write_safetensors(os.path.join(out, "model.safetensors"), model)

    ref = {"input.ids": f32(ids), "input.types": f32(types), "input.mask": f32(mask), "input.labels": f32(labels)}
    logits, loss = forward(params, ids, types, mask, labels, act)
    loss.backward()
    ref["logits"] = f32(logits)
    ref["loss"] = f32(loss.reshape(1))
    for n, p in params.items():
        ref["grad." + n] = f32(p.grad)

    init = {n: p.detach().clone() for n, p in params.items()}
    for name, kind, cb, lr, wd, warmup, clip, llrd, prior in VARIANTS:
        ps = {n: t.clone().requires_grad_(True) for n, t in init.items()}
        opt = make_optimizer(kind, ps, lr, wd, cb, llrd, prior)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_warmup(warmup, STEPS))
        losses, norms = [], []
        for _ in range(STEPS):
            opt.zero_grad()
            _, l = forward(ps, ids, types, mask, labels, act)
            l.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(list(ps.values()), clip if clip > 0 else 1e30)))
            prior_decay(opt)
            opt.step()
            sched.step()
            losses.append(float(l))
        ref[f"opt.{name}.losses"] = f32(torch.tensor(losses))
        ref[f"opt.{name}.grad_norms"] = f32(torch.tensor(norms))
        for n, p in ps.items():
            ref[f"opt.{name}.{n}"] = f32(p)

    # Mixout(p) with masks fixed here: forward/backward through W' = ((1-M)Wt + M W - p Wt)/(1-p)
    PM = 0.3
    dense = [n for n in init if n.endswith(".weight") and "LayerNorm" not in n and not n.startswith("embeddings.")]
    ps = {n: t.clone().requires_grad_(True) for n, t in init.items()}
    eff = dict(ps)
    for n in dense:
        target = (init[n] + 0.05 * torch.randn(init[n].shape, generator=gen, dtype=torch.float64)).float().double()
        keep = (torch.rand(init[n].shape, generator=gen, dtype=torch.float64) < 1 - PM).double()
        eff[n] = ((1 - keep) * target + keep * ps[n] - PM * target) / (1 - PM)
        ref["mix.target." + n] = f32(target)
        ref["mix.mask." + n] = f32(keep)
    mix_logits, mix_loss = forward(eff, ids, types, mask, labels, act)
    mix_loss.backward()
    ref["mix.logits"] = f32(mix_logits)
    ref["mix.loss"] = f32(mix_loss.reshape(1))
    for n in init:
        ref["mix.grad." + n] = f32(ps[n].grad)

    # the masked-LM head (transform + LayerNorm, decoder tied to the word embeddings)
    hid = torch.randn(B * T, H, generator=gen, dtype=torch.float64).float().double().requires_grad_(True)
    pos = torch.tensor([0, 3, 5, 17, 18, 40, 63])
    tgt = torch.randint(5, V, (len(pos),), generator=gen)
    head = {"cls.predictions.transform.dense.weight": 0.15 * torch.randn(H, H, generator=gen, dtype=torch.float64),
            "cls.predictions.transform.dense.bias": 0.05 * torch.randn(H, generator=gen, dtype=torch.float64),
            "cls.predictions.transform.LayerNorm.weight": 1 + 0.1 * torch.randn(H, generator=gen, dtype=torch.float64),
            "cls.predictions.transform.LayerNorm.bias": 0.05 * torch.randn(H, generator=gen, dtype=torch.float64),
            "cls.predictions.bias": 0.05 * torch.randn(V, generator=gen, dtype=torch.float64)}
    head = {k: v.float().double().requires_grad_(True) for k, v in head.items()}
    word = init["embeddings.word_embeddings.weight"].clone().requires_grad_(True)
    x = F.linear(hid[pos], head["cls.predictions.transform.dense.weight"], head["cls.predictions.transform.dense.bias"])
    x = F.layer_norm(gelu(x, act), (H,), head["cls.predictions.transform.LayerNorm.weight"],
                     head["cls.predictions.transform.LayerNorm.bias"], EPS_LN)
    mlm_loss = F.cross_entropy(F.linear(x, word, head["cls.predictions.bias"]), tgt)
    mlm_loss.backward()
    ref["mlm.hidden"] = f32(hid)
    ref["mlm.pos"] = f32(pos)
    ref["mlm.target"] = f32(tgt)
    ref["mlm.loss"] = f32(mlm_loss.reshape(1))
    ref["mlm.grad.hidden"] = f32(hid.grad)
    ref["mlm.grad.word"] = f32(word.grad)
    for k, v in head.items():
        ref["mlm." + k] = f32(v)
        ref["mlm.grad." + k] = f32(v.grad)

    # dtype conversion checks for the loader
    x = torch.randn(50, generator=gen) * 3
    x[0], x[1], x[2] = 6.0e-8, -1.0e-5, 65504.0  # a float16 subnormal, a small and the largest normal
    ref["conv.f16"] = ("F16", x.half().numpy().astype("<f2"))
    ref["conv.f16_as_f32"] = f32(x.half().float())
    bf = x.bfloat16().float()
    ref["conv.bf16"] = ("BF16", (bf.numpy().astype("<f4").view("<u4") >> 16).astype("<u2"))
    ref["conv.bf16_as_f32"] = f32(bf)
    write_safetensors(os.path.join(out, "reference.safetensors"), ref)


if __name__ == "__main__":
    main()
