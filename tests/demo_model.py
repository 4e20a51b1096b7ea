"""The shipped demo model and task (models/zh-apps-tiny, data/demo) load and learn: a short
fine-tune (400 examples, 2 epochs, lr 1e-3) must beat the majority class clearly, and the
bag-of-words baseline printed beside it must be a real classifier on this task; the model reads
Chinese as words of its vocabulary. About 20 s.

usage: demo_model.py BERTSWEEP REPO_ROOT WORKDIR"""
import json
import os
import re
import subprocess
import sys

from testlib import check, done

exe, root, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
model = os.path.join(root, "models", "zh-apps-tiny")
data = os.path.join(root, "data", "demo")
cfg = {
    "model": {"path": model},
    "data": {"train": f"{data}/train.jsonl", "dev": f"{data}/dev.jsonl", "labels": f"{data}/labels.json",
             "format": "clue", "train_size": 400, "dev_size": 240, "sampling": "uniform", "data_seed": 7,
             "max_seq_length": 64},
    "train": {"batch_size": 16, "eval_batch_size": 120, "learning_rate": 1e-3, "epochs": 2, "warmup_ratio": 0.1,
              "weight_decay": 0.01, "max_grad_norm": 1.0, "eval_every": 0},
    "optimizer": {"name": "hf_adamw", "correct_bias": True},
}
path = os.path.join(work, "demo_small.json")
json.dump(cfg, open(path, "w"))
env = dict(os.environ, OMP_NUM_THREADS="2")
r = subprocess.run([exe, "train", path], capture_output=True, text=True, env=env)
check(r.returncode == 0, f"train failed: {r.stderr[-500:]}")
out = r.stdout
m = re.search(r"(\d+) train / (\d+) dev examples, (\d+) labels", out)
check(m and m.groups() == ("400", "240", "12"), f"sizes: {m and m.groups()}")
b = re.search(r"majority class ([0-9.]+), bag-of-words ([0-9.]+)", out)
check(b is not None, "no baselines line")
acc = [float(x) for x in re.findall(r"acc=([0-9.]+)", out)]
check(len(acc) >= 1, "no evaluation")
if b and acc:
    majority, bow = float(b.group(1)), float(b.group(2))
    check(0.05 < majority < 0.2, f"majority baseline {majority}: 12 balanced classes give about 1/12")
    check(bow > majority + 0.25, f"bag-of-words {bow} should beat the majority class {majority} by far on this task")
    check(acc[-1] > majority + 0.15, f"fine-tuned accuracy {acc[-1]} does not beat the majority class {majority}")
    print(f"majority {majority:.3f}, bag-of-words {bow:.3f}, fine-tuned {acc[-1]:.3f}")
vocab = open(os.path.join(model, "vocab.txt"), encoding="utf-8").read().split("\n")
conf = json.load(open(os.path.join(model, "config.json")))
check(conf["vocab_size"] == len([v for v in vocab if v]), "config.json vocab_size matches vocab.txt")
# the model reads words: a dev message becomes the vocabulary's multi-character pieces
r = subprocess.run([exe, "tokenize", model, "文件可能无效或已被破坏"], capture_output=True, text=True)
toks = [ln.split()[1] for ln in r.stdout.splitlines() if ln[:1].isdigit()]
check(toks == ["[CLS]", "文件", "##可能", "##无效", "##或", "##已被", "##破坏", "[SEP]"], f"tokens: {toks} {r.stderr[-200:]}")
labels = [json.loads(x)["label"] for x in open(os.path.join(data, "labels.json"), encoding="utf-8")]
check(len(labels) == 12, f"{len(labels)} labels")
done()
