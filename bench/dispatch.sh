#!/usr/bin/env bash
# Benchmark (not a test): how long workers wait for their next run at 16, 32 and 64 ranks, with
# rank 0 training between its answers and with rank 0 only handing out runs. Ranks run on the
# four hosts of tests/cluster (network namespaces, mpirun through an rsh agent; root), many per
# host. Each training step of the tiny fixture model sleeps BERTSWEEP_STEP_DELAY seconds (DELAY,
# default 0.25) so that a step costs what a big model's would, without using the 2 cores.
# Prints, per setting: the sweep's wall time against the ideal (runs / training ranks x a run's
# time), the workers' mean and longest wait for an assignment (bertsweep's own "# dispatch"
# line), and the rate at which step rows reached the results file.
# usage: bench/dispatch.sh [ranks...]      (after a build into build/; default 16 32 64)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
bin=$src/build/bertsweep
delay=${DELAY:-0.25}
ranks=("$@"); [ ${#ranks[@]} -gt 0 ] || ranks=(16 32 64)
export CLUSTER_DIR=${CLUSTER_DIR:-/var/tmp/bertsweep-dispatch} CLUSTER_NODES=4
mkdir -p "$CLUSTER_DIR"
. tests/cluster/cluster.sh
trap cluster_down EXIT
cluster_down
cluster_net_up
w=$CLUSTER_DIR/work; rm -rf "$w"; mkdir -p "$w"
/usr/bin/python3 tests/data/make_tiny.py "$w" >/dev/null
for h in $(cluster_hosts); do echo "$h slots=64"; done > "$w/hosts"
steps=16 runs_per_rank=3
echo "# $(uname -n): $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, Linux $(uname -r);" \
     "$CLUSTER_NODES namespace hosts; step delay $delay s, $steps steps per run, $runs_per_rank runs per rank"
echo "| ranks | rank 0 trains | runs | wall s | ideal s | wall / ideal | mean wait ms | max wait ms | step rows / s |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${ranks[@]}"; do
  for r0 in 1 0; do
    trainers=$((r0 ? n : n - 1))
    runs=$((trainers * runs_per_rank))
    /usr/bin/python3 - "$w" "$runs" "$steps" <<'PY'
import json, sys
w, runs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = json.load(open(f"{w}/tiny.json"))
c["data"].update(train_size=64, dev_size=32)
c["train"].update(threads=1, epochs=steps // 4, eval_every=steps // 2, checkpoint_every=steps // 2)
c["sweep"] = {"seeds": list(range(1, runs + 1))}
c["output"] = "d.h5"
json.dump(c, open(f"{w}/d.json", "w"))
PY
    rm -f "$w/d.h5"
    t0=$(date +%s.%N)
    (cd "$w" && ctl mpirun --hostfile hosts -np "$n" --mca plm_rsh_agent "$CLUSTER_DIR/agent" \
       -x OMP_NUM_THREADS=1 -x BERTSWEEP_STEP_DELAY="$delay" -x BERTSWEEP_RANK0_TRAINS="$r0" \
       "$bin" sweep d.json --progress 0 > out.log 2>&1) || { tail -5 "$w/out.log"; exit 1; }
    t1=$(date +%s.%N)
    line=$(grep "^# dispatch" "$w/out.log")
    mean=$(sed -n 's/.*waited \([0-9.]*\) ms on average.*/\1/p' <<<"$line")
    max=$(sed -n 's/.*, \([0-9.]*\) ms at most.*/\1/p' <<<"$line")
    /usr/bin/python3 - "$n" "$r0" "$runs" "$t0" "$t1" "$trainers" "$steps" "$delay" "$mean" "$max" <<'PY'
import sys
n, r0, runs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
t0, t1, trainers, steps, delay = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
wall = t1 - t0
ideal = -(-runs // trainers) * steps * delay
print(f"| {n} | {'yes' if r0 == '1' else 'no'} | {runs} | {wall:.1f} | {ideal:.1f} | {wall / ideal:.2f} | "
      f"{sys.argv[9]} | {sys.argv[10]} | {runs * steps / wall:.0f} |")
PY
  done
done
