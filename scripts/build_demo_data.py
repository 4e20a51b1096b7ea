#!/usr/bin/python3
"""Builds the demo data from the npm package chinese-poetry (MIT licence), deterministically.

Fine-tuning task (data/demo/): 15-class authorship of Song-dynasty shi poems
(dist/quantangshi/poet.song.*.json): the 15 most prolific named poets; exact duplicates
removed; a poem series (same poet, same title up to 其一/其二/...) never split across
train and dev. Written as CLUE-style JSON lines (label, label_desc, sentence, keywords)
with labels.json and the licence notice. Train pool: up to 1000 poems per poet (the sweep
subsamples 1k of them); dev: 200 per poet.

Pre-training corpus (data/pretrain/corpus.txt, not committed): the disjoint Tang shi
(poet.tang.*.json), Song ci and Yuan qu, one poem per line, with any poem of the
fine-tuning poets' shi removed.

usage: build_demo_data.py [--package DIR_OR_TGZ] [--out REPO_ROOT]
(without --package it runs `npm pack chinese-poetry@2.0.1` into data/.cache)
"""
import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import tarfile

VERSION = "2.0.1"
N_CLASSES, TRAIN_PER, DEV_PER = 15, 1000, 200
ANON = {"佚名", "無名氏", "无名氏", "不詳", "失名"}


def fetch(cache):
    os.makedirs(cache, exist_ok=True)
    tgz = os.path.join(cache, f"chinese-poetry-{VERSION}.tgz")
    if not os.path.exists(tgz):
        subprocess.run(["npm", "pack", f"chinese-poetry@{VERSION}", "--silent"], cwd=cache, check=True,
                       stdout=subprocess.DEVNULL)
    return tgz


def unpack(pkg, cache):
    if os.path.isdir(pkg):
        return pkg
    root = os.path.join(cache, "package")
    if not os.path.isdir(root):
        with tarfile.open(pkg) as t:
            t.extractall(cache, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(cache)
    return root


def files(root, pattern):
    def num(p):
        m = re.search(r"\.(\d+)\.json$", p)
        return int(m.group(1)) if m else 0
    return sorted(glob.glob(os.path.join(root, "dist", pattern)), key=num)


def poems(paths):
    for p in paths:
        for d in json.load(open(p, encoding="utf-8")):
            text = "".join(d.get("paragraphs") or [])
            if text:
                yield d.get("author", ""), d.get("title", "") or d.get("rhythmic", ""), text


SERIES = re.compile(r"[其第]?[一二三四五六七八九十百]+首?$|[（(].*?[)）]$|\s+")


def series_key(author, title):
    return author + "|" + SERIES.sub("", title)


def in_dev(key):
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5 == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--package")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    a = ap.parse_args()
    cache = os.path.join(a.out, "data", ".cache")
    root = unpack(a.package or fetch(cache), cache)

    seen, song = set(), []
    for author, title, text in poems(files(root, "quantangshi/poet.song.*.json")):
        if text in seen or author in ANON:
            continue
        seen.add(text)
        song.append((author, title, text))
    counts = {}
    for author, _, _ in song:
        counts[author] = counts.get(author, 0) + 1
    poets = sorted(counts, key=lambda x: (-counts[x], x))[:N_CLASSES]
    label = {p: str(100 + i) for i, p in enumerate(poets)}

    train, dev = [], []
    per_train, per_dev = {p: 0 for p in poets}, {p: 0 for p in poets}
    # deterministic order: by hash, so the caps take an unbiased sample of each poet
    for author, title, text in sorted(song, key=lambda x: hashlib.sha1((x[0] + x[2]).encode()).hexdigest()):
        if author not in label:
            continue
        row = {"label": label[author], "label_desc": author, "sentence": text, "keywords": title}
        if in_dev(series_key(author, title)):
            if per_dev[author] < DEV_PER:
                dev.append(row)
                per_dev[author] += 1
        elif per_train[author] < TRAIN_PER:
            train.append(row)
            per_train[author] += 1

    out = os.path.join(a.out, "data", "demo")
    os.makedirs(out, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("dev.jsonl", dev)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "labels.json"), "w", encoding="utf-8") as f:
        for p in poets:
            f.write(json.dumps({"label": label[p], "label_desc": p, "poems": counts[p]}, ensure_ascii=False) + "\n")
    lic = open(os.path.join(root, "LICENSE"), encoding="utf-8").read()
    with open(os.path.join(out, "LICENSE"), "w", encoding="utf-8") as f:
        f.write(f"The texts in this folder come from the npm package chinese-poetry {VERSION}\n"
                "(https://github.com/chinese-poetry/chinese-poetry), under its licence:\n\n" + lic)

    finetune = {r["sentence"] for r in train + dev} | {t for au, _, t in song if au in label}
    pre = os.path.join(a.out, "data", "pretrain")
    os.makedirs(pre, exist_ok=True)
    n = 0
    with open(os.path.join(pre, "corpus.txt"), "w", encoding="utf-8") as f:
        for pattern in ("quantangshi/poet.tang.*.json", "songci/ci.song.*.json", "yuanqu/yuanqu.json"):
            for _, _, text in poems(files(root, pattern)):
                if text not in finetune:
                    f.write(text.replace("\n", "") + "\n")
                    n += 1
    print(f"demo: {len(train)} train / {len(dev)} dev poems, {len(poets)} poets: {' '.join(poets)}")
    print(f"pre-training corpus: {n} poems -> {pre}/corpus.txt")


if __name__ == "__main__":
    main()
