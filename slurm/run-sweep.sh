#!/usr/bin/env bash
# Runs `bertsweep sweep` inside a Slurm allocation: one rank per node, all of the node's cores
# to that rank, the pre-timeout signal forwarded to the ranks, and a requeue when the sweep
# stopped for it. BERTSWEEP (default: bertsweep on PATH, else the build tree) and
# SBATCH_SCRIPT_DIR may be overridden; submit through sweep-*.sbatch.
set -u
config=$1
shift
here=$(dirname "$(readlink -f "$0")")
bin=${BERTSWEEP:-$(command -v bertsweep || echo "$here/../build/bertsweep")}
nodes=${SLURM_JOB_NUM_NODES:-1}
cpus=${SLURM_CPUS_ON_NODE:-$(nproc)}
export OMP_NUM_THREADS=$cpus OMPI_MCA_rmaps_base_oversubscribe=1
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# $(date -Is) job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-$(hostname)}: $nodes rank(s) x $cpus threads"

# mpirun forwards USR1 to the ranks; they checkpoint at their next step and exit with 3.
mpirun -np "$nodes" --map-by ppr:1:node --bind-to none -x OMP_NUM_THREADS \
  "$bin" sweep "$config" "$@" &
pid=$!
trap 'echo "# $(date -Is) time limit near: asking the sweep to checkpoint"; kill -USR1 $pid' USR1
trap 'kill -TERM $pid' TERM
while :; do
  wait $pid
  rc=$?
  kill -0 $pid 2>/dev/null || break # wait returns early when a trapped signal arrives
done
if [ "$rc" -eq 3 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  echo "# $(date -Is) checkpointed; requeueing job $SLURM_JOB_ID"
  scontrol requeue "$SLURM_JOB_ID"
fi
exit "$rc"
