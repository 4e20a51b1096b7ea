#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "jobs/job.h"
#include "src/clock.h"
#include "mpi/progress.h"
#include "mpi/signals.h"
#include "mpi/sweep.h"

enum { TAG_REQUEST = 1, TAG_ASSIGN = 2, TAG_PROGRESS = 3, TAG_DONE = 4, TAG_STOP = 5 };
enum { RUN_FAILED = 0, RUN_DONE = 1, RUN_STOPPED = 2 };
#define FLUSH_SECONDS 2.0
#define BUF_STEPS 256
#define BUF_EVALS 64

int default_threads(MPI_Comm comm) {
  MPI_Comm node;
  int local = 1;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
  }
  cpu_set_t set;
  int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  int share = (int)sysconf(_SC_NPROCESSORS_ONLN) / local;
  int t = mine < share ? mine : share;
  return t > 0 ? t : 1;
}

typedef struct {
  const Sweep *s;
  Results *res;
  MPI_Comm comm;
  int rank, size, threads;
  const SweepOptions *opt;
  int failures, stopped;
  int stop_requested; /* this rank must stop at its next step boundary */
  /* rank 0 only */
  int *queue, qhead, qn;
  int *slot_run;      /* [nslots] run index holding the slot, -1 free */
  const int *slot_of; /* [nruns] checkpoint slot of a run at start, -1 none */
  int *worker_done;   /* [size] worker got its final answer */
  int finished_workers, stop_mode;
  Progress prog;
  double last_print;
} Ctx;

/* ---- rank 0: the slot table and the queue ---- */

static int slot_for(Ctx *c, int run) {
  if (c->slot_of[run] >= 0) return c->slot_of[run];
  for (int k = 0; k < c->res->lay.nslots; k++)
    if (c->slot_run[k] < 0) return k;
  return -1; /* no checkpoints in this file */
}

static int take_next(Ctx *c, int *slot) {
  if (c->stop_mode || c->qhead >= c->qn) return -1;
  int run = c->queue[c->qhead++];
  *slot = slot_for(c, run);
  if (*slot >= 0) c->slot_run[*slot] = run;
  return run;
}

static void release_slot(Ctx *c, int run) {
  for (int k = 0; k < c->res->lay.nslots; k++)
    if (c->slot_run[k] == run) c->slot_run[k] = -1;
}

static void enter_stop_mode(Ctx *c) {
  if (c->stop_mode) return;
  c->stop_mode = 1;
  c->stop_requested = 1;
  int sig = 1;
  for (int w = 1; w < c->size; w++)
    if (!c->worker_done[w]) MPI_Send(&sig, 1, MPI_INT, w, TAG_STOP, c->comm);
}

static void handle_done(Ctx *c, int src, const double *msg) {
  int run = (int)msg[0], status = (int)msg[1];
  progress_done(&c->prog, src, run, status == RUN_DONE, msg[2]);
  if (status != RUN_STOPPED) release_slot(c, run); /* a stopped run keeps its checkpoint */
  if (status == RUN_STOPPED) enter_stop_mode(c);
}

/* Answers requests and collects reports; never blocks. */
static void service(Ctx *c) {
  if (signals_pending()) enter_stop_mode(c);
  for (;;) {
    int flag;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, &st);
    if (!flag) break;
    int src = st.MPI_SOURCE;
    if (st.MPI_TAG == TAG_REQUEST) {
      int dummy, msg[2] = {-1, -1};
      MPI_Recv(&dummy, 1, MPI_INT, src, TAG_REQUEST, c->comm, MPI_STATUS_IGNORE);
      msg[0] = take_next(c, &msg[1]);
      if (msg[0] < 0) {
        c->finished_workers++;
        c->worker_done[src] = 1;
      } else {
        progress_start(&c->prog, src, msg[0]);
      }
      MPI_Send(msg, 2, MPI_INT, src, TAG_ASSIGN, c->comm);
    } else if (st.MPI_TAG == TAG_PROGRESS || st.MPI_TAG == TAG_DONE) {
      double msg[3];
      MPI_Recv(msg, 3, MPI_DOUBLE, src, st.MPI_TAG, c->comm, MPI_STATUS_IGNORE);
      if (st.MPI_TAG == TAG_PROGRESS) progress_step(&c->prog, src, (int)msg[0], (long)msg[1], msg[2]);
      else handle_done(c, src, msg);
    } else {
      fprintf(stderr, "bertsweep: rank 0: unexpected message tag %d from rank %d\n", st.MPI_TAG, src);
      MPI_Abort(c->comm, 1);
    }
  }
  if (c->opt->progress_every > 0 && clock_seconds() - c->last_print >= c->opt->progress_every) {
    progress_print(&c->prog, stdout);
    c->last_print = clock_seconds();
  }
}

/* ---- any rank: between steps ---- */

static void poll_stop(Ctx *c) {
  if (c->rank == 0) {
    service(c);
    return;
  }
  if (signals_pending()) c->stop_requested = 1;
  int flag;
  MPI_Iprobe(0, TAG_STOP, c->comm, &flag, MPI_STATUS_IGNORE);
  if (flag) {
    int sig;
    MPI_Recv(&sig, 1, MPI_INT, 0, TAG_STOP, c->comm, MPI_STATUS_IGNORE);
    c->stop_requested = 1;
  }
}

static void report(Ctx *c, int tag, double a, double b, double x) {
  if (c->rank == 0) {
    if (tag == TAG_PROGRESS) progress_step(&c->prog, 0, (int)a, (long)b, x);
    else {
      double msg[3] = {a, b, x};
      handle_done(c, 0, msg);
    }
    return;
  }
  double msg[3] = {a, b, x};
  MPI_Send(msg, 3, MPI_DOUBLE, 0, tag, c->comm);
}

static void fault(const Ctx *c, const char *kind, int run, long step) {
  const Fault *f = &c->opt->fault;
  if (f->kind[0] && strcmp(f->kind, kind) == 0 && f->run == run && f->step == step)
    raise(strcmp(kind, "term") == 0 ? SIGTERM : SIGKILL);
}

/* ---- one run ---- */

typedef struct {
  long step0;
  int n;
  float loss[BUF_STEPS], lr[BUF_STEPS], gnorm[BUF_STEPS];
  int eval0, ne;
  long estep[BUF_EVALS];
  float acc[BUF_EVALS], eloss[BUF_EVALS], f1[BUF_EVALS];
} MetricBuf;

typedef struct {
  int run, slot, half; /* half: where the next checkpoint goes */
  const PlannedRun *p;
  RunRow row;
  MetricBuf buf;
} RunState;

static int flush(Ctx *c, RunState *rs, Err *e) {
  MetricBuf *b = &rs->buf;
  int row = rs->p->row;
  if (b->n && results_write_steps(c->res, row, b->step0, b->n, b->loss, b->lr, b->gnorm, e)) return -1;
  if (b->ne && results_write_evals(c->res, row, b->eval0, b->ne, b->estep, b->acc, b->eloss, b->f1, e)) return -1;
  b->step0 += b->n;
  b->n = 0;
  b->eval0 += b->ne;
  b->ne = 0;
  return results_write_row(c->res, &rs->row, e);
}

static int checkpoint(Ctx *c, RunState *rs, Job *j, Err *e) {
  if (rs->slot < 0) return 0;
  if (flush(c, rs, e)) return -1; /* metrics reach the file before the state that vouches for them */
  if (results_ckpt_write_data(c->res, rs->slot, rs->half, j->m.params, j->opt.m, j->opt.v, (long)j->m.nparams, e))
    return -1;
  fault(c, "killckpt", rs->run, j->step);
  SlotState st = {rs->p->row, (double)j->step, (double)j->opt.t, rs->half, rs->row.best_acc,
                  (double)rs->row.best_step, rs->row.final_acc, rs->row.final_loss};
  if (results_ckpt_write_state(c->res, rs->slot, &st, e)) return -1;
  rs->half ^= 1;
  return 0;
}

/* Continues from the slot's checkpoint when it holds this run. */
static int restore(Ctx *c, RunState *rs, Job *j, Err *e) {
  SlotState st;
  if (rs->slot < 0 || results_ckpt_state(c->res, rs->slot, &st, e)) return rs->slot < 0 ? 0 : -1;
  if ((int)st.run != rs->p->row || st.step <= 0) return 0;
  if (results_ckpt_read(c->res, rs->slot, j->m.params, j->opt.m, j->opt.v, (long)j->m.nparams, &st, e)) return -1;
  job_restore(j, (long)st.step, (long)st.opt_t, st.best_acc, (long)st.best_step);
  rs->half = 1 - (int)st.half;
  rs->row.best_acc = st.best_acc;
  rs->row.best_step = (long)st.best_step;
  rs->row.final_acc = st.final_acc;
  rs->row.final_loss = st.final_loss;
  rs->row.steps_done = (long)st.step;
  rs->buf.step0 = (long)st.step;
  rs->buf.eval0 = j->rc.eval_every > 0 ? (int)(st.step / j->rc.eval_every) : 0;
  return 1;
}

static void record_eval(RunState *rs, Job *j) {
  EvalMetrics ev;
  job_eval(j, &ev);
  MetricBuf *b = &rs->buf;
  b->estep[b->ne] = j->step;
  b->acc[b->ne] = (float)ev.accuracy;
  b->eloss[b->ne] = (float)ev.loss;
  b->f1[b->ne++] = (float)ev.macro_f1;
  rs->row.best_acc = j->best_acc;
  rs->row.best_step = j->best_step;
  rs->row.final_acc = ev.accuracy;
}

/* Trains to the end or to a stop; returns RUN_DONE, RUN_STOPPED or -1. */
static int train_loop(Ctx *c, RunState *rs, Job *j, Err *e) {
  double t0 = clock_seconds() - rs->row.wall_seconds, last_flush = clock_seconds(), last_report = 0;
  const int every = j->rc.checkpoint_every;
  while (!job_finished(j)) {
    poll_stop(c);
    if (c->stop_requested) return checkpoint(c, rs, j, e) ? -1 : RUN_STOPPED;
    StepMetrics m;
    job_step(j, &m);
    MetricBuf *b = &rs->buf;
    b->loss[b->n] = m.loss;
    b->lr[b->n] = m.lr;
    b->gnorm[b->n++] = m.grad_norm;
    rs->row.steps_done = j->step;
    rs->row.final_loss = m.loss;
    if (job_eval_due(j)) record_eval(rs, j);
    double t = clock_seconds();
    rs->row.wall_seconds = t - t0;
    if (job_finished(j)) break;
    if (every > 0 && j->step % every == 0) {
      if (checkpoint(c, rs, j, e)) return -1;
      last_flush = t;
    } else if (b->n == BUF_STEPS || b->ne == BUF_EVALS || t - last_flush > FLUSH_SECONDS) {
      if (flush(c, rs, e)) return -1;
      last_flush = t;
    }
    fault(c, "kill", rs->run, j->step);
    fault(c, "term", rs->run, j->step);
    if (c->rank != 0 && t - last_report > 0.5) {
      report(c, TAG_PROGRESS, rs->run, (double)j->step, m.loss);
      last_report = t;
    } else if (c->rank == 0) {
      progress_step(&c->prog, 0, rs->run, j->step, m.loss);
    }
  }
  return RUN_DONE;
}

static void run_one(Ctx *c, int run, int slot) {
  RunState *rs = calloc(1, sizeof *rs);
  Err e = {{0}};
  if (!rs) {
    fprintf(stderr, "bertsweep: rank %d: out of memory\n", c->rank);
    MPI_Abort(c->comm, 1);
  }
  rs->run = run;
  rs->slot = slot;
  rs->p = &c->s->runs[run];
  RunRow *row = &rs->row;
  *row = (RunRow){.run_id = rs->p->row, .seed = rs->p->seed, .rank = c->rank, .total_steps = rs->p->total_steps,
                  .best_step = -1, .status = "running", .best_acc = NAN, .final_acc = NAN, .final_loss = NAN,
                  .majority = NAN};
  omp_set_num_threads(rs->p->rc.threads > 0 ? rs->p->rc.threads : c->threads);
  Job j;
  int status = job_open(&j, &rs->p->rc, &e) ? -1 : 0;
  if (status == 0) {
    row->majority = j.majority_acc;
    status = restore(c, rs, &j, &e) < 0 ? -1 : 0;
    if (status == 0 && results_write_row(c->res, row, &e)) status = -1;
    if (status == 0) status = train_loop(c, rs, &j, &e);
    /* final weights before the row says done: a kill in between reruns the run's tail */
    if (status == RUN_DONE && rs->p->rc.save_final_weights &&
        results_write_final(c->res, rs->p->row, j.m.params, (long)j.m.nparams, &e))
      status = -1;
    job_close(&j);
  }
  if (status == RUN_STOPPED) row->status = "running"; /* interrupted: resumes from its checkpoint */
  else row->status = status == RUN_DONE ? "done" : "failed";
  Err e2 = {{0}};
  if (flush(c, rs, &e2) && status != -1) {
    status = -1;
    e = e2;
    row->status = "failed";
    results_write_row(c->res, row, &e2);
  }
  if (status == RUN_DONE && rs->slot >= 0) results_slot_clear(c->res, rs->slot, &e2);
  if (status < 0) {
    char label[512];
    run_label(c->s, rs->p, label, sizeof label);
    fprintf(stderr, "bertsweep: rank %d: run %d (%s) failed: %s\n", c->rank, rs->p->row, label, e.msg);
    c->failures++;
  }
  if (status == RUN_STOPPED) c->stopped = 1;
  report(c, TAG_DONE, run, status < 0 ? RUN_FAILED : status, row->final_acc);
  free(rs);
}

/* ---- the loops ---- */


static int cmp_longest(const void *a, const void *b, void *s_) {
  const Sweep *s = s_;
  long la = s->runs[*(const int *)a].total_steps, lb = s->runs[*(const int *)b].total_steps;
  if (la != lb) return la < lb ? 1 : -1;
  return *(const int *)a - *(const int *)b;
}

static void run_rank0(Ctx *c) {
  for (;;) {
    service(c);
    int slot, run = take_next(c, &slot);
    if (run >= 0) {
      progress_start(&c->prog, 0, run);
      run_one(c, run, slot);
      continue;
    }
    if (c->finished_workers == c->size - 1) break;
    MPI_Status st;
    MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &st); /* sleep until the next message */
  }
  if (c->opt->progress_every > 0) progress_print(&c->prog, stdout);
}

static void run_worker(Ctx *c) {
  for (;;) {
    int msg[2], dummy = 0;
    MPI_Send(&dummy, 1, MPI_INT, 0, TAG_REQUEST, c->comm);
    MPI_Recv(msg, 2, MPI_INT, 0, TAG_ASSIGN, c->comm, MPI_STATUS_IGNORE);
    if (msg[0] < 0) break;
    run_one(c, msg[0], msg[1]);
  }
  int flag; /* a stop that crossed our last request */
  MPI_Iprobe(0, TAG_STOP, c->comm, &flag, MPI_STATUS_IGNORE);
  if (flag) {
    int sig;
    MPI_Recv(&sig, 1, MPI_INT, 0, TAG_STOP, c->comm, MPI_STATUS_IGNORE);
  }
}

int sweep_run(const Sweep *s, Results *res, MPI_Comm comm, const SweepOptions *opt, char (*status)[8],
              const int *slot_of, SweepOutcome *out, Err *e) {
  Ctx c = {0};
  c.s = s;
  c.res = res;
  c.comm = comm;
  c.opt = opt;
  c.slot_of = slot_of;
  MPI_Comm_rank(comm, &c.rank);
  MPI_Comm_size(comm, &c.size);
  c.threads = default_threads(comm);
  signals_install();
  memset(out, 0, sizeof *out);
  int rc = 0;
  if (c.rank == 0) {
    c.queue = malloc(sizeof(int) * (size_t)(s->nruns ? s->nruns : 1));
    c.slot_run = malloc(sizeof(int) * (size_t)(res->lay.nslots ? res->lay.nslots : 1));
    c.worker_done = calloc((size_t)c.size, sizeof(int));
    if (!c.queue || !c.slot_run || !c.worker_done || progress_init(&c.prog, s, c.size, e)) {
      fprintf(stderr, "bertsweep: rank 0: out of memory\n");
      MPI_Abort(comm, 1);
    }
    for (int k = 0; k < res->lay.nslots; k++) c.slot_run[k] = -1;
    for (int i = 0; i < s->nruns; i++) {
      if (status && strcmp(status[i], "done") == 0) {
        out->done_before++;
        c.prog.run_steps[i] = s->runs[i].total_steps;
        c.prog.steps_at_start += s->runs[i].total_steps;
        continue;
      }
      if (slot_of[i] >= 0) {
        c.slot_run[slot_of[i]] = i;
        out->resumed++;
      }
      c.queue[c.qn++] = i;
    }
    c.prog.todo = c.qn;
    qsort_r(c.queue, (size_t)c.qn, sizeof(int), cmp_longest, (void *)s);
    c.last_print = clock_seconds();
    run_rank0(&c);
    progress_free(&c.prog);
    free(c.queue);
    free(c.slot_run);
    free(c.worker_done);
  } else {
    run_worker(&c);
  }
  int mine[2] = {c.failures, c.stopped}, all[2];
  MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, comm);
  int failures = 0;
  MPI_Allreduce(&c.failures, &failures, 1, MPI_INT, MPI_SUM, comm);
  out->stopped = all[1];
  MPI_Bcast(&out->done_before, 1, MPI_INT, 0, comm);
  MPI_Bcast(&out->resumed, 1, MPI_INT, 0, comm);
  if (failures) rc = errf(e, "%d run%s failed (see the messages above; their rows say \"failed\")", failures,
                          failures == 1 ? "" : "s");
  return rc;
}
