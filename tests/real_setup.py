#!/usr/bin/python3
"""The README's "Run the seed's experiment", followed end to end on stand-ins: a model directory
in Google's TF 1.x layout (bert_model.ckpt.index + data shard, bert_config.json, vocab.txt, as
the chinese_L-12_H-768_A-12 zip unpacks; written by testlib.write_tf_model from the tiny model)
and a folder in CLUE's TNEWS layout (train.json, dev.json, labels.json). inspect, tokenize and
scripts/check_real_setup.sh accept them; configs/tnews-bias-correction.json, pointed at them and
cut to 2 seeds and a few steps, plans, sweeps and reports. check_real_setup.sh names what to
fix: a missing vocab.txt, a missing labels.json.

usage: real_setup.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, write_tf_model  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.chdir(WORK)
model, data = os.path.join(WORK, "chinese_L-12_H-768_A-12"), os.path.join(WORK, "tnews")
write_tf_model("model", model)
os.makedirs(data)
for split in ("train", "dev"):
    shutil.copy(f"{split}.jsonl", os.path.join(data, f"{split}.json"))
shutil.copy("labels.json", data)
env = dict(os.environ, BERTSWEEP=BIN, OMP_NUM_THREADS="1")


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=300)


r = run(BIN, "inspect", model)
check(r.returncode == 0 and "bert/encoder/layer_0" in r.stdout, f"inspect: {r.stderr[-200:]}")
first = json.loads(open(os.path.join(data, "dev.json")).readline())["sentence"]
r = run(BIN, "tokenize", model, first)
check(r.returncode == 0 and "[CLS]" in r.stdout and "[UNK]" not in r.stdout, f"tokenize: {r.stdout[-200:]} {r.stderr}")
script = os.path.join(ROOT, "scripts", "check_real_setup.sh")
r = run("bash", script, model, data)
check(r.returncode == 0 and "ok:  model:" in r.stdout and "ok:  one step and one evaluation" in r.stdout and
      "ready:" in r.stdout and "FIX" not in r.stdout, f"check_real_setup: {r.stdout[-500:]} {r.stderr[-200:]}")

cfg = json.load(open(os.path.join(ROOT, "configs", "tnews-bias-correction.json")))
cfg["model"]["path"] = model
cfg["data"].update(train=os.path.join(data, "train.json"), dev=os.path.join(data, "dev.json"),
                   labels=os.path.join(data, "labels.json"), train_size=64, dev_size=64, max_seq_length=32)
cfg["train"].update(epochs=2, eval_every=2, checkpoint_every=4)
cfg["sweep"]["seeds"] = {"from": 1, "count": 2}
cfg["output"] = os.path.join(WORK, "tnews.h5")
json.dump(cfg, open("tnews.json", "w"))
r = run(BIN, "plan", "tnews.json", "--ranks", "2")
check(r.returncode == 0 and "4 runs" in r.stdout and "calibrated on" in r.stdout, f"plan: {r.stdout[-300:]} {r.stderr}")
r = run(BIN, "sweep", "tnews.json", "--progress", "0")
check(r.returncode == 0 and "done: 4 runs" in r.stdout, f"sweep: {r.stderr[-300:]}")
r = run(BIN, "report", cfg["output"])
check(r.returncode == 0 and "optimizer.correct_bias" in r.stdout and "cannot be tested with 2 pairs" in r.stdout,
      f"report: {r.stdout[-400:]} {r.stderr[-200:]}")

os.remove(os.path.join(model, "vocab.txt"))
r = run("bash", script, model, data)
check(r.returncode == 1 and "FIX:" in r.stdout and "vocab.txt" in r.stdout, f"no vocab.txt: {r.stdout[-300:]}")
shutil.copy(os.path.join("model", "vocab.txt"), model)
os.remove(os.path.join(data, "labels.json"))
r = run("bash", script, model, data)
check(r.returncode == 1 and "labels.json" in r.stdout, f"no labels.json: {r.stdout[-300:]}")
done()
