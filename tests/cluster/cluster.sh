# A cluster on one machine, for tests and by hand (sourced; needs root): compute hosts n1..nN
# and a controller host "ctl", each a network namespace (its own address, 10.213.7.0/24, on a
# bridge that has none) with its own host name (a UTS namespace per process started in it). The
# file system is shared by all of them, as a cluster's parallel file system would be. Slurm:
# one slurmctld on ctl, one slurmd per compute host, one munged for all (its socket is a file).
# Open MPI without Slurm: an rsh agent that enters a host ($CLUSTER_DIR/agent).
#
# CLUSTER_DIR (required): state, configuration, logs. Every name made here starts with "bsc-",
# so cluster_down can find what a killed earlier run left behind.
CLUSTER_PREFIX=bsc
CLUSTER_NET=10.213.7
CLUSTER_NODES=${CLUSTER_NODES:-3}
export SLURM_CONF=$CLUSTER_DIR/slurm.conf
# Open MPI's out-of-band and MPI traffic on the cluster's network only (a site sets its own)
export OMPI_MCA_oob_tcp_if_include=$CLUSTER_NET.0/24 OMPI_MCA_btl_tcp_if_include=$CLUSTER_NET.0/24
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cluster_hosts() { for i in $(seq "$CLUSTER_NODES"); do echo "n$i"; done; }
cluster_ns() { echo "$CLUSTER_PREFIX-$1"; }

# on HOST CMD...: CMD on HOST (its network and its host name)
# CLUSTER_KEEP: the top folders under /tmp (e.g. "ci-check") that every host must still see
# through its own /tmp: a clone or build tree there (the real /tmp is bound aside first)
on() {
  local h=$1
  shift
  # nsenter, not ip netns exec: that one mounts a /sys of its own, without the cgroups slurmd reads;
  # a host's /tmp and /dev/shm are its own, the rest is shared
  mkdir -p "$CLUSTER_DIR/tmp-$h" /run/bsc-realtmp
  nsenter --net="/run/netns/$(cluster_ns "$h")" unshare --uts --mount sh -c '
    h=$0 dir=$1; shift
    mount --rbind /tmp /run/bsc-realtmp && mount --bind "$dir/tmp-$h" /tmp || exit 1
    for k in $CLUSTER_KEEP; do mkdir -p "/tmp/$k" && mount --rbind "/run/bsc-realtmp/$k" "/tmp/$k" || exit 1; done
    mount -t tmpfs none /dev/shm && hostname "$h" && exec "$@"' \
    "$h" "$CLUSTER_DIR" "$@"
}
ctl() { on ctl "$@"; }

# every process, namespace, bridge and daemon of this cluster (also a killed run's)
cluster_down() {
  local ns p try
  for try in 1 2 3; do
    _cluster_down_once
    ip netns list 2>/dev/null | grep -q "^$CLUSTER_PREFIX-" || ip link show "$CLUSTER_PREFIX-br" >/dev/null 2>&1 || break
    sleep 1
  done
  if [ -f "$CLUSTER_DIR/munge/munged.pid" ]; then kill "$(cat "$CLUSTER_DIR/munge/munged.pid")" 2>/dev/null || true; fi
  rm -f "$CLUSTER_DIR"/munge/munged.pid "$CLUSTER_DIR"/*.pid
  return 0
}

_cluster_down_once() {
  local ns p
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$CLUSTER_PREFIX-"); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$CLUSTER_PREFIX-br" 2>/dev/null || true
  for p in $(ip -br link 2>/dev/null | awk '{print $1}' | grep "^$CLUSTER_PREFIX-" | sed 's/@.*//'); do
    ip link del "$p" 2>/dev/null || true
  done
  return 0
}

cluster_net_up() {
  ip link add "$CLUSTER_PREFIX-br" type bridge && ip link set "$CLUSTER_PREFIX-br" up || return 1
  local h i=0 ns
  for h in ctl $(cluster_hosts); do
    i=$((i + 1))
    ns=$(cluster_ns "$h")
    ip netns add "$ns" && ip link add "$ns-v" type veth peer name "$ns-p" && ip link set "$ns-v" netns "$ns" &&
      ip link set "$ns-p" master "$CLUSTER_PREFIX-br" && ip link set "$ns-p" up &&
      ip -n "$ns" addr add "$(cluster_addr "$h")/24" dev "$ns-v" && ip -n "$ns" link set "$ns-v" up &&
      ip -n "$ns" link set lo up || return 1
  done
  # mpirun's rsh agent: "agent HOST CMD..." runs CMD on HOST in a session of its own, as ssh
  # would: killing mpirun or the agent does not reach the host's processes
  printf '#!/bin/bash\nCLUSTER_DIR=%s\nexport CLUSTER_KEEP="%s"\n. %s/cluster.sh\nh=$1; shift\non "$h" setsid sh -c "exec $*" &\nwait $!\n' \
    "$CLUSTER_DIR" "${CLUSTER_KEEP:-}" "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" > "$CLUSTER_DIR/agent"
  chmod +x "$CLUSTER_DIR/agent"
}

# the network and Slurm, tried twice: a start that stalls (seen once in CI: slurmctld wrote
# nothing) is torn down and made again before anyone gives up; the reason is in start.log
cluster_start() {
  local try
  for try in 1 2; do
    cluster_net_up && cluster_slurm_up && return 0
    echo "start $try failed; slurmctld running: $(pgrep -c slurmctld), slurmd: $(pgrep -c slurmd)" >>"$CLUSTER_DIR/start.log"
    tail -3 "$CLUSTER_DIR"/slurm*.log >>"$CLUSTER_DIR/start.log" 2>/dev/null
    cluster_down
  done
  return 1
}

cluster_addr() { case $1 in ctl) echo "$CLUSTER_NET.100" ;; n*) echo "$CLUSTER_NET.${1#n}" ;; esac; }

# the failures a node can have
cluster_freeze() { local p; for p in $(ip netns pids "$(cluster_ns "$1")"); do kill -STOP "$p"; done; }
cluster_thaw() { local p; for p in $(ip netns pids "$(cluster_ns "$1")"); do kill -CONT "$p"; done; }
cluster_kill() { local p; for p in $(ip netns pids "$(cluster_ns "$1")"); do kill -9 "$p"; done; }
cluster_cut() { ip -n "$(cluster_ns "$1")" link set "$(cluster_ns "$1")-v" down; }
cluster_heal() { ip -n "$(cluster_ns "$1")" link set "$(cluster_ns "$1")-v" up; }

cluster_slurm_up() {
  local d=$CLUSTER_DIR cpus mem nodes=""
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) / (CLUSTER_NODES + 1)))
  mkdir -p "$d/state" "$d/munge"
  [ -s /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 ||
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown munge:munge /etc/munge/munge.key 2>/dev/null
  chmod 400 /etc/munge/munge.key
  chown munge "$d/munge"
  runuser -u munge -- munged --socket="$d/munge/munge.socket" --pid-file="$d/munge/munged.pid" \
    --log-file="$d/munge/munged.log" --seed-file="$d/munge/seed" || return 1
  local i
  for i in $(seq 50); do [ -S "$d/munge/munge.socket" ] && break; sleep 0.1; done
  for h in $(cluster_hosts); do
    nodes="${nodes}NodeName=$h NodeAddr=$(cluster_addr "$h") CPUs=$cpus RealMemory=$mem State=UNKNOWN
"
  done
  cat > "$d/slurm.conf" <<CONF
ClusterName=bertsweep-cluster
SlurmctldHost=ctl($(cluster_addr ctl))
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
ReturnToService=2
SlurmdTimeout=10
MessageTimeout=5
KillWait=5
InactiveLimit=0
MinJobAge=600
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool-%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd-%n.log
${nodes}PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  # what the daemons say before their logs open goes to start.log
  ctl slurmctld -i >>"$d/start.log" 2>&1 || { echo "slurmctld exited $?" >>"$d/start.log"; return 1; }
  for h in $(cluster_hosts); do
    on "$h" slurmd -N "$h" >>"$d/start.log" 2>&1 || { echo "slurmd on $h exited $?" >>"$d/start.log"; return 1; }
  done
  for i in $(seq 60); do
    [ "$(ctl sinfo -h -o %t -t idle 2>/dev/null | wc -l)" -ge 1 ] &&
      [ "$(ctl sinfo -h -N -o %N -t idle 2>/dev/null | sort -u | wc -l)" -eq "$CLUSTER_NODES" ] && return 0
    sleep 1
  done
  return 1
}
