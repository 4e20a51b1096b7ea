/* `bertsweep check`: is a results file whole, and consistent with itself? And, when it is
   not, a fresh file with everything still readable (`check --salvage`). */
#ifndef BS_RESULTS_CHECK_H
#define BS_RESULTS_CHECK_H
#include <stdio.h>
#include "io/results_schema.h"
#include "src/err.h"

typedef struct {
  int nruns, count[NRUN_STATUS]; /* runs per status (RunStatus order) */
  int checkpoints;      /* live checkpoints verified */
  int problems;
} CheckSummary;

/* Reads every dataset and checkpoint; prints each problem (and a summary) to out. Returns
   the number of problems, or -1 (with e set) when the file cannot be opened at all. */
int results_check(const char *path, FILE *out, CheckSummary *sum, Err *e);
/* Copies what is readable in path into a new file out_path that a resume accepts: rows whose
   data cannot be read become pending, checkpoints that do not verify are dropped. */
int results_salvage(const char *path, const char *out_path, FILE *out, Err *e);

#endif
