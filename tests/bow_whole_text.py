#!/usr/bin/python3
"""The bag-of-words baseline reads the whole text, not max_seq_length tokens as the model does:
on a task whose label is decided by the last character of a 40-character text, with
max_seq_length 8, the baseline is near 1.0 (a baseline cut where the model is cut would see
only the shared prefix and stay near chance, 1/3).

usage: bow_whole_text.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
rng = random.Random(5)
vocab = [w for w in open(os.path.join(WORK, "model", "vocab.txt"), encoding="utf-8").read().split("\n") if len(w) == 1]
prefix = "".join(rng.choice(vocab[:20]) for _ in range(39))  # the same 39 characters in every example
labels = [json.loads(line)["label"] for line in open(os.path.join(WORK, "labels.json"))]
marks = vocab[30:33]


def write(path, n):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            k = i % 3
            f.write(json.dumps({"label": labels[k], "sentence": prefix + marks[k]}, ensure_ascii=False) + "\n")


write(os.path.join(WORK, "long_train.jsonl"), 90)
write(os.path.join(WORK, "long_dev.jsonl"), 30)
cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["data"].update(train="long_train.jsonl", dev="long_dev.jsonl", max_seq_length=8, train_size=0)
cfg["train"].update(max_steps=1, eval_every=1)
json.dump(cfg, open(os.path.join(WORK, "long.json"), "w"), indent=1)
r = subprocess.run([BIN, "train", os.path.join(WORK, "long.json")], capture_output=True, text=True, timeout=300)
m = re.search(r"bag-of-words ([0-9.]+)", r.stdout)
check(r.returncode == 0 and m, f"train: {r.returncode} {r.stderr[-300:]} {r.stdout[:300]}")
check(m and float(m.group(1)) > 0.9, f"bag-of-words on whole texts: {m and m.group(1)} (a cut at 8 tokens gives ~0.33)")
done()
