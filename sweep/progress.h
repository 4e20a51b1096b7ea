/* Progress of a sweep as rank 0 sees it: runs done / total, each rank's run, step and loss,
   and an ETA from the step rate so far. */
#ifndef BS_PROGRESS_H
#define BS_PROGRESS_H
#include <stdio.h>
#include "jobs/run.h"
#include "sweep/grid.h"

typedef struct {
  int run;
  long step;
  double loss;
} RankState;

typedef struct {
  const Sweep *s;
  int size, todo;
  int ended[NRUN_ENDS]; /* runs by how they ended (END_DONE, END_STOPPED, ...) */
  RankState *ranks;
  long *run_steps; /* steps done per run */
  long steps_all, steps_at_start;
  double t0;
} Progress;

int progress_init(Progress *p, const Sweep *s, int size, Err *e);
void progress_free(Progress *p);
void progress_start(Progress *p, int rank, int run);
void progress_step(Progress *p, int rank, int run, long step, double loss);
void progress_done(Progress *p, int rank, int run, RunEnd how);
void progress_print(const Progress *p, FILE *out);
/* A duration as the progress line prints it: "42s", "4m05s", "1.5h" ("?" when unknown). */
void progress_duration(char *out, size_t n, double seconds);

#endif
