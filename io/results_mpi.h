/* The results file opened by every rank of a sweep (io/results.c, through HDF5's MPI-IO
   driver): the one place the results modules take an MPI communicator. */
#ifndef BS_RESULTS_MPI_H
#define BS_RESULTS_MPI_H
#include <mpi.h>
#include "io/results.h"

/* Collective. Opens a file made by results_build for raw-data writes only. */
int results_open(Results *r, const char *path, MPI_Comm comm, Err *e);

#endif
