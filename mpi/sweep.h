/* The sweep engine: rank 0 hands out runs (longest first) on request and trains runs itself
   between answering; every rank writes its own runs' metrics into the shared results file. */
#ifndef BS_SWEEP_H
#define BS_SWEEP_H
#include <mpi.h>
#include "io/results.h"
#include "mpi/grid.h"

typedef struct {
  double progress_every; /* seconds between progress lines on rank 0 (0: never) */
  int quiet;
} SweepOptions;

/* Runs every run of s not yet done. Returns 0 when all are done. */
int sweep_run(const Sweep *s, Results *res, MPI_Comm comm, const SweepOptions *opt, Err *e);

/* Threads for this rank: the cores it was given, shared among the ranks on its node. */
int default_threads(MPI_Comm comm);

#endif
