#!/usr/bin/env bash
# Times one training step of bertsweep and of PyTorch (Debian's python3-torch) on the same
# BERT shape, batch 16 x seq 128, at the same thread count, in one run, and prints the ratio.
# usage: bench/bench.sh [base|small|both|eval] [threads] [steps]   (after a build into build/)
#   eval: evaluation of configs/demo.json's dev set (600 messages, longest-first batches of 64)
#         against PyTorch under torch.inference_mode() on the same batches
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}; threads=${2:-$(nproc)}; steps=${3:-3}
if [ "$which" = eval ]; then
  lens=$(mktemp)
  c=$(OMP_NUM_THREADS=$threads build/bench_eval configs/demo.json "$threads" 64 "$steps" "$lens")
  t=$(OMP_NUM_THREADS=$threads /usr/bin/python3 bench/bench_eval_torch.py models/zh-apps-tiny "$lens" "$threads" 64 "$steps")
  rm -f "$lens"
  echo "$c"
  echo "$t"
  cs=$(sed -n 's/.*eval_s=\([0-9.]*\).*/\1/p' <<<"$c"); ts=$(sed -n 's/.*eval_s=\([0-9.]*\).*/\1/p' <<<"$t")
  awk -v c="$cs" -v t="$ts" 'BEGIN { printf "eval speedup_vs_pytorch_inference_mode=%.2f (pytorch time / bertsweep time)\n", t / c }'
  exit 0
fi
models=("$which"); [ "$which" = both ] && models=(small base)
for m in "${models[@]}"; do
  c=$(OMP_NUM_THREADS=$threads build/bench_step "$m" "$threads" "$steps")
  t=$(OMP_NUM_THREADS=$threads /usr/bin/python3 bench/bench_torch.py "$m" "$threads" "$steps")
  echo "$c"
  echo "$t"
  cs=$(sed -n 's/.*step_s=\([0-9.]*\).*/\1/p' <<<"$c"); ts=$(sed -n 's/.*step_s=\([0-9.]*\).*/\1/p' <<<"$t")
  cr=$(sed -n 's/.*peak_rss_mb=\([0-9]*\).*/\1/p' <<<"$c"); tr=$(sed -n 's/.*peak_rss_mb=\([0-9]*\).*/\1/p' <<<"$t")
  awk -v c="$cs" -v t="$ts" -v m="$m" -v cr="$cr" -v tr="$tr" 'BEGIN { printf "model=%s speedup_vs_pytorch=%.2f (pytorch step / bertsweep step) peak_rss_mb=%d vs %d (ratio %.2f)\n", m, t / c, cr, tr, cr / tr }'
done
