#!/usr/bin/env bash
# Reproduces models/zh-apps-tiny: masked-LM pre-training of a 4-layer, hidden-128 Chinese BERT on
# the zh_CN program messages, help pages and manual pages of Debian 12 packages (the demo's dev
# messages left out; each catalogue's messages packed into lines of up to 110 characters; see
# scripts/build_demo_data.py). About 27 minutes on 2 cores with an AVX-512 OpenBLAS kernel (set
# OPENBLAS_CORETYPE=SkylakeX where OpenBLAS picks Prescott; about 2.5 times as long without).
#
# Resumable: the state is saved every 200 updates under $WORK (outside the repository); run the
# script again after an interruption and it continues from there. When it is done, the model
# directory is copied into models/zh-apps-tiny.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/var/tmp/bertsweep-pretrain}
[ -f data/pretrain/corpus.txt ] || /usr/bin/python3 scripts/build_demo_data.py
cmake --build build -j"$(nproc)" --target bertsweep >/dev/null
mkdir -p "$WORK"
build/bertsweep pretrain --corpus data/pretrain/corpus.txt --out "$WORK/zh-apps-tiny" --resume \
  --vocab-size 8000 --min-count 3 --layers 4 --hidden 128 --heads 2 --seq 128 --batch 32 \
  --steps "${STEPS:-8000}" --lr 1e-3 --warmup 0.05 --weight-decay 0.01 --seed 1 --whole-word 1 \
  --threads "${THREADS:-$(nproc)}" --save-every 200 --log-every 100
mkdir -p models/zh-apps-tiny
for f in config.json vocab.txt model.safetensors tokenizer_config.json pretrain_log.tsv; do
  cp "$WORK/zh-apps-tiny/$f" models/zh-apps-tiny/
done
echo "models/zh-apps-tiny updated from $WORK/zh-apps-tiny"
