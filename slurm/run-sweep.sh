#!/usr/bin/env bash
# Runs `bertsweep sweep` inside a Slurm allocation: RANKS_PER_NODE ranks per node (default 1),
# each with cores / RANKS_PER_NODE threads (set explicitly, and recorded per run in the results
# file), progress every 60 s. Submit through sweep-*.sbatch. What ends the sweep decides what
# happens next (the exit codes of src/err.h, in slurm/exit-codes.sh):
#   3  the time limit (the pre-timeout USR1) or a signal: every run checkpointed; requeued
#   5  `bertsweep stop FILE.h5`: checkpointed, stays stopped (submit again to resume)
#   6  another sweep holds the results file: nothing done, not requeued
#   7  a rank went silent (a frozen or cut-off node): the others checkpointed; the silent
#      node is excluded from the job (ExcNodeList) and the job requeued
#   a node that died: Slurm requeues the job itself (--requeue) once it marks the node down
# Environment: BERTSWEEP (the binary; default bertsweep on PATH, else the build tree);
# BERTSWEEP_LAUNCHER srun (default where Slurm offers PMIx) or mpirun; BERTSWEEP_SILENCE_LIMIT.
set -u
# The pre-timeout USR1 reaches this script; it asks the sweep to stop through a request file
# that rank 0 looks for every second (BERTSWEEP_STOP_REQUEST): no signal can then reach a rank
# before it has installed its handlers. The ranks checkpoint and exit with 3. The trap goes
# first, so that a signal in the first moments is not fatal to the script either.
job=${SLURM_JOB_ID:-$$}
request=$PWD/.bertsweep-stop-$job
silent=$PWD/.bertsweep-silent-$job # rank 0 writes the silent ranks' hosts here before exit 7
rm -f "$request" "$silent"
export BERTSWEEP_STOP_REQUEST=$request BERTSWEEP_SILENT_HOSTS=$silent
pid=
trap 'echo "# $(date -Is) time limit near: asking the sweep to checkpoint"; touch "$request"' USR1
trap '[ -n "$pid" ] && kill -TERM $pid' TERM
config=$1
shift
here=$(dirname "$(readlink -f "$0")")
. "$here/exit-codes.sh" # EXIT_STOPPED, ... as src/err.h defines them
# the site's settings inside the job: `module load` lines, library paths (slurm/site.example.sh)
site=${BERTSWEEP_SITE:-$here/site.sh}
if [ -f "$site" ]; then . "$site"; fi
bin=${BERTSWEEP:-$(command -v bertsweep || echo "$here/../build/bertsweep")}
nodes=${SLURM_JOB_NUM_NODES:-1}
per_node=${RANKS_PER_NODE:-1}
cpus=${SLURM_CPUS_ON_NODE:-$(nproc)}
# Slurm counts hardware threads; OpenBLAS's GEMMs gain nothing from a core's second thread, so
# threads come from physical cores (BERTSWEEP_HYPERTHREADS=1 counts every hardware thread)
per_core=$(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *\([0-9]*\).*/\1/p')
per_core=${per_core:-1}
[ "${BERTSWEEP_HYPERTHREADS:-0}" = 1 ] && per_core=1
[ "$per_core" -gt 1 ] && cpus=$((cpus / per_core))
threads=$((cpus / per_node))
[ "$threads" -ge 1 ] || threads=1
# what Slurm binds each rank to, in its own CPUs: with ThreadsPerCore=2 a core is two CPUs, so a
# rank of T threads on T cores asks for 2T (else it would be bound to T/2 cores)
cpus_per_rank=$((threads * per_core))
export OMP_NUM_THREADS=$threads OMPI_MCA_rmaps_base_oversubscribe=1
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Launchers: one file each, slurm/launch-NAME.sh, defining `launch`. srun (through PMIx) where
# Slurm offers it, mpirun otherwise; BERTSWEEP_LAUNCHER names one.
launcher=${BERTSWEEP_LAUNCHER:-$(srun --mpi=list 2>&1 | grep -q pmix && echo srun || echo mpirun)}
if [ ! -f "$here/launch-$launcher.sh" ]; then
  echo "run-sweep.sh: BERTSWEEP_LAUNCHER=$launcher: no launcher of that name ($(cd "$here" && ls launch-*.sh | sed 's/launch-//; s/\.sh$//' | paste -sd' '))" >&2
  exit "$EXIT_USAGE"
fi
. "$here/launch-$launcher.sh"
echo "# $(date -Is) job $job (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-$(hostname)}:" \
     "$nodes node(s) x $per_node rank(s) x $threads threads, started by $launcher"
# the live report page beside the results file (FILE.h5.html; "# live report:" below names it),
# unless the command line asks for another
case " $* " in *" --html "*) ;; *) set -- "$@" --html auto ;; esac

launch "$bin" sweep "$config" --progress 60 "$@"
pid=$!
# A launcher whose job has a frozen node waits for that node for ever after bertsweep has
# ended the job (exit 7): once rank 0 has written the silent hosts, it gets 20 s, then goes.
waited=0
while kill -0 $pid 2>/dev/null; do
  if [ -s "$silent" ]; then
    waited=$((waited + 1))
    if [ $waited -gt 20 ]; then
      echo "# $(date -Is) $launcher still waits for the silent node: ending it"
      kill -9 $pid 2>/dev/null
    fi
  fi
  sleep 1 & wait $! # a trapped signal interrupts this wait, not the launcher's
done
wait $pid
rc=$?
[ -s "$silent" ] && rc=$EXIT_SILENT # whatever the launcher made of the abort
rm -f "$request"
case "$rc" in
  "$EXIT_STOPPED") if [ -n "${SLURM_JOB_ID:-}" ]; then
       echo "# $(date -Is) checkpointed for the time limit; requeueing job $SLURM_JOB_ID"
       scontrol requeue "$SLURM_JOB_ID"
     fi ;;
  "$EXIT_USER_STOP") echo "# $(date -Is) stopped by 'bertsweep stop'; not requeued (resubmit to resume)" ;;
  "$EXIT_BUSY") echo "# $(date -Is) another sweep holds the results file; not requeued" ;;
  "$EXIT_SILENT") hosts=$(sort -u "$silent" | paste -sd, -)
     rm -f "$silent"
     if [ -n "${SLURM_JOB_ID:-}" ]; then
       old=$(scontrol show job "$SLURM_JOB_ID" -o | sed -n 's/.* ExcNodeList=\([^ ]*\).*/\1/p')
       [ "$old" = "(null)" ] && old=""
       # rank 0 names Slurm's node names (SLURMD_NODENAME) where it has them, else host names:
       # a host name that is no node name (an FQDN) is tried again as its short name
       short=$(printf '%s\n' "$hosts" | tr , '\n' | sed 's/\..*//' | sort -u | paste -sd, -)
       echo "# $(date -Is) silent node(s) $hosts: requeueing job $SLURM_JOB_ID without them"
       # A running job's ExcNodeList cannot change: requeue it held, exclude, release. The
       # requeue sends TERM to this script and its children (then KILL after KillWait):
       # ignored here, and inherited as ignored by scontrol.
       trap '' TERM
       scontrol requeuehold "$SLURM_JOB_ID"
       excluded="" why=""
       for list in "$hosts" "$short"; do
         all=${old:+$old,}$list
         for try in 1 2 3 4 5 6 7 8 9 10; do
           if why=$(scontrol update JobId="$SLURM_JOB_ID" ExcNodeList="$all" 2>&1); then excluded=$all; break 2; fi
           case "$why" in *nvalid*) break;; esac # no node of that name: waiting does not help
           sleep 0.5
         done
         [ "$list" != "$short" ] && echo "# $(date -Is) could not exclude $all (scontrol: ${why:-no answer}): trying the short names $short"
       done
       if [ -n "$excluded" ]; then
         echo "# $(date -Is) job $SLURM_JOB_ID excludes $excluded; released"
         scontrol release "$SLURM_JOB_ID" || echo "# $(date -Is) could not release job $SLURM_JOB_ID: scontrol release it"
       else
         # released, it could land on the frozen node again (and again): held until someone looks
         echo "# $(date -Is) could not exclude node(s) $hosts from job $SLURM_JOB_ID (scontrol: ${why:-no answer});" \
              "the job stays held: exclude them by hand (scontrol update JobId=$SLURM_JOB_ID ExcNodeList=NODES) and" \
              "scontrol release $SLURM_JOB_ID"
       fi
     fi ;;
esac
exit "$rc"
