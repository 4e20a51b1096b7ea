#!/usr/bin/python3
"""Tiny fixtures for integration tests: a random BERT (HF directory) and a learnable 3-class
CLUE-style task of synthetic Chinese text. Deterministic.

usage: make_tiny.py OUTDIR
writes OUTDIR/model/{config.json,vocab.txt,model.safetensors},
       OUTDIR/{train,dev}.jsonl, OUTDIR/labels.json, OUTDIR/tiny.json (a run config)
"""
import json
import os
import random
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
from reference import write_safetensors, f32  # noqa: E402

CHARS = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
H, L, NH, I, P = 32, 2, 2, 64, 64
LABELS = [("100", "news_story"), ("101", "news_culture"), ("102", "news_sports")]


def model(out):
    os.makedirs(out, exist_ok=True)
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 4)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "，", "。"] + list(CHARS)
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    cfg = {"vocab_size": len(vocab), "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": NH,
           "intermediate_size": I, "max_position_embeddings": P, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
           "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
           "initializer_range": 0.02}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    g = torch.Generator().manual_seed(7)
    t = {}
    def lin(name, o, i):
        t[name + ".weight"] = f32(torch.randn(o, i, generator=g) * 0.02)
        t[name + ".bias"] = f32(torch.zeros(o))
    def ln(name):
        t[name + ".weight"] = f32(torch.ones(H))
        t[name + ".bias"] = f32(torch.zeros(H))
    t["bert.embeddings.word_embeddings.weight"] = f32(torch.randn(len(vocab), H, generator=g) * 0.02)
    t["bert.embeddings.position_embeddings.weight"] = f32(torch.randn(P, H, generator=g) * 0.02)
    t["bert.embeddings.token_type_embeddings.weight"] = f32(torch.randn(2, H, generator=g) * 0.02)
    ln("bert.embeddings.LayerNorm")
    for l in range(L):
        p = f"bert.encoder.layer.{l}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            lin(p + n, H, H)
        ln(p + "attention.output.LayerNorm")
        lin(p + "intermediate.dense", I, H)
        lin(p + "output.dense", H, I)
        ln(p + "output.LayerNorm")
    lin("bert.pooler.dense", H, H)
    write_safetensors(os.path.join(out, "model.safetensors"), t)


def data(out, name, n, rng):
    third = len(CHARS) // 3
    with open(os.path.join(out, name), "w") as f:
        for _ in range(n):
            c = rng.randrange(3)
            own = CHARS[c * third:(c + 1) * third]
            k = rng.randint(6, 20)
            s = "".join(rng.choice(own) if rng.random() < 0.6 else rng.choice(CHARS) for _ in range(k))
            f.write(json.dumps({"label": LABELS[c][0], "label_desc": LABELS[c][1], "sentence": s,
                                "keywords": ""}, ensure_ascii=False) + "\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    model(os.path.join(out, "model"))
    rng = random.Random(3)
    data(out, "train.jsonl", 240, rng)
    data(out, "dev.jsonl", 90, rng)
    with open(os.path.join(out, "labels.json"), "w") as f:
        for lab, desc in LABELS:
            f.write(json.dumps({"label": lab, "label_desc": desc}) + "\n")
    cfg = {"model": {"path": "model"},
           "data": {"train": "train.jsonl", "dev": "dev.jsonl", "labels": "labels.json", "format": "clue",
                    "train_size": 160, "max_seq_length": 24},
           "train": {"batch_size": 16, "learning_rate": 3e-3, "epochs": 8, "warmup_ratio": 0.1,
                     "weight_decay": 0.01, "max_grad_norm": 1.0, "eval_every": 5, "seed": 3, "threads": 1},
           "optimizer": {"correct_bias": True},
           "reinit": {"pooler": False, "top_layers": 0}}
    with open(os.path.join(out, "tiny.json"), "w") as f:
        json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main()
