#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "jobs/results_sink.h"
#include "src/clock.h"
#include "src/fault.h"

#define FLUSH_SECONDS 2.0

/* The buffered metrics, then the row (which vouches for the steps it counts). */
static int flush(ResultsSink *s, Err *e) {
  MetricBuf *b = &s->buf;
  const double *steps[NMETRICS], *evals[NMETRICS];
  for (int k = 0; k < NMETRICS; k++) {
    steps[k] = b->step_val[k];
    evals[k] = b->eval_val[k];
  }
  int row = s->row.run_id;
  if (b->n && results_write_metrics(s->res, SHAPE_RUN_STEP, row, b->step0, b->n, steps, e)) return -1;
  if (b->ne && results_write_metrics(s->res, SHAPE_RUN_EVAL, row, b->eval0, b->ne, evals, e)) return -1;
  b->step0 += b->n;
  b->n = 0;
  b->eval0 += b->ne;
  b->ne = 0;
  s->last_flush = clock_seconds();
  return results_write_row(s->res, &s->row, e);
}

static int sink_checkpoint(void *ctx, const Job *j, int eval_pending, Err *e) {
  ResultsSink *s = ctx;
  if (s->slot < 0) return flush(s, e); /* no checkpoints in this file: the metrics at least */
  if (flush(s, e)) return -1; /* metrics reach the file before the state that vouches for them */
  const long n = s->nparams;
  if (fault_hit("enospc", s->run, j->step))
    return errf(e, "%s: writing checkpoint slot %d: %s (injected)", s->res->path, s->slot, strerror(ENOSPC));
  if (results_ckpt_write_data(s->res, s->slot, s->half, j->m.params, j->opt.m, j->opt.v, n, e)) return -1;
  fault_kill("killckpt", s->run, j->step);
  SlotState st = {{0}};
  st.v[SS_RUN] = s->row.run_id;
  st.v[SS_STEP] = (double)j->step;
  st.v[SS_OPT_T] = (double)j->opt.t;
  st.v[SS_HALF] = s->half;
  st.v[SS_BEST_ACC] = s->row.best_acc;
  st.v[SS_BEST_STEP] = (double)s->row.best_step;
  st.v[SS_FINAL_ACC] = s->row.final_acc;
  st.v[SS_FINAL_LOSS] = s->row.final_loss;
  st.v[SS_NFLOATS] = (double)n;
  st.v[SS_CRC] = results_ckpt_crc(j->m.params, j->opt.m, j->opt.v, n);
  st.v[SS_WALL] = s->row.wall_seconds;
  st.v[SS_EVAL_PENDING] = eval_pending;
  if (results_ckpt_commit(s->res, s->slot, &st, e)) return -1;
  s->half ^= 1;
  return 0;
}

/* Continues from the slot's checkpoint when it holds this run and verifies. */
static int sink_restore(void *ctx, Job *j, int *eval_pending, Err *e) {
  ResultsSink *s = ctx;
  SlotState st;
  const int row = s->row.run_id;
  if (s->slot < 0) return 0;
  if (results_ckpt_state(s->res, s->slot, &st, e)) return -1;
  if (st.v[SS_RUN] != row) return 0;
  const char *why = results_slot_state_fits(&st, row, s->row.total_steps, s->nparams) ? NULL : "its state does not fit the run";
  if (!why) {
    int rc = results_ckpt_read(s->res, s->slot, j->m.params, j->opt.m, j->opt.v, s->nparams, &st, e);
    if (rc < 0) return -1;
    if (rc) why = "its data does not match its checksum";
  }
  if (why) {
    fprintf(stderr, "bertsweep: warning: %s: the checkpoint of run %d does not verify (%s); the run starts over\n",
            s->res->path, row, why);
    return 2;
  }
  const long step = (long)st.v[SS_STEP];
  job_restore(j, step, (long)st.v[SS_OPT_T], st.v[SS_BEST_ACC], (long)st.v[SS_BEST_STEP]);
  s->half = 1 - (int)st.v[SS_HALF];
  s->row.best_acc = st.v[SS_BEST_ACC];
  s->row.best_step = (long)st.v[SS_BEST_STEP];
  s->row.final_acc = st.v[SS_FINAL_ACC];
  s->row.final_loss = st.v[SS_FINAL_LOSS];
  s->row.wall_seconds = st.v[SS_WALL];
  s->row.steps_done = step;
  *eval_pending = st.v[SS_EVAL_PENDING] == 1; /* that evaluation is not in the file yet: it is the next one */
  s->buf.step0 = step;
  s->buf.eval0 = (int)job_evals_through(j->cfg.eval_every, j->total_steps, *eval_pending ? step - 1 : step);
  return 1;
}

static int sink_opened(void *ctx, const Job *j, int restored, Err *e) {
  ResultsSink *s = ctx;
  int before = 0;
  char blas[ERROR_LEN] = "";
  if (restored && results_row_provenance(s->res, s->row.run_id, &before, blas, sizeof blas, e)) return -1;
  if (restored && before > 0 && before != s->row.threads)
    fprintf(stderr, "bertsweep: warning: run %d checkpointed with %d threads resumes with %d: OpenBLAS blocks its "
                    "sums differently, so its numbers will not be bit-identical to an uninterrupted run's\n",
            s->row.run_id, before, s->row.threads);
  /* the kernel the run last used is the last one named: "A, then B" when a resume changed it */
  const char *last = strrchr(blas, ',');
  last = last && !strncmp(last, ", then ", 7) ? last + 7 : blas;
  if (restored && blas[0] && strcmp(last, s->row.blas) != 0) {
    fprintf(stderr, "bertsweep: warning: run %d checkpointed under %s resumes under %s: the kernel blocks its sums "
                    "differently, so its numbers will match neither kernel's uninterrupted run (/runs \"blas\" names "
                    "both)\n", s->row.run_id, last, s->row.blas);
    snprintf(s->blas_used, sizeof s->blas_used, "%s, then %s", blas, s->row.blas);
    s->row.blas = s->blas_used;
  } else if (restored && blas[0]) {
    snprintf(s->blas_used, sizeof s->blas_used, "%s", blas); /* keeps an earlier change on record */
    s->row.blas = s->blas_used;
  }
  s->row.majority = j->majority_acc;
  s->row.bow = j->bow_acc;
  s->row.unk_rate = j->unk_rate;
  s->row.labels = j->labels.n;
  s->row.initialised = j->initialised;
  s->t0 = clock_seconds() - s->row.wall_seconds;
  s->last_flush = clock_seconds();
  return results_write_row(s->res, &s->row, e);
}

/* m's values of every metric of one shape into column at of the buffer vals. */
static void buffer(double (*vals)[SINK_BUF_STEPS], ShapeRule shape, const Metrics *m, int at) {
  for (int k = 0; k < NMETRICS; k++)
    if (RESULTS_METRICS[k].shape == shape) vals[k][at] = m->v[k];
}

static int sink_step(void *ctx, const Job *j, const StepMetrics *m, Err *e) {
  ResultsSink *s = ctx;
  MetricBuf *b = &s->buf;
  buffer(b->step_val, SHAPE_RUN_STEP, m, b->n++);
  s->row.steps_done = j->step;
  s->row.final_loss = (float)m->v[DS_LOSS];
  s->row.wall_seconds = clock_seconds() - s->t0;
  return b->n == SINK_BUF_STEPS ? flush(s, e) : 0;
}

static int sink_eval(void *ctx, const Job *j, const EvalMetrics *m, Err *e) {
  ResultsSink *s = ctx;
  MetricBuf *b = &s->buf;
  buffer(b->eval_val, SHAPE_RUN_EVAL, m, b->ne++);
  s->row.best_acc = j->best_acc;
  s->row.best_step = j->best_step;
  s->row.final_acc = m->v[DS_ACC];
  return b->ne == SINK_BUF_EVALS ? flush(s, e) : 0;
}

static int sink_tick(void *ctx, const Job *j, Err *e) {
  ResultsSink *s = ctx;
  if (s->progress) s->progress(s->hook, s->run, j->step, s->row.final_loss);
  return clock_seconds() - s->last_flush > FLUSH_SECONDS ? flush(s, e) : 0;
}

static int sink_stop(void *ctx, const Job *j) {
  ResultsSink *s = ctx;
  (void)j;
  return s->should_stop ? s->should_stop(s->hook) : 0;
}

/* The row's final status. A done run: final weights, then the row and a sync (a finished run
   survives a node crash), then its slot is freed; a diverged run the same without weights. */
static int sink_end(void *ctx, const Job *j, RunEnd how, const char *why, Err *e) {
  ResultsSink *s = ctx;
  if (RUN_END_STATUS[how] < 0) return 0; /* an I/O error: the row keeps its last state */
  s->row.status = RUN_END_STATUS[how];      /* stopped: its checkpoint is committed, a resume continues it */
  if (how == END_FAILED) {
    s->row.error = why;
    return results_write_row(s->res, &s->row, e);
  }
  if (how == END_DONE) {
    if (s->save_final_weights && results_write_final(s->res, s->row.run_id, j->m.params, s->nparams, e)) return -1;
    s->row.finished = (double)time(NULL);
  }
  if (flush(s, e) || results_sync(s->res, e)) return -1;
  return how != END_STOPPED && s->slot >= 0 ? results_slot_clear(s->res, s->slot, e) : 0;
}

RunSink results_sink(ResultsSink *s) {
  return (RunSink){.ctx = s,
                   .id = s->run,
                   .restore = sink_restore,
                   .opened = sink_opened,
                   .step = sink_step,
                   .eval = sink_eval,
                   .checkpoint = sink_checkpoint,
                   .tick = sink_tick,
                   .stop = sink_stop,
                   .end = sink_end};
}
