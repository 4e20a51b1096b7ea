#!/usr/bin/env bash
# Times bertsweep against PyTorch (Debian's python3-torch) at the same thread count, in one run,
# and prints the ratios (after a build into build/, or the build folder BUILD names):
#   bench/bench.sh small|base|both [threads] [steps]   one training step, batch 16 x seq 128
#       (forward, backward, clipping, AdamW, dropout on), GEMM share (in the step, and the GEMM
#       shapes replayed alone), peak RSS
#   bench/bench.sh eval [threads] [repeats]             evaluation of configs/demo.json's dev set
#       (600 messages, longest-first batches of 64) against torch.inference_mode() on the same batches
#   bench/bench.sh gemm [threads]                       a dense layer's GEMMs side by side on the
#       threads (src/gemm.c) against one after the other, each threaded by OpenBLAS
#   bench/bench.sh masks [threads]                      a training step's dropout masks drawn by each
#       implementation the CPU has (src/rng.c), against the one-block-at-a-time code
#   bench/bench.sh all [threads]                        the step and evaluation, then one Markdown table
#       and the phases of each model's best step
# The CPU and the BLAS kernel are printed with every figure; OPENBLAS_CORETYPE is used as found.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}; threads=${2:-$(nproc)}; steps=${3:-3}; build=${BUILD:-build}
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

eval_pair() {
  local lens c t
  lens=$(mktemp)
  c=$(OMP_NUM_THREADS=$threads "$build"/bench_eval configs/demo.json "$threads" 64 "$1" "$lens")
  t=$(OMP_NUM_THREADS=$threads /usr/bin/python3 bench/bench_eval_torch.py models/zh-apps-tiny "$lens" "$threads" 64 "$1")
  rm -f "$lens"
  echo "$c"; echo "$t"
  awk -v c="$(field eval_s "$c")" -v t="$(field eval_s "$t")" \
    'BEGIN { printf "eval speedup_vs_pytorch_inference_mode=%.2f (pytorch time / bertsweep time)\n", t / c }'
}

step_pair() {
  local m=$1 c t
  c=$(OMP_NUM_THREADS=$threads "$build"/bench_step "$m" "$threads" "$2")
  t=$(OMP_NUM_THREADS=$threads /usr/bin/python3 bench/bench_torch.py "$m" "$threads" "$2")
  echo "$c"; echo "$t"
  awk -v c="$(field step_s "$c")" -v t="$(field step_s "$t")" -v m="$m" \
      -v cr="$(field peak_rss_mb "$c")" -v tr="$(field peak_rss_mb "$t")" \
    'BEGIN { printf "model=%s speedup_vs_pytorch=%.2f (pytorch step / bertsweep step) peak_rss_mb=%d vs %d (ratio %.2f)\n", m, t / c, cr, tr, cr / tr }'
}

case "$which" in
  eval) eval_pair "$steps" ;;
  small|base) step_pair "$which" "$steps" ;;
  both) step_pair small "$steps"; step_pair base "$steps" ;;
  gemm) OMP_NUM_THREADS=$threads "$build"/bench_gemm "$threads" 10 ;;
  masks) OMP_NUM_THREADS=$threads "$build"/bench_masks "$threads" 10 ;;
  all)
    out=$(step_pair small 20; step_pair base 2; eval_pair 5)
    echo "$out"
    c=$(grep -m1 '^impl=bertsweep' <<<"$out")
    echo
    echo "$(field cpu "$c" | tr _ ' '), $(field blas "$c" | tr _ ' ') kernel, $threads threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
    echo
    echo "| what | bertsweep | PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') | speed ratio | GEMM share in the step (replayed alone) | peak RSS, bertsweep / PyTorch |"
    echo "|---|---|---|---|---|---|"
    for m in small base; do
      c=$(grep "^impl=bertsweep.* model=$m " <<<"$out"); t=$(grep "^impl=pytorch.* model=$m " <<<"$out")
      r=$(grep "^model=$m speedup" <<<"$out")
      echo "| training step, $m, batch 16 × 128 | $(field step_s "$c") s | $(field step_s "$t") s | $(field speedup_vs_pytorch "$r")× | $(field gemm_share_in_step "$c") ($(field gemm_share "$c")) | $(field peak_rss_mb "$c") / $(field peak_rss_mb "$t") MB |"
    done
    c=$(grep "^impl=bertsweep.* eval_s=" <<<"$out"); t=$(grep "^impl=pytorch.*inference_mode" <<<"$out")
    echo "| evaluation, demo dev set (600 messages), batch 64 | $(field eval_s "$c") s | $(field eval_s "$t") s (inference_mode) | $(field speedup_vs_pytorch_inference_mode "$(grep '^eval speedup' <<<"$out")")× | | |"
    echo
    for m in small base; do
      c=$(grep "^impl=bertsweep.* model=$m " <<<"$out")
      echo "bertsweep's $m step, phases of the best one: zeroing the gradients $(field zero_grad_s "$c") s, forward $(field forward_s "$c") s, backward $(field backward_s "$c") s, gradient norm $(field grad_norm_s "$c") s, optimizer $(field optimizer_s "$c") s"
    done
    ;;
  *) echo "usage: bench/bench.sh small|base|both|eval|gemm|all [threads] [steps]" >&2; exit 2 ;;
esac
