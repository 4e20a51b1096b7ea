#!/usr/bin/env bash
# Runs `bertsweep sweep` inside a Slurm allocation: RANKS_PER_NODE ranks per node (default 1),
# each with cores / RANKS_PER_NODE threads (set explicitly, and recorded per run in the results
# file), progress every 60 s, the pre-timeout USR1 passed on to the sweep as a stop request,
# and a requeue when the sweep stopped for it (exit 3). A stop asked for with `bertsweep stop FILE.h5` exits 5 and
# stays stopped. BERTSWEEP (default: bertsweep on PATH, else the build tree) may be
# overridden; submit through sweep-*.sbatch.
set -u
# The pre-timeout USR1 reaches this script; it asks the sweep to stop through a request file
# that rank 0 looks for every second (BERTSWEEP_STOP_REQUEST): no signal can then reach a rank
# before it has installed its handlers. The ranks checkpoint and exit with 3. The trap goes
# first, so that a signal in the first moments is not fatal to the script either.
request=$PWD/.bertsweep-stop-${SLURM_JOB_ID:-$$}
rm -f "$request"
export BERTSWEEP_STOP_REQUEST=$request
pid=
trap 'echo "# $(date -Is) time limit near: asking the sweep to checkpoint"; touch "$request"' USR1
trap '[ -n "$pid" ] && kill -TERM $pid' TERM
config=$1
shift
here=$(dirname "$(readlink -f "$0")")
bin=${BERTSWEEP:-$(command -v bertsweep || echo "$here/../build/bertsweep")}
nodes=${SLURM_JOB_NUM_NODES:-1}
per_node=${RANKS_PER_NODE:-1}
cpus=${SLURM_CPUS_ON_NODE:-$(nproc)}
threads=$((cpus / per_node))
[ "$threads" -ge 1 ] || threads=1
export OMP_NUM_THREADS=$threads OMPI_MCA_rmaps_base_oversubscribe=1
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# $(date -Is) job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-$(hostname)}:" \
     "$nodes node(s) x $per_node rank(s) x $threads threads"

mpirun -np $((nodes * per_node)) --map-by "ppr:$per_node:node" --bind-to none -x OMP_NUM_THREADS \
  -x BERTSWEEP_STOP_REQUEST "$bin" sweep "$config" --progress 60 "$@" &
pid=$!
while :; do
  wait $pid
  rc=$?
  [ "$rc" -le 128 ] && break # mpirun ended (a trapped signal makes wait return 128 + signal)
  if ! kill -0 $pid 2>/dev/null; then
    wait $pid # it ended just as the signal arrived: this wait returns its real status
    rc=$?
    break
  fi
done
rm -f "$request"
case "$rc" in
  3) if [ -n "${SLURM_JOB_ID:-}" ]; then
       echo "# $(date -Is) checkpointed for the time limit; requeueing job $SLURM_JOB_ID"
       scontrol requeue "$SLURM_JOB_ID"
     fi ;;
  5) echo "# $(date -Is) stopped by 'bertsweep stop'; not requeued (resubmit to resume)" ;;
esac
exit "$rc"
