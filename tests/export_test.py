#!/usr/bin/python3
"""`bertsweep export`: a swept run's final weights come back as a HuggingFace directory whose
tensors equal /final_weights bit for bit, whose config.json carries the label names, and which
`bertsweep train` loads again (classifier included) to the same dev accuracy the sweep
recorded (one update at learning rate 1e-30, then an evaluation). Refusals name the problem.

usage: export_test.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, safetensors_arrays  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
cfg = json.load(open(os.path.join(WORK, "tiny.json")))
cfg["train"].update(epochs=2, save_final_weights=True)
cfg["sweep"] = {"seeds": {"from": 1, "count": 2}}
cfg["output"] = "runs.h5"
path = os.path.join(WORK, "sweep.json")
json.dump(cfg, open(path, "w"))
res = os.path.join(WORK, "runs.h5")
r = subprocess.run([BIN, "sweep", path, "--progress", "0"], capture_output=True, text=True)
check(r.returncode == 0, f"sweep: {r.stderr[-400:]}")

out = os.path.abspath(os.path.join(WORK, "exported"))
r = subprocess.run([BIN, "export", res, "--run", "1", out], capture_output=True, text=True)
check(r.returncode == 0, f"export: {r.stderr[-400:]}")


def safetensors(p):
    return {k: v.ravel() for k, v in safetensors_arrays(p).items()}


with h5py.File(res, "r") as f:
    final = f["final_weights"][1]
    row = f["runs"][1]
    el = f["eval/loss"][1]
    last_loss = el[~np.isnan(el)][-1]
t = safetensors(os.path.join(out, "model.safetensors"))
flat = np.concatenate([t[k] for k in t])
check(flat.size == final.size and np.array_equal(np.sort(flat), np.sort(final)),
      f"exported tensors ({flat.size} values) differ from /final_weights ({final.size})")
check("classifier.weight" in t and "bert.pooler.dense.weight" in t, f"tensor names: {sorted(t)[:5]}")
conf = json.load(open(os.path.join(out, "config.json")))
labels = [json.loads(x)["label"] for x in open(os.path.join(WORK, "labels.json"))]
check(conf["architectures"] == ["BertForSequenceClassification"], f"architectures {conf['architectures']}")
check([conf["id2label"][str(i)] for i in range(len(labels))] == labels, f"id2label {conf['id2label']}")
check(all(conf["label2id"][n] == i for i, n in enumerate(labels)), "label2id")
check(os.path.exists(os.path.join(out, "vocab.txt")) and os.path.exists(os.path.join(out, "tokenizer_config.json")),
      "vocab.txt and tokenizer_config.json")

# reload: one update at lr 1e-30 (no weight changes in float32), then the final evaluation
again = json.loads(json.dumps(cfg))
again["model"]["path"] = out
again["data"]["train_size"] = again["train"]["batch_size"]
again["train"].update(epochs=1, learning_rate=1e-30, warmup_ratio=0.0, weight_decay=0.0, save_final_weights=False)
for k in ("sweep", "output"):
    again.pop(k)
p2 = os.path.join(WORK, "again.json")
json.dump(again, open(p2, "w"))
tsv = os.path.join(WORK, "again.tsv")
r = subprocess.run([BIN, "train", p2, "--metrics", tsv], capture_output=True, text=True)
rows = [ln.split("\t") for ln in open(tsv).read().splitlines()[1:]] if r.returncode == 0 else []
acc = [x[4] for x in rows if len(x) > 4 and x[4] not in ("", "nan")]
check(r.returncode == 0 and acc, f"train on the export: {r.stderr[-300:]}")
if acc:  # the TSV prints float32 values with 9 digits: equal as float32
    check(np.float32(acc[-1]) == np.float32(row["final_dev_accuracy"]),
          f"reloaded accuracy {acc[-1]} != the sweep's final accuracy {row['final_dev_accuracy']}")
    got_loss = np.float32(rows[-1][5])
    check(abs(got_loss - last_loss) <= 1e-6 * abs(last_loss),
          f"reloaded dev loss {got_loss} != the sweep's last dev loss {last_loss}")

for args, want in (([res, "--run", "9", out + "2"], "no run 9"),
                   ([res, out + "3"], "which run? (--run N); see bertsweep export --help"),
                   ([res, "--run", "x", out], "run number")):
    r = subprocess.run([BIN, "export"] + args, capture_output=True, text=True)
    check(r.returncode != 0 and want in r.stderr, f"export {args}: {r.returncode} {r.stderr[-200:]}")
# the review's m4: never over the model the runs load, never into a non-empty directory unless --force,
# and --run is not cut to an int
model_dir = os.path.join(WORK, "model")
before = open(os.path.join(model_dir, "model.safetensors"), "rb").read()
for args, want in (([res, "--run", "0", model_dir, "--force"], "the model directory the file's runs load"),
                   ([res, "--run", "0", out], "not empty"),
                   ([res, "--run", "4294967297", out + "5"], "run number")):
    r = subprocess.run([BIN, "export"] + args, capture_output=True, text=True)
    check(r.returncode != 0 and want in r.stderr, f"export {args}: {r.returncode} {r.stderr[-200:]}")
check(open(os.path.join(model_dir, "model.safetensors"), "rb").read() == before, "export changed the runs' model")
open(os.path.join(out, "tokenizer.json"), "w").write("{}")
r = subprocess.run([BIN, "export", res, "--run", "0", out, "--force"], capture_output=True, text=True)
check(r.returncode == 0, f"export --force into a model directory: {r.stderr[-200:]}")
cfg["train"]["save_final_weights"] = False
cfg["output"] = "nofinal.h5"
json.dump(cfg, open(path, "w"))
subprocess.run([BIN, "sweep", path, "--progress", "0"], capture_output=True, text=True)
r = subprocess.run([BIN, "export", os.path.join(WORK, "nofinal.h5"), "--run", "0", out + "4"], capture_output=True,
                   text=True)
check(r.returncode != 0 and "final weights" in r.stderr, f"no final weights: {r.stderr[-200:]}")
done()
