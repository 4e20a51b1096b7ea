#!/usr/bin/env bash
# Benchmark (not a test): the demo sweep without and with the live report page (`--html`,
# rewritten every 10 s), alternated twice, under `mpirun -np 2`; prints each wall time.
# usage: bench/live_page.sh   (after a build into build/ and the demo's setup; about 12 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "# $(uname -n): $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, Linux $(uname -r)"
for mode in plain html plain html; do
  extra=()
  [ "$mode" = html ] && extra=(--html "$out/page.html")
  rm -f "$out"/demo.h5*
  t0=$(date +%s.%N)
  mpirun -np 2 build/bertsweep sweep configs/demo.json --output "$out/demo.h5" --progress 2 "${extra[@]}" >/dev/null
  echo "$mode: $(echo "$(date +%s.%N) - $t0" | bc) s"
done
