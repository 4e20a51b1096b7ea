/* Resume planning: how a sweep's runs map onto the rows and checkpoint slots of an existing
   results file, and what changed since the file was written. Serial; every rank computes
   the same plan from the same file. */
#ifndef BS_PLAN_H
#define BS_PLAN_H
#include "io/results_read.h"
#include "sweep/grid.h"

/* Which row of the results file each run of the sweep gets, its status there, and the
   checkpoint slot that holds its resume state. */
typedef struct {
  int nrows;            /* rows in the file after this sweep */
  const char **cfgs;    /* [nrows] */
  RunRow *rows;         /* [nrows] */
  const char **vals;    /* [nruns * naxes] */
  char (*status)[STATUS_LEN]; /* [nruns] per run of the sweep */
  int *slot_of;         /* [nruns] */
  int nslots, pending;
} Plan;

/* Matches this sweep's runs against the file's rows (by resolved config); new runs get rows
   after the old ones. Refuses a changed base config or changed grid keys, naming them. */
int plan_resume(Sweep *s, const ResultsInfo *info, Plan *p, Err *e);
/* Rows, statuses and slots for every run (info NULL: a new file); size ranks. */
int plan_build(const Sweep *s, const ResultsInfo *info, int size, Plan *p, Err *e);
/* 1 when every run of the plan is final (done or diverged) in a file of exactly its rows: a
   resume with nothing to do, which leaves the file as it is (bytes and mtime). */
int plan_nothing_to_run(const Sweep *s, const ResultsInfo *info, const Plan *p);
void plan_free(Plan *p);
/* 1 when checkpoint slot k's state names a row that is not done. */
int plan_slot_claims(const ResultsInfo *info, int k);
/* 1 when it also holds a usable checkpoint: step, half and size in range. */
int plan_slot_live(const ResultsInfo *info, int k);

#endif
