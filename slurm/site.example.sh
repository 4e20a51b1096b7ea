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
if command -v module >/dev/null 2>&1; then
  module load openmpi/4.1 hdf5/1.10-mpi openblas cjson utf8proc libzip 2>/dev/null || true
fi

# the network Open MPI uses between nodes, when a node has several interfaces
# export OMPI_MCA_btl_tcp_if_include=ib0 OMPI_MCA_oob_tcp_if_include=ib0

# srun (PMIx) or mpirun; the silence limit for frozen nodes (default: from each run's pace)
# export BERTSWEEP_LAUNCHER=srun
# export BERTSWEEP_SILENCE_LIMIT=900
