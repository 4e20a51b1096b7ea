#!/usr/bin/env bash
# Many hosts for real: four compute hosts and a controller on this machine (tests/cluster/
# cluster.sh: network + UTS + mount namespaces on a bridge, one slurmd each, slurmctld, munge),
# the results file on the shared file system. Every sweep is compared bit for bit with one
# process running the same config.
#   a  sbatch --nodes=3: srun (PMIx) with 1 rank per node, mpirun with 2; every host in /runs
#   b  a node killed mid-sweep (every process on it, slurmd too): ended, requeued without it
#   c  a node frozen (SIGSTOP), and a node cut off (link down): the silent rank named, exit 7,
#      requeued without that node (ExcNodeList), completed; the fenced file: the frozen rank's
#      open file is the unlinked old copy, and waking it changes nothing
#   d  the time limit's USR1: every rank checkpoints, requeue, completion
#   e  `bertsweep stop` from the controller: exit 5, not requeued
#   f  a second sbatch of the same config while the first runs: refused at once (exit 6),
#      naming the hosts; without Slurm (mpirun + rsh agent), a sweep crashed on two hosts is
#      resumed from a third once the lock's heartbeat is stale, saying how long it waits
#   g  a plain mpirun from n1 over n1 and n2, n2 frozen: ended within the silence limit + 25 s
#      (rank 0 ends its launcher), resumed bit-identically
# Exit 77 (skipped) where namespaces or the daemons cannot be made.
#
# usage: cluster_test.sh BERTSWEEP FIXTURE_DIR WORKDIR
set -u
BIN=$(readlink -f "$1"); FIX=$(readlink -f "$2"); WORK=$3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
# a skip hides regressions where the test command provides all this needs (root, Debian's
# packages): under CI=true it fails instead
skip() { [ "${CI:-}" = true ] && { echo "FAIL (CI=true: this machine should run it): $*"; exit 1; }; echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, slurmd)"
rm -rf "$WORK"; mkdir -p "$WORK"; WORK=$(readlink -f "$WORK")
# each host's /tmp is its own (a bind mount in its namespace): a tree under /tmp is bound back
# into it (cluster.sh CLUSTER_KEEP)
keep=""
for p in "$BIN" "$FIX" "$WORK" "$SRC"; do
  case "$p" in /tmp/*) k=${p#/tmp/}; k=${k%%/*}; case " $keep " in *" $k "*) ;; *) keep="$keep $k";; esac ;; esac
done
export CLUSTER_KEEP=${keep# }
export CLUSTER_DIR=$WORK/cluster CLUSTER_NODES=4
mkdir -p "$CLUSTER_DIR"
. "$SRC/tests/cluster/cluster.sh"
trap cluster_down EXIT
trap 'exit 143' TERM INT # the EXIT trap then removes the cluster
cluster_down # what a killed earlier run left
for p in slurmctld slurmd slurm-client munge; do
  dpkg -s "$p" >/dev/null 2>&1 && continue
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     slurmctld slurmd slurm-client munge) >/dev/null 2>&1 || skip "cannot install Slurm"
  break
done
cluster_start || skip "the cluster did not start (twice): $(tail -8 "$CLUSTER_DIR/start.log" 2>/dev/null)"
cp -r "$FIX"/. "$WORK"/
cd "$WORK"
passed=0; failed=0
check() { if eval "$1"; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL: $2"; fi; }
t0=$(date +%s)
note() { echo "[$(($(date +%s) - t0))s] $*"; }
export BERTSWEEP=$BIN OMP_NUM_THREADS=1

# job state, requeues included: until it is no longer pending or running
wait_job() {
  local i st
  for i in $(seq "$2"); do
    st=$(ctl scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case "$st" in COMPLETED|FAILED|CANCELLED*|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$st"; return;; esac
    sleep 1
  done
  echo TIMEOUT_WAITING
}
exit_code() { ctl scontrol show job "$1" | sed -n 's/.* ExitCode=\([0-9]*\):.*/\1/p'; }
restarts() { ctl scontrol show job "$1" | sed -n 's/.* Restarts=\([0-9]*\).*/\1/p'; }
wait_log() { local i; for i in $(seq "$3"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.5; done; return 1; }
# a node back in service after a failure (ReturnToService=2 returns it once slurmd answers)
node_back() {
  local i
  ctl scontrol update NodeName="$1" State=RESUME >/dev/null 2>&1
  for i in $(seq 60); do ctl sinfo -h -n "$1" -o %t | grep -qE '^(idle|mix|alloc)$' && return 0; sleep 1; done
  return 1
}
# the hosts the job's last start ran on, one per line
last_nodes() { ctl scontrol show hostnames "$(sed -n 's/^# .* job [0-9]* (restart [0-9]*) on \([^:]*\):.*/\1/p' "bertsweep-$1.log" | tail -1)"; }
same() { /usr/bin/python3 "$SRC/tests/cluster/same.py" "$@"; }
bertsweep_pids() { local p; for p in $(ip netns pids "$(cluster_ns "$1")"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = bertsweep ] && echo "$p"; done; }

/usr/bin/python3 - <<'PY'
import json
c = json.load(open("tiny.json"))
c["train"].update(threads=1, checkpoint_every=500, eval_every=200)
c["data"].update(train_size=64, dev_size=32)
c["sweep"] = {"seeds": [1, 2, 3, 4, 5, 6], "grid": {"optimizer.correct_bias": [True, False]}}
c["train"]["epochs"] = 100
c["output"] = "short.h5"
json.dump(c, open("short.json", "w"))
c["sweep"] = {"seeds": [1, 2, 3, 4, 5, 6]}
c["train"]["epochs"] = 1500
c["output"] = "long.h5"
json.dump(c, open("long.json", "w"))
PY
refs() { env -u OMPI_MCA_oob_tcp_if_include -u OMPI_MCA_btl_tcp_if_include "$BIN" "$@"; } # one process, not on the cluster
refs sweep short.json --output short_ref.h5 --progress 0 >/dev/null &&
  refs sweep long.json --output long_ref.h5 --progress 0 >/dev/null || { echo "FAIL: reference sweeps"; exit 1; }
note "references made"

# a. three nodes, both launchers
for launch in "srun 1" "mpirun 2"; do
  read -r L RPN <<< "$launch"
  job=$(BERTSWEEP_LAUNCHER=$L RANKS_PER_NODE=$RPN ctl sbatch --parsable --nodes=3 "$SRC/slurm/sweep-nodes.sbatch" \
        "$WORK/short.json" --output "a-$L.h5")
  state=$(wait_job "$job" 120)
  check '[ "$state" = COMPLETED ]' "a ($L, $RPN per node): ended $state: $(tail -5 bertsweep-$job.log)"
  check 'grep -q "3 node(s) x $RPN rank(s) x .* started by $L" bertsweep-$job.log' "a ($L): $(head -1 bertsweep-$job.log)"
  check 'same short_ref.h5 a-$L.h5 n1,n2,n3' "a ($L, $RPN per node): not the one-process sweep on n1-n3"
  check '/usr/bin/python3 -c "import h5py,sys; r=h5py.File(\"a-$L.h5\")[\"runs\"][:]; sys.exit(len(set(r[\"rank\"])) != 3 * $RPN)"' \
    "a ($L): not every rank ran runs"
done
note "a done"

# b, c: a node fails mid-sweep; the job must end within the silence limit plus the launcher's
# grace (20 s), be requeued without the node and finish bit-identically
export BERTSWEEP_SILENCE_LIMIT=8
failure() { # NAME ACTION: run long.json on 3 nodes, do ACTION to n3 once its rank runs
  local name=$1 action=$2 job
  job=$(ctl sbatch --parsable --nodes=3 "$SRC/slurm/sweep-nodes.sbatch" "$WORK/long.json" --output "$name.h5" --progress 1)
  wait_log "bertsweep-$job.log" "r2 run [0-9]* [1-9]" 120 || echo "FAIL: $name: the sweep did not start"
  local t=$(date +%s)
  $action n3
  echo "$job" > "$name.job"
  wait_log "bertsweep-$job.log" "requeueing job $job without\|CANCELLED.*REQUEUE\|NODE_FAIL" 120
  echo $(($(date +%s) - t)) > "$name.ended"
}
failure killed cluster_kill
state=$(wait_job "$(cat killed.job)" 240)
job=$(cat killed.job)
check '[ "$state" = COMPLETED ] && [ "$(restarts $job)" -ge 1 ]' "b: killed node: $state after $(restarts $job) restarts: $(grep -v '^\[' bertsweep-$job.log | tail -6)"
check '[ "$(cat killed.ended)" -le 40 ]' "b: the job took $(cat killed.ended) s to end after the node died (bound: 8 s silence + 20 s grace + 12)"
check 'same long_ref.h5 killed.h5' "b: killed node: results differ"
check '"$BIN" check killed.h5 >/dev/null' "b: bertsweep check fails after the killed node"
check '! last_nodes $job | grep -qx n3' "b: the requeued job ran on the dead node: $(last_nodes $job | paste -sd,)"
on n3 slurmd -N n3; node_back n3 || echo "FAIL: n3 did not come back"
note "b done"

failure frozen cluster_freeze
job=$(cat frozen.job)
wait_log "bertsweep-$job.log" "fenced" 120
frozen=$(bertsweep_pids n3 | head -1)
live=$(stat -c %i frozen.h5)
open_copy=$(for fd in /proc/$frozen/fd/*; do [ "$(readlink "$fd")" = "$WORK/frozen.h5 (deleted)" ] && stat -L -c %i "$fd"; done | head -1)
check '[ -n "$frozen" ] && [ -n "$open_copy" ] && [ "$open_copy" != "$live" ]' \
  "c: the frozen rank ($frozen) does not hold the unlinked old file (its: $open_copy, the file: $live)"
state=$(wait_job "$job" 240)
check '[ "$state" = COMPLETED ]' "c: frozen node: $state: $(grep -v '^\[' bertsweep-$job.log | tail -6)"
check 'grep -q "rank 2 on host n3, running run .* silent for" bertsweep-$job.log' "c: the silent rank was not named"
check '[ "$(cat frozen.ended)" -le 35 ]' "c: the job took $(cat frozen.ended) s to end after the node froze (bound 8 + 20 + 7)"
check 'grep -q "requeueing job $job without them" bertsweep-$job.log && ! last_nodes $job | grep -qx n3' \
  "c: not requeued without the frozen node"
sum=$(md5sum < frozen.h5)
cluster_thaw n3
sleep 5
check '[ "$(md5sum < frozen.h5)" = "$sum" ]' "c: the woken rank changed the file"
check 'same long_ref.h5 frozen.h5 && "$BIN" check frozen.h5 >/dev/null' "c: frozen node: results differ or check fails"
node_back n3 || echo "FAIL: n3 did not come back"
note "c (frozen) done"

failure cut cluster_cut
job=$(cat cut.job)
state=$(wait_job "$job" 240)
check '[ "$state" = COMPLETED ]' "c: cut-off node: $state: $(grep -v '^\[' bertsweep-$job.log | tail -6)"
check 'grep -q "rank 2 on host n3.* silent for" bertsweep-$job.log' "c: cut-off: the silent rank was not named"
sum=$(md5sum < cut.h5)
cluster_heal n3
sleep 3
check '[ "$(md5sum < cut.h5)" = "$sum" ]' "c: the cut-off rank changed the file after the heal"
check 'same long_ref.h5 cut.h5 && "$BIN" check cut.h5 >/dev/null' "c: cut-off node: results differ or check fails"
node_back n3 || echo "FAIL: n3 did not come back"
unset BERTSWEEP_SILENCE_LIMIT
note "c (cut) done"

# d. the time limit's warning signal on three nodes
job=$(ctl sbatch --parsable --nodes=3 "$SRC/slurm/sweep-nodes.sbatch" "$WORK/long.json" --output timed.h5 --progress 1)
wait_log "bertsweep-$job.log" "r2 run [0-9]* [1-9]" 120
ctl scancel --batch -s USR1 "$job"
state=$(wait_job "$job" 240)
check '[ "$state" = COMPLETED ] && grep -q "requeueing" bertsweep-$job.log' "d: time limit: $state: $(grep -v '^\[' bertsweep-$job.log | tail -5)"
check 'grep -q "stopped (a signal or the time limit): 3 runs checkpointed" bertsweep-$job.log' \
  "d: not every node checkpointed: $(grep 'checkpointed' bertsweep-$job.log)"
check 'same long_ref.h5 timed.h5' "d: time limit: results differ"
note "d done"

# e. `bertsweep stop` from the controller's host
job=$(ctl sbatch --parsable --nodes=3 "$SRC/slurm/sweep-nodes.sbatch" "$WORK/long.json" --output stopped.h5 --progress 1)
wait_log "bertsweep-$job.log" "r2 run [0-9]* [1-9]" 120
ctl "$BIN" stop stopped.h5 >/dev/null
state=$(wait_job "$job" 120)
check '[ "$state" = FAILED ] && [ "$(exit_code $job)" = 5 ] && [ "$(restarts $job)" = 0 ]' \
  "e: stop: $state, exit $(exit_code $job), $(restarts $job) restarts"
check 'grep -q "not requeued" bertsweep-$job.log' "e: $(tail -3 bertsweep-$job.log)"
note "e done"

# f. a second sweep of the same file while the first runs on two other hosts
first=$(ctl sbatch --parsable --nodes=2 "$SRC/slurm/sweep-nodes.sbatch" "$WORK/long.json" --output twice.h5 --progress 1)
wait_log "bertsweep-$first.log" "r1 run [0-9]* [1-9]" 120
second=$(ctl sbatch --parsable --nodes=1 --exclude=n1,n2 "$SRC/slurm/sweep-nodes.sbatch" "$WORK/long.json" --output twice.h5)
state=$(wait_job "$second" 60)
check '[ "$(exit_code $second)" = 6 ] && grep -q "another sweep is writing it (host n1.*ranks on n1, n2)" bertsweep-$second.log' \
  "f: the second sweep: $state, exit $(exit_code $second): $(grep -v '^#' bertsweep-$second.log | tail -3)"
check '[ "$(wait_job "$first" 120)" = COMPLETED ] && same long_ref.h5 twice.h5' "f: the first sweep was disturbed"

# f. without Slurm: mpirun on n1 and n2 through the rsh agent, both hosts' ranks killed (a
# crash), then the same command on n3: it waits for the lock to go stale and says so
printf "n1 slots=1\nn2 slots=1\n" > hosts
# (BERTSWEEP_LOCK_STALE=12 for both sweeps: the lock records the holder's 3-s heartbeat, and
# a taker never judges a lock stale within four of its holder's heartbeats)
BERTSWEEP_LOCK_STALE=12 ctl mpirun --hostfile hosts -np 2 --mca plm_rsh_agent "$CLUSTER_DIR/agent" -x OMP_NUM_THREADS -x BERTSWEEP_LOCK_STALE \
  "$BIN" sweep long.json --output crash.h5 --progress 1 > crash1.log 2>&1 &
wait_log crash1.log "r1 run [0-9]* [1-9]" 120
for h in n1 n2; do for p in $(bertsweep_pids $h); do kill -9 "$p"; done; done
wait
sleep 7 # older than a live sweep's heartbeat can be (half of BERTSWEEP_LOCK_STALE here)
t=$(date +%s)
on n3 env BERTSWEEP_LOCK_STALE=12 OMP_NUM_THREADS=1 "$BIN" sweep long.json --output crash.h5 --progress 0 > crash2.log 2>&1
rc=$?
waited=$(($(date +%s) - t))
check '[ $rc = 0 ] && grep -q "last refreshed .* ago by host n1 .*waiting [0-9]* s more until it is stale" crash2.log' \
  "f: the resume from n3: exit $rc: $(head -3 crash2.log)"
check 'grep -q "fenced" crash2.log && [ $waited -ge 3 ]' "f: the resume did not wait ($waited s) or did not fence"
check 'same long_ref.h5 crash.h5' "f: the resumed sweep differs"
note "f done"

# g. a plain mpirun (the README's command, no Slurm wrapper) from n1 over n1 and n2, n2 frozen:
# Open MPI's mpirun would wait for the frozen daemon for ever after the abort; rank 0 ends it
# after its grace (25 s), and the same command resumes
printf "n1 slots=1\nn2 slots=1\n" > hosts2
BERTSWEEP_SILENCE_LIMIT=8 on n1 mpirun --hostfile hosts2 -np 2 --mca plm_rsh_agent "$CLUSTER_DIR/agent" \
  -x OMP_NUM_THREADS -x BERTSWEEP_SILENCE_LIMIT "$BIN" sweep long.json --output plain.h5 --progress 1 > plain.log 2>&1 &
m=$!
wait_log plain.log "r1 run [0-9]* [1-9]" 120
cluster_freeze n2
t=$(date +%s)
for i in $(seq 90); do kill -0 $m 2>/dev/null || break; sleep 1; done
took=$(($(date +%s) - t))
kill -9 $m 2>/dev/null
wait $m 2>/dev/null
check '[ $took -le 45 ] && grep -q "^# ended: rank 1 on host n2" plain.log' \
  "g: plain mpirun with n2 frozen took $took s to end (bound 8 s silence + 25 s grace + 12): $(tail -3 plain.log)"
cluster_thaw n2
on n1 env OMP_NUM_THREADS=1 "$BIN" sweep long.json --output plain.h5 --progress 0 > plain2.log 2>&1
check '[ $? = 0 ] && grep -q fenced plain2.log && same long_ref.h5 plain.h5' "g: the resume after the plain mpirun: $(tail -3 plain2.log)"
note "g done"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
