/* `bertsweep report`: turns a results file into an answer. Runs are grouped by their grid
   values (seeds pooled); per group: accuracy, failed runs, convergence speed and late
   instability; between groups that differ in one key: differences paired by seed, with
   bootstrap confidence intervals and Wilcoxon signed-rank p-values. */
#ifndef BS_REPORT_H
#define BS_REPORT_H
#include <stdio.h>
#include "io/results_read.h"

enum { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_MARKDOWN };

typedef struct {
  int format;
  double loss_threshold; /* NAN: midpoint of the mean initial and final training loss */
  double acc_fraction;   /* steps to reach this fraction of the group's mean final accuracy */
  int smooth;            /* moving-average window for the loss threshold */
  int bootstrap;         /* resamples */
} ReportOptions;

int report_write(const char *path, const ResultsData *d, const ReportOptions *o, FILE *out, Err *e);

#endif
