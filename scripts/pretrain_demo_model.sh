#!/usr/bin/env bash
# Reproduces models/zh-apps-tiny: masked-LM pre-training of a 4-layer, hidden-128 Chinese BERT that
# reads words (WordPieces of frequent character n-grams, tokenize_chinese_chars false) on the zh_CN
# program messages, help pages and manual pages of Debian 12 packages (the demo's dev messages left
# out; see scripts/build_demo_data.py). About 70 minutes on 2 cores with an AVX-512 OpenBLAS kernel
# (set OPENBLAS_CORETYPE=SkylakeX where OpenBLAS picks Prescott).
#
# Steps: the corpus; its character vocabulary (bertsweep's own builder: one update of a throwaway
# model, whose vocab.txt is all we keep); the word vocabulary (scripts/build_word_vocab.py: those
# characters, their "##" forms and 4,000 frequent, cohesive n-grams); then pre-training.
# Resumable: the state is saved every 200 updates under $WORK (outside the repository); run the
# script again after an interruption and it continues from there. When it is done, the model
# directory is copied into models/zh-apps-tiny.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/var/tmp/bertsweep-pretrain}
# the "apps" corpus (build_demo_data.py's default); CORPUS=apps-large or apps-packed for the
# experiments described there (the corpus file is rebuilt when the choice changes)
want=${CORPUS:-apps}
[ -f data/pretrain/corpus.txt ] && [ "$(cat data/pretrain/corpus.name 2>/dev/null)" = "$want" ] ||
  { rm -f data/pretrain/corpus.name  # a rebuild killed halfway must not pass for a finished one
    /usr/bin/python3 scripts/build_demo_data.py --corpus "$want" && echo "$want" > data/pretrain/corpus.name; }
cmake --build build -j"$(nproc)" --target bertsweep >/dev/null
mkdir -p "$WORK"
threads=${THREADS:-$(nproc)}
words="$WORK/zh-apps-tiny-words-$want.txt" # per corpus: another corpus must not reuse this one's words
if [ ! -f "$words" ]; then
  build/bertsweep pretrain --corpus data/pretrain/corpus.txt --out "$WORK/char-vocab" --vocab-size 8000 --min-count 3 \
    --layers 1 --hidden 8 --heads 1 --seq 128 --batch 1 --steps 1 --threads "$threads" >/dev/null
  /usr/bin/python3 scripts/build_word_vocab.py data/pretrain/corpus.txt "$WORK/char-vocab/vocab.txt" \
    "$words.tmp" --max-words 4000 --min-count 20 --min-pmi 4
  mv "$words.tmp" "$words"
fi
# stage 1: 6,000 updates from random weights; stage 2: 8,000 more from stage 1's weights and
# head (`--init`: a fresh optimizer and schedule; stage 1's loss was still falling when its
# learning rate reached zero)
build/bertsweep pretrain --corpus data/pretrain/corpus.txt --out "$WORK/zh-apps-tiny" --resume \
  --vocab "$words" --chinese-chars 0 --whole-word 0 --layers 4 --hidden 128 --heads 2 \
  --seq 128 --batch 32 --steps 6000 --lr 1e-3 --warmup 0.06 --weight-decay 0.01 --seed 1 \
  --threads "$threads" --save-every 200 --log-every 100
build/bertsweep pretrain --corpus data/pretrain/corpus.txt --out "$WORK/zh-apps-tiny-2" --resume \
  --init "$WORK/zh-apps-tiny" --whole-word 0 \
  --seq 128 --batch 32 --steps 8000 --lr 5e-4 --warmup 0.06 --weight-decay 0.01 --seed 2 \
  --threads "$threads" --save-every 200 --log-every 250
mkdir -p models/zh-apps-tiny
for f in config.json vocab.txt model.safetensors tokenizer_config.json; do
  cp "$WORK/zh-apps-tiny-2/$f" models/zh-apps-tiny/
done
cp "$WORK/zh-apps-tiny/pretrain_log.tsv" models/zh-apps-tiny/pretrain_log_stage1.tsv
cp "$WORK/zh-apps-tiny-2/pretrain_log.tsv" models/zh-apps-tiny/pretrain_log_stage2.tsv
echo "models/zh-apps-tiny updated from $WORK/zh-apps-tiny-2 (logs of both stages)"
