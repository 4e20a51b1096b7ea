#!/usr/bin/env bash
# Removes the test cluster: every process in its namespaces, the namespaces, the bridge, munged.
export CLUSTER_DIR=${CLUSTER_DIR:-/var/tmp/bsc}
. "$(dirname "$0")/cluster.sh"
cluster_down
