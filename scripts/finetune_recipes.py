#!/usr/bin/python3
"""Fine-tunes a model on the demo task with the recipes of the "what was tried" table of docs/demo.md and
prints the final dev accuracy of each: configs/demo.json (bias correction on) with the model, the
epochs, the learning rate, the batch size, the warmup and the seed replaced — at batch 16
without warmup: 3 epochs at 2e-4, 8 at 2e-4 (the previous demo), 10 at 1e-3; at batch 8 with 10%
warmup: 8 epochs at 3e-4 (the demo); seeds 1 and 2. Two runs at a time, one thread each
(`bertsweep train`), about 6 minutes for a 4 x 128 model on 2 cores.

usage: finetune_recipes.py MODEL_DIR [BERTSWEEP]   (BERTSWEEP default build/bertsweep)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

RECIPES = [(3, 2e-4, 16, 0.0), (8, 2e-4, 16, 0.0), (10, 1e-3, 16, 0.0), (8, 3e-4, 8, 0.1)]  # epochs, rate, batch, warmup
SEEDS = [1, 2]


def final_accuracy(exe, model, epochs, lr, batch, warmup, seed, work):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = json.load(open(os.path.join(root, "configs", "demo.json")))
    cfg["model"]["path"] = os.path.abspath(model)
    for k in ("train", "dev", "labels"):
        cfg["data"][k] = os.path.join(root, "data", "demo", os.path.basename(cfg["data"][k]))
    cfg["train"].update(epochs=epochs, learning_rate=lr, batch_size=batch, warmup_ratio=warmup, seed=seed,
                        eval_every=0)
    cfg.pop("sweep")
    path = os.path.join(work, f"e{epochs}-lr{lr:g}-b{batch}-w{warmup:g}-s{seed}.json")
    json.dump(cfg, open(path, "w"))
    r = subprocess.run([exe, "train", path], capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    acc = re.findall(r"acc=([0-9.]+)", r.stdout)
    if r.returncode != 0 or not acc:
        sys.exit(f"{path}: bertsweep train failed: {r.stderr[-400:]}")
    return float(acc[-1])


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    model, exe = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "build/bertsweep"
    jobs = [(e, lr, b, w, s) for e, lr, b, w in RECIPES for s in SEEDS]
    with tempfile.TemporaryDirectory() as work, ThreadPoolExecutor(2) as pool:
        accs = list(pool.map(lambda j: final_accuracy(exe, model, *j, work), jobs))
    print(f"{model}: final dev accuracy, bias correction on, seeds {', '.join(map(str, SEEDS))}")
    for i, (e, lr, b, w) in enumerate(RECIPES):
        got = ", ".join(f"{a:.3f}" for a in accs[i * len(SEEDS):(i + 1) * len(SEEDS)])
        print(f"  {e:2d} epochs at {lr:g}, batch {b:2d}, warmup {w:g}: {got}")


if __name__ == "__main__":
    main()
