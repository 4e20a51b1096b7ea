# The mpirun launcher of run-sweep.sh (sourced), where Slurm lacks PMIx: Open MPI's own daemons
# start the ranks; OMP_NUM_THREADS and every BERTSWEEP_* variable set in the job reach them.
# launch BIN ARGS...: starts the ranks in the background.
launch() {
  local forward=(-x OMP_NUM_THREADS) v
  for v in $(compgen -e); do
    case $v in BERTSWEEP_*) forward+=(-x "$v") ;; esac
  done
  mpirun -np $((nodes * per_node)) --map-by "ppr:$per_node:node" --bind-to none "${forward[@]}" "$@" &
}
