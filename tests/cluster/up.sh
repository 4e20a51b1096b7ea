#!/usr/bin/env bash
# Starts the test cluster by hand (root): CLUSTER_DIR=/var/tmp/bsc tests/cluster/up.sh [--no-slurm]
# Then, e.g.:  . tests/cluster/cluster.sh; ctl sinfo; ctl sbatch --nodes=3 slurm/sweep-nodes.sbatch CONFIG
# or without Slurm:  mpirun --hostfile $CLUSTER_DIR/hosts --mca plm_rsh_agent $CLUSTER_DIR/agent ...
# tests/cluster/down.sh removes everything again.
set -u
export CLUSTER_DIR=${CLUSTER_DIR:-/var/tmp/bsc}
mkdir -p "$CLUSTER_DIR"
. "$(dirname "$0")/cluster.sh"
cluster_down
for h in $(cluster_hosts); do echo "$h slots=$(nproc)"; done > "$CLUSTER_DIR/hosts"
if [ "${1:-}" = --no-slurm ]; then
  cluster_net_up || { echo "cannot make the cluster's network namespaces" >&2; exit 1; }
else
  cluster_start || { echo "the cluster did not start: see $CLUSTER_DIR/start.log and $CLUSTER_DIR/*.log" >&2; exit 1; }
fi
echo "cluster up: hosts $(cluster_hosts | tr '\n' ' ')(addresses $CLUSTER_NET.1-$CLUSTER_NODES), controller ctl; state in $CLUSTER_DIR"
