/* The numbers of a report, from one results file. Runs are grouped by their grid values
   (seeds pooled). Group statistics depend on the group's own runs only. Two groups that
   differ in one grid key are compared run against run (paired by seed), against targets
   that are common to the two groups and to nothing else, so adding groups to a file never
   changes a comparison, and a group that never learns is never "faster": a run that does
   not reach a target is censored (Kaplan–Meier per group; the slowest possible in pairs). */
#ifndef BS_ANALYSIS_H
#define BS_ANALYSIS_H
#include "io/results_read.h"

typedef struct {
  double loss_target;  /* NAN: per comparison, midway between the two groups' initial and final loss */
  double acc_target;   /* NAN: per comparison, majority + acc_fraction x (better group's best - majority) */
  double acc_fraction; /* 0.9 */
  int smooth;          /* moving-average window of the loss, in steps (10) */
  int bootstrap;       /* resamples for the confidence intervals (10000) */
} AnalysisOptions;

/* Per-run statistics that need no target, one row each. */
enum { S_BEST, S_FINAL, S_AUC, S_LATE_STD, S_ACC_OSC, NSTATS };
typedef struct {
  const char *name, *head, *meaning;
  int digits;
  int higher_is_better; /* 1, -1 (lower is better) or 0 */
} StatSpec;
extern const StatSpec STAT[NSTATS];

typedef struct {
  int done, diverged, failed; /* failed: final accuracy <= majority baseline, or diverged */
  double s[NSTATS];
} RunStats;

typedef struct {
  char key[1024];
  int first;          /* a run of the group, for its grid values */
  int n, *runs;       /* done runs */
  int finished, *fin; /* done or diverged: the runs convergence speed counts */
  int unfinished, failed, diverged;
  double mean[NSTATS], std[NSTATS], median[NSTATS];
  double majority, bow; /* baselines' dev accuracy, mean over the done runs */
} Group;

/* Steps to a target: per group a Kaplan–Meier median and how many never got there; per pair
   the difference (second - first), a run that never got there counting as total + 1. */
enum { T_LOSS, T_ACC, NTARGETS };
typedef struct {
  double target;
  double median[2];    /* KM median steps per group */
  int median_reached[2];  /* 0: fewer than half reached it: the median is ">= median[i]" */
  int never[2], n[2];
  double diff, lo, hi, p; /* median paired difference, its 95% bootstrap CI, Wilcoxon p */
} Speed;

typedef struct {
  double diff, lo, hi, p; /* mean paired difference (second - first), 95% CI, Wilcoxon p */
} Paired;

typedef struct {
  int col, g1, g2;     /* groups g1, g2 differ exactly in grid column col */
  int pairs;           /* seeds finished in both groups */
  int learned_pairs;   /* of those, pairs in which neither run failed: the steadiness statistics' pairs */
  Speed speed[NTARGETS];
  Paired stat[NSTATS];
  char warning[512];   /* the paired runs ran on different CPUs, BLAS kernels, threads or libraries */
} Comparison;

typedef struct {
  const ResultsData *d;
  AnalysisOptions o;
  RunStats *rs;        /* [nruns] */
  int ng, nc;
  Group *g;
  Comparison *c;
} Analysis;

int analysis_run(Analysis *a, const ResultsData *d, const AnalysisOptions *o, Err *e);
void analysis_free(Analysis *a);

#endif
