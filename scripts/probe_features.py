#!/usr/bin/python3
"""How much of the demo task a pre-trained model's frozen features already hold: a linear probe.

Encodes the demo's messages with the model (no dropout, no fine-tuning) and fits a logistic
regression (L-BFGS, L2 penalty) on three feature sets: the last layer's [CLS] vector, the mean of
the last layer's token vectors, and the mean of the layer below. The same regression on character
unigrams and bigrams (the report's bag-of-words baseline) runs on the same split, so the two are
compared on equal terms. The split is this script's own (1,000 training and 600 dev messages drawn
with Python's random.seed(42) from data/demo's pools), not the sweep's sample; each line is the
best of three penalties chosen on the dev set, for the probe and the baseline alike.
Tokenisation follows the model's tokenizer_config.json as BertTokenizer does (split at spaces and
punctuation, around each Chinese character unless tokenize_chinese_chars is false, then greedy
WordPiece), without lower-casing, accent stripping or never_split (the demo models use none).

usage: probe_features.py MODEL_DIR [DATA_DIR]   (DATA_DIR default data/demo; CPU, a few seconds)
"""
import json
import math
import random
import struct
import sys
import unicodedata
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F


def is_cjk(ch):
    c = ord(ch)
    return (0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0x20000 <= c <= 0x2A6DF or 0x2A700 <= c <= 0x2B81F or
            0x2B820 <= c <= 0x2CEAF or 0xF900 <= c <= 0xFAFF or 0x2F800 <= c <= 0x2FA1F)


def load_weights(model_dir):
    raw = open(f"{model_dir}/model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, base = json.loads(raw[8:8 + n]), 8 + n
    weights = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit(f"{model_dir}/model.safetensors: {name} is {t['dtype']}; this script reads F32 only")
        a, b = t["data_offsets"]
        array = np.frombuffer(raw[base + a:base + b], dtype=np.float32).reshape(t["shape"])
        weights[name.removeprefix("bert.")] = torch.from_numpy(array.copy())
    return weights


class Encoder:
    """HF BertModel's forward in float32, eval mode (dropout off)."""

    def __init__(self, model_dir):
        self.cfg = json.load(open(f"{model_dir}/config.json"))
        self.w = load_weights(model_dir)
        self.vocab = {t.rstrip("\n"): i for i, t in enumerate(open(f"{model_dir}/vocab.txt", encoding="utf-8"))}
        try:
            tc = json.load(open(f"{model_dir}/tokenizer_config.json"))
        except FileNotFoundError:
            tc = {}
        self.chinese_chars = tc.get("tokenize_chinese_chars", True)

    def words(self, text):
        out, cur = [], []
        for ch in text:
            alone = unicodedata.category(ch).startswith("P") or (self.chinese_chars and is_cjk(ch))
            if ch.isspace() or alone:
                out += ["".join(cur)] if cur else []
                out += [ch] if alone else []
                cur = []
            else:
                cur.append(ch)
        return out + (["".join(cur)] if cur else [])

    def wordpiece(self, word):
        if len(word) > 100:
            return [self.vocab["[UNK]"]]
        ids, i = [], 0
        while i < len(word):
            for j in range(len(word), i, -1):
                piece = word[i:j] if i == 0 else "##" + word[i:j]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    i = j
                    break
            else:
                return [self.vocab["[UNK]"]]
        return ids

    def ids(self, text, max_len=64):
        v = self.vocab
        pieces = [i for w in self.words(text) for i in self.wordpiece(w)]
        return torch.tensor([v["[CLS]"]] + pieces[:max_len - 2] + [v["[SEP]"]])

    def layers(self, text):
        """The hidden states after the embeddings and after each layer, [T, H] each."""
        w, c = self.w, self.cfg
        H, NH = c["hidden_size"], c["num_attention_heads"]
        hd, eps = H // NH, c.get("layer_norm_eps", 1e-12)
        ids = self.ids(text)
        T = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T] +
             w["embeddings.token_type_embeddings.weight"][0])
        x = F.layer_norm(x, (H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        out = [x]
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def lin(v, name):
                return F.linear(v, w[p + name + ".weight"], w[p + name + ".bias"])

            def heads(name):
                return lin(x, name).view(T, NH, hd).transpose(0, 1)

            q, k, v = heads("attention.self.query"), heads("attention.self.key"), heads("attention.self.value")
            ctx = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v).transpose(0, 1).reshape(T, H)
            x = F.layer_norm(lin(ctx, "attention.output.dense") + x, (H,), w[p + "attention.output.LayerNorm.weight"],
                             w[p + "attention.output.LayerNorm.bias"], eps)
            f = lin(F.gelu(lin(x, "intermediate.dense")), "output.dense")
            x = F.layer_norm(f + x, (H,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
            out.append(x)
        return out

    def features(self, texts):
        """[CLS] of the last layer, mean of the last layer's tokens, mean of the layer below's."""
        rows = {"cls": [], "mean": [], "mean_below": []}
        with torch.no_grad():
            for text in texts:
                hs = self.layers(text)
                rows["cls"].append(hs[-1][0])
                rows["mean"].append(hs[-1][1:-1].mean(0) if len(hs[-1]) > 2 else hs[-1][0])
                rows["mean_below"].append(hs[-2][1:-1].mean(0) if len(hs[-2]) > 2 else hs[-2][0])
        return {k: torch.stack(v) for k, v in rows.items()}


def logistic_accuracy(xtr, ytr, xdv, ydv, classes, penalty):
    """Multinomial logistic regression with an L2 penalty, fitted by L-BFGS; dev accuracy."""
    w = torch.zeros(xtr.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + penalty * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return ((xdv @ w + b).argmax(1) == ydv).float().mean().item()


def standardise(a, b):
    mu, sd = a.mean(0), a.std(0) + 1e-6
    return (a - mu) / sd, (b - mu) / sd


def grams(text):
    s = "".join(text.split())
    return list(s) + [s[i:i + 2] for i in range(len(s) - 1)]


def bag_of_grams(train, dev):
    index = {g: i for i, g in enumerate(Counter(g for t in train for g in set(grams(t))))}

    def encode(texts):
        x = torch.zeros(len(texts), len(index))
        for j, t in enumerate(texts):
            for g in grams(t):
                if g in index:
                    x[j, index[g]] = 1
        return x

    return encode(train), encode(dev)


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    model_dir, data_dir = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "data/demo"
    torch.set_num_threads(1)
    load = lambda p: [json.loads(line) for line in open(p, encoding="utf-8")]  # noqa: E731
    train_pool, dev_pool = load(f"{data_dir}/train.jsonl"), load(f"{data_dir}/dev.jsonl")
    random.seed(42)
    train, dev = random.sample(train_pool, 1000), random.sample(dev_pool, 600)
    labels = {lab: i for i, lab in enumerate(sorted({r["label"] for r in train_pool}))}
    ytr = torch.tensor([labels[r["label"]] for r in train])
    ydv = torch.tensor([labels[r["label"]] for r in dev])
    tr_text, dv_text = [r["sentence"] for r in train], [r["sentence"] for r in dev]
    enc = Encoder(model_dir)
    ftr, fdv = enc.features(tr_text), enc.features(dv_text)
    print(f"model {model_dir}: {enc.cfg['num_hidden_layers']} layers, hidden {enc.cfg['hidden_size']}; "
          f"split {len(train)} / {len(dev)} (random.seed(42)); dev accuracy of a logistic regression on")
    for name in ("cls", "mean", "mean_below"):
        a, b = standardise(ftr[name], fdv[name])
        acc = max(logistic_accuracy(a, ytr, b, ydv, len(labels), p) for p in (1e-3, 1e-2, 1e-1))
        print(f"  frozen features, {name:10s}  {acc:.3f}")
    a, b = bag_of_grams(tr_text, dv_text)
    acc = max(logistic_accuracy(a, ytr, b, ydv, len(labels), p) for p in (1e-4, 1e-3, 1e-2))
    print(f"  character unigrams + bigrams  {acc:.3f}")
    print(f"  majority class                {max(Counter(r['label'] for r in dev).values()) / len(dev):.3f}")


if __name__ == "__main__":
    main()
