/* A run recorded in the results file (the sweep's sink for jobs/run.h): metrics buffered and
   flushed every few seconds, the /runs row, checkpoints into the run's slot (data, then the
   state that vouches for it), and the row's final status. The dispatcher (mpi/) supplies
   the stop and progress hooks. */
#ifndef BS_RESULTS_SINK_H
#define BS_RESULTS_SINK_H
#include "io/results.h"
#include "jobs/run.h"

enum { SINK_BUF_STEPS = 256, SINK_BUF_EVALS = 64 }; /* SINK_BUF_EVALS columns of eval_val are used */

/* What a run has gathered but not yet written: one array per per-step and per-evaluation
   dataset of the schema (RESULTS_METRICS), starting at step0 and eval0. */
typedef struct {
  long step0;
  int n;
  double step_val[NMETRICS][SINK_BUF_STEPS];
  int eval0, ne;
  double eval_val[NMETRICS][SINK_BUF_STEPS]; /* rows as long as step_val's, for one buffer() */
} MetricBuf;

typedef struct {
  Results *res;
  int run;               /* the sweep's run index */
  int slot;              /* its checkpoint slot, -1: none */
  long nparams;          /* floats in a parameter set (checkpoint sizes) */
  int save_final_weights;
  RunRow row;            /* its /runs row; the caller fills identity and provenance */
  char blas_used[256];   /* every BLAS kernel the run used ("A, then B"), when it resumed */
  MetricBuf buf;
  int half;              /* where the next checkpoint's data goes */
  double t0, last_flush; /* wall-clock start (minus time trained before) and last flush */
  /* the dispatcher's hooks (may be NULL) */
  void *hook;
  int (*should_stop)(void *hook);
  void (*progress)(void *hook, int run, long step, double loss);
} ResultsSink;

/* The RunSink that records into s. */
RunSink results_sink(ResultsSink *s);

#endif
