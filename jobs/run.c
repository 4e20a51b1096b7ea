#include <assert.h>
#include <math.h>
#include <signal.h>
#include "jobs/run.h"
#include "src/fault.h"

const int RUN_END_STATUS[NRUN_ENDS] = {[END_DONE] = RUN_DONE, [END_STOPPED] = RUN_STOPPED, [END_DIVERGED] = RUN_DIVERGED,
                                       [END_FAILED] = RUN_FAILED, [END_IOERROR] = -1};
static_assert(NRUN_ENDS == 5, "RUN_END_STATUS maps every RunEnd");

const char *run_end_name(RunEnd how) { return RUN_END_STATUS[how] >= 0 ? RUN_STATUS_NAME[RUN_END_STATUS[how]] : "I/O error"; }

typedef struct {
  const RunSink *k;
  const Job *j;
} EvalStop;

/* Between evaluation batches: a dev pass of 10k examples can outlast a time limit's grace. */
static int eval_should_stop(void *ctx) {
  EvalStop *s = ctx;
  if (fault_hit("stopeval", s->k->id, s->j->step)) raise(SIGUSR1);
  return s->k->stop(s->k->ctx, s->j);
}

/* Evaluates and records; *abandoned: a stop came between batches (nothing recorded). */
static int evaluate(const RunSink *k, Job *j, int *abandoned, Err *e) {
  EvalMetrics ev;
  EvalStop s = {k, j};
  *abandoned = k->stop ? job_eval_stoppable(j, &ev, eval_should_stop, &s) : (job_eval(j, &ev), 0);
  return *abandoned || !k->eval ? 0 : k->eval(k->ctx, j, &ev, e);
}

static RunEnd stopped(const RunSink *k, const Job *j, int eval_pending, Err *e) {
  return k->checkpoint && k->checkpoint(k->ctx, j, eval_pending, e) ? END_IOERROR : END_STOPPED;
}

/* Trains from j->step to the end, a stop or a non-finite loss or gradient norm. */
static RunEnd train(const RunSink *k, Job *j, int eval_pending, Err *e) {
  const int every = j->cfg.checkpoint_every;
  int abandoned = 0;
  if (eval_pending) { /* resumed from a stop during an evaluation: that evaluation first */
    if (evaluate(k, j, &abandoned, e)) return END_IOERROR;
    if (abandoned) return stopped(k, j, 1, e);
  }
  while (!job_finished(j)) {
    if (k->stop && k->stop(k->ctx, j)) return stopped(k, j, 0, e);
    StepMetrics m;
    job_step(j, &m);
    fault_step_delay();
    if (k->step && k->step(k->ctx, j, &m, e)) return END_IOERROR;
    if (!isfinite(m.v[DS_LOSS]) || !isfinite(m.v[DS_GNORM])) return END_DIVERGED; /* metrics kept to here */
    if (job_eval_due(j)) {
      if (evaluate(k, j, &abandoned, e)) return END_IOERROR;
      if (abandoned) return stopped(k, j, 1, e);
    }
    if (job_finished(j)) break;
    int ckpt = every > 0 && j->step % every == 0 && k->checkpoint;
    if (ckpt ? k->checkpoint(k->ctx, j, 0, e) : k->tick ? k->tick(k->ctx, j, e) : 0) return END_IOERROR;
    fault_kill("kill", k->id, j->step);
    if (fault_hit("term", k->id, j->step)) raise(SIGTERM);
  }
  return END_DONE;
}

/* Opens the job and continues from the sink's checkpoint when one verifies; 0, or the end. */
static int open_run(const RunConfig *cfg, const RunSink *k, Job *j, int *eval_pending, RunEnd *how, Err *e) {
  *eval_pending = 0;
  if (job_open(j, cfg, e)) {
    *how = END_FAILED;
    return -1;
  }
  int r = k->restore ? k->restore(k->ctx, j, eval_pending, e) : 0;
  if (r == 2) { /* starts over from freshly loaded weights */
    job_close(j);
    *eval_pending = 0;
    if (job_open(j, cfg, e)) {
      *how = END_FAILED;
      return -1;
    }
    r = 0;
  }
  if (r < 0 || (k->opened && k->opened(k->ctx, j, r == 1, e))) {
    job_close(j);
    *how = END_IOERROR;
    return -1;
  }
  return 0;
}

RunEnd run_drive(const RunConfig *cfg, const RunSink *k, Err *e) {
  Job j;
  int eval_pending;
  RunEnd how;
  if (open_run(cfg, k, &j, &eval_pending, &how, e)) {
    if (how == END_FAILED && k->end) {
      Err e2 = {{0}, 0};
      if (k->end(k->ctx, NULL, END_FAILED, e->msg, &e2)) {
        *e = e2;
        how = END_IOERROR;
      }
    }
    return how;
  }
  how = train(k, &j, eval_pending, e);
  if (how != END_IOERROR && k->end && k->end(k->ctx, &j, how, NULL, e)) how = END_IOERROR;
  job_close(&j);
  return how;
}
