#!/usr/bin/env bash
# Reproduces models/poetry-zh-tiny: masked-LM pre-training of a 4-layer, hidden-256 Chinese
# BERT on the Tang shi, Song ci and Yuan qu of the npm package chinese-poetry (disjoint from
# the demo's fine-tuning poems). About 30 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f data/pretrain/corpus.txt ] || /usr/bin/python3 scripts/build_demo_data.py
cmake --build build -j"$(nproc)" --target bertsweep >/dev/null
build/bertsweep pretrain --corpus data/pretrain/corpus.txt --out models/poetry-zh-tiny \
  --vocab-size 8000 --min-count 3 --layers 4 --hidden 256 --heads 4 --seq 128 \
  --batch 32 --steps "${STEPS:-2000}" --lr 5e-4 --warmup 0.06 --weight-decay 0.01 --seed 1 \
  --threads "${THREADS:-$(nproc)}" --save-every 250 --log-every 20
