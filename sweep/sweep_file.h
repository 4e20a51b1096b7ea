/* The results file over a sweep's life, on rank 0 and serially: made or rewritten to fit
   the sweep before the ranks open it, stripped of finished runs' checkpoints at the end. */
#ifndef BS_SWEEP_FILE_H
#define BS_SWEEP_FILE_H
#include "sweep/plan.h"

/* A new sweep builds the file; a resume keeps it when it fits and otherwise rewrites it
   (copying every row and live checkpoint). restart: move an existing results file aside. */
/* *idle: every run is final in a current file, which is left as it is (bytes and mtime). */
int sweep_file_prepare(Sweep *s, int size, int restart, int *idle, Err *e);
/* The plan against the file as it now is (every rank, after sweep_file_prepare). */
int sweep_file_plan(Sweep *s, int size, Plan *p, ResultsInfo *info, Err *e);
/* At the end of a sweep with nothing left running: the file without dead checkpoint slots. */
int sweep_file_finish(const char *path, Err *e);
/* The results layout of a sweep's grid (rows, steps, evaluations, grid columns). */
void sweep_file_layout(const Sweep *s, ResultsLayout *lay);

#endif
