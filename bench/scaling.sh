#!/usr/bin/env bash
# Benchmark (not a test): how a node's cores are best split between ranks and threads.
# Part 1: one process, 1, 2, 4, ... threads. Part 2: R processes x T threads filling every core,
# each pinned to its own cores as `mpirun --map-by slot:PE=T --bind-to core` pins ranks; they
# run at the same time, so memory bandwidth and caches are shared as in a sweep (whose ranks
# never communicate during a run). Prints a markdown table: step time, tokens/s per process,
# tokens/s of the node, and the node's throughput relative to one process using every core.
# usage: bench/scaling.sh [small|base|both] [cores] [steps]   (after a build into build/)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}; cores=${2:-$(nproc)}; steps=${3:-1}
bin=${BENCH_STEP:-build/bench_step}
models=("$which"); [ "$which" = both ] && models=(small base)
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

one=$(OMP_NUM_THREADS=1 "$bin" small 1 1 nogemm)
echo "# $(uname -n): cpu $(field cpu <<<"$one" | tr _ ' '), $(field blas <<<"$one" | tr _ ' '), $cores cores used"
# run R T: R processes of T threads at once on cores 0..R*T-1; prints "step_s per_rank node"
run() {
  local r=$1 t=$2 dir i
  dir=$(mktemp -d)
  for ((i = 0; i < r; i++)); do
    OMP_NUM_THREADS=$t taskset -c "$((i * t))-$((i * t + t - 1))" "$bin" "$m" "$t" "$steps" nogemm >"$dir/$i" &
  done
  wait
  paste <(cat "$dir"/* | field step_s) <(cat "$dir"/* | field tokens_per_s) |
    awk '{ s += $1; k += $2 } END { printf "%.3f %.0f %.0f", s / NR, k / NR, k }'
  rm -rf "$dir"
}
row() { echo "| $1 | $2 | $3 | $4 | $5 |"; }

for m in "${models[@]}"; do
  echo
  echo "## $m (batch 16 x 128), $steps timed step(s) after one warm-up"
  echo
  echo "| ranks x threads | step (s) | tokens/s per rank | tokens/s of the node | vs 1 x $cores |"
  echo "|---|---|---|---|---|"
  read -r s1 p1 full <<<"$(run 1 "$cores")"
  for ((t = 1; t < cores; t *= 2)); do
    read -r s p n <<<"$(run 1 "$t")"
    row "1 x $t (rest idle)" "$s" "$p" "$n" -
  done
  row "1 x $cores" "$s1" "$p1" "$full" 1.00
  for ((t = cores / 2; t >= 1; t /= 2)); do
    read -r s p n <<<"$(run $((cores / t)) "$t")"
    row "$((cores / t)) x $t" "$s" "$p" "$n" "$(awk -v a="$n" -v f="$full" 'BEGIN { printf "%.2f", a / f }')"
  done
done
