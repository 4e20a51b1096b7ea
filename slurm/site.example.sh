# A site's settings for bertsweep's Slurm scripts. Copy to slurm/site.sh (or point
# BERTSWEEP_SITE at a copy): run-sweep.sh sources it inside every job; source it yourself
# before `sbatch` for the submission options, which sbatch reads from these variables.
#
#   . slurm/site.sh && sbatch --nodes=8 slurm/sweep-nodes.sbatch configs/tnews-bias-correction.json

# where the job runs and who pays (sbatch's input environment variables)
export SBATCH_PARTITION=cpu
export SBATCH_ACCOUNT=myproject
export SBATCH_TIMELIMIT=24:00:00

# the libraries bertsweep was built against, as the site's module system names them (Lmod
# shown; Spack: `spack load openmpi hdf5+mpi openblas cjson utf8proc libzip`)
# (a module that does not load ends the job here, with the module system's own message,
# rather than as a missing library later)
if command -v module >/dev/null 2>&1; then
  module load openmpi/4.1 hdf5/1.10-mpi openblas cjson utf8proc libzip || {
    echo "slurm/site.sh: module load failed (above): fix the module names for this site" >&2
    exit 1
  }
fi

# the network Open MPI uses between nodes, when a node has several interfaces
# export OMPI_MCA_btl_tcp_if_include=ib0 OMPI_MCA_oob_tcp_if_include=ib0

# srun (PMIx) or mpirun; the silence limit for frozen nodes (default: from each run's pace)
# export BERTSWEEP_LAUNCHER=srun
# export BERTSWEEP_SILENCE_LIMIT=900
