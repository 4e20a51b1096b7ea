# The srun launcher of run-sweep.sh (sourced): Slurm starts the ranks itself through PMIx, no
# ssh and no daemons of Open MPI's own, every rank in Slurm's accounting and cleanup, as most
# sites require. Every variable of the job's environment reaches the ranks (--export=ALL). Each
# rank is bound to $cpus_per_rank of Slurm's CPUs: its $threads cores' hardware threads.
# launch BIN ARGS...: starts the ranks in the background.
launch() {
  srun --mpi=pmix --nodes="$nodes" --ntasks=$((nodes * per_node)) --ntasks-per-node="$per_node" \
    --cpus-per-task="$cpus_per_rank" --kill-on-bad-exit=1 --export=ALL "$@" &
}
