/* The environment a sweep reads, parsed and validated once at its start (sweep/env.c's table
   of variables, which also writes `sweep --help`'s list). The test hooks of src/fault.h
   (BERTSWEEP_FAULT, _STEP_DELAY, _EVAL_DELAY) stay where they act. */
#ifndef BS_SWEEP_ENV_H
#define BS_SWEEP_ENV_H
#include <stdio.h>
#include "src/err.h"

typedef struct {
  double silence_limit;    /* BERTSWEEP_SILENCE_LIMIT: seconds (0: from each run's pace) */
  double lock_stale;       /* BERTSWEEP_LOCK_STALE: seconds (600) */
  int rank0_trains;        /* BERTSWEEP_RANK0_TRAINS: 0 or 1 (-1: by the rank count) */
  char stop_request[4096]; /* BERTSWEEP_STOP_REQUEST: a file whose appearance stops the sweep ("": none) */
  char silent_hosts[4096]; /* BERTSWEEP_SILENT_HOSTS: where rank 0 writes silent ranks' hosts ("": nowhere) */
  char node_name[64];      /* SLURMD_NODENAME: this host's Slurm node name ("": none) */
  int launched;            /* set by the caller before MPI_Init: a launcher's variable (OMPI_COMM_WORLD_SIZE,
                              PMIX_RANK, PMI_RANK) was set (a singleton's MPI_Init sets them itself) */
} SweepEnv;

/* Reads every variable (all but launched); -1 with the variable, its value and what it must be in e. */
int sweep_env_read(SweepEnv *env, Err *e);
/* The variables, one line each, for `sweep --help`. */
void sweep_env_help(FILE *out);

#endif
