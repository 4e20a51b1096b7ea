#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "jobs/job.h"
#include "mpi/progress.h"
#include "mpi/sweep.h"

enum { TAG_REQUEST = 1, TAG_ASSIGN = 2, TAG_PROGRESS = 3, TAG_DONE = 4 };
#define FLUSH_SECONDS 2.0
#define BUF_STEPS 256

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

/* ---- dispatch state on rank 0 ---- */

typedef struct {
  const Sweep *s;
  Results *res;
  MPI_Comm comm;
  int rank, size;
  int *queue, qhead, qn; /* run ids, longest first */
  int finished_workers;
  Progress prog;
  double last_print;
  const SweepOptions *opt;
  int failures;
  int threads;
} Ctx;

static int take_next(Ctx *c) { return c->qhead < c->qn ? c->queue[c->qhead++] : -1; }

/* Answers requests and collects progress; rank 0 only. Never blocks. */
static void service(Ctx *c) {
  int flag;
  MPI_Status st;
  for (;;) {
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, &st);
    if (!flag) break;
    if (st.MPI_TAG == TAG_REQUEST) {
      int dummy, run;
      MPI_Recv(&dummy, 1, MPI_INT, st.MPI_SOURCE, TAG_REQUEST, c->comm, MPI_STATUS_IGNORE);
      run = take_next(c);
      if (run < 0) c->finished_workers++;
      else progress_start(&c->prog, st.MPI_SOURCE, run);
      MPI_Send(&run, 1, MPI_INT, st.MPI_SOURCE, TAG_ASSIGN, c->comm);
    } else if (st.MPI_TAG == TAG_PROGRESS) {
      double msg[3];
      MPI_Recv(msg, 3, MPI_DOUBLE, st.MPI_SOURCE, TAG_PROGRESS, c->comm, MPI_STATUS_IGNORE);
      progress_step(&c->prog, st.MPI_SOURCE, (int)msg[0], (long)msg[1], msg[2]);
    } else if (st.MPI_TAG == TAG_DONE) {
      double msg[3];
      MPI_Recv(msg, 3, MPI_DOUBLE, st.MPI_SOURCE, TAG_DONE, c->comm, MPI_STATUS_IGNORE);
      progress_done(&c->prog, st.MPI_SOURCE, (int)msg[0], (int)msg[1], msg[2]);
    } else {
      fprintf(stderr, "bertsweep: rank 0: unexpected message tag %d from rank %d\n", st.MPI_TAG, st.MPI_SOURCE);
      MPI_Abort(c->comm, 1);
    }
  }
  if (c->opt->progress_every > 0 && now() - c->last_print >= c->opt->progress_every) {
    progress_print(&c->prog, stdout);
    c->last_print = now();
  }
}

/* Reports to rank 0: directly on rank 0, by message elsewhere. */
static void report(Ctx *c, int tag, double a, double b, double x) {
  if (c->rank == 0) {
    if (tag == TAG_PROGRESS) progress_step(&c->prog, 0, (int)a, (long)b, x);
    else progress_done(&c->prog, 0, (int)a, (int)b, x);
    return;
  }
  double msg[3] = {a, b, x};
  MPI_Send(msg, 3, MPI_DOUBLE, 0, tag, c->comm);
}

/* ---- one run ---- */

typedef struct {
  long step0;
  int n;
  float loss[BUF_STEPS], lr[BUF_STEPS], gnorm[BUF_STEPS];
  int eval0, ne;
  long estep[64];
  float acc[64], eloss[64], f1[64];
} MetricBuf;

static int flush(Ctx *c, int run, MetricBuf *b, RunRow *row, Err *e) {
  if (b->n && results_write_steps(c->res, run, b->step0, b->n, b->loss, b->lr, b->gnorm, e)) return -1;
  if (b->ne && results_write_evals(c->res, run, b->eval0, b->ne, b->estep, b->acc, b->eloss, b->f1, e)) return -1;
  b->step0 += b->n;
  b->n = 0;
  b->eval0 += b->ne;
  b->ne = 0;
  return results_write_row(c->res, row, e);
}

static int train_run(Ctx *c, int run, Job *j, RunRow *row, Err *e) {
  MetricBuf *b = calloc(1, sizeof *b);
  if (!b) return errf(e, "out of memory");
  double t0 = now(), last_flush = t0, last_report = 0;
  int rc = 0;
  while (j->step < j->total_steps && !rc) {
    StepMetrics m;
    job_step(j, &m);
    b->loss[b->n] = m.loss;
    b->lr[b->n] = m.lr;
    b->gnorm[b->n++] = m.grad_norm;
    row->steps_done = j->step;
    row->final_loss = m.loss;
    if (job_eval_due(j)) {
      EvalMetrics ev;
      job_eval(j, &ev);
      b->estep[b->ne] = j->step;
      b->acc[b->ne] = (float)ev.accuracy;
      b->eloss[b->ne] = (float)ev.loss;
      b->f1[b->ne++] = (float)ev.macro_f1;
      if (!(ev.accuracy <= row->best_acc)) { /* first eval, or better */
        row->best_acc = ev.accuracy;
        row->best_step = j->step;
      }
      row->final_acc = ev.accuracy;
    }
    double t = now();
    row->wall_seconds = t - t0;
    if (b->n == BUF_STEPS || b->ne == 64 || t - last_flush > FLUSH_SECONDS || j->step == j->total_steps) {
      rc = flush(c, run, b, row, e);
      last_flush = t;
    }
    if (c->rank == 0) service(c);
    else if (t - last_report > 0.5) {
      report(c, TAG_PROGRESS, run, (double)j->step, m.loss);
      last_report = t;
    }
  }
  free(b);
  return rc;
}

static void init_row(const Sweep *s, int run, RunRow *row) {
  const PlannedRun *p = &s->runs[run];
  memset(row, 0, sizeof *row);
  row->run_id = run;
  row->seed = p->seed;
  row->total_steps = p->total_steps;
  row->status = "pending";
  row->best_acc = row->final_acc = row->final_loss = NAN;
  row->best_step = -1;
  row->rank = -1;
}

static void run_one(Ctx *c, int run) {
  const PlannedRun *p = &c->s->runs[run];
  RunRow row;
  init_row(c->s, run, &row);
  row.rank = c->rank;
  row.status = "running";
  Err e = {{0}};
  Job j;
  omp_set_num_threads(p->rc.threads > 0 ? p->rc.threads : c->threads);
  int rc = results_write_row(c->res, &row, &e);
  if (!rc) rc = job_open(&j, &p->rc, &e);
  if (!rc) {
    rc = train_run(c, run, &j, &row, &e);
    job_close(&j);
  }
  row.status = rc ? "failed" : "done";
  Err e2 = {{0}};
  if (results_write_row(c->res, &row, &e2) && !rc) {
    rc = -1;
    e = e2;
  }
  if (rc) {
    char label[512];
    run_label(c->s, p, label, sizeof label);
    fprintf(stderr, "bertsweep: rank %d: run %d (%s) failed: %s\n", c->rank, run, label, e.msg);
    c->failures++;
  }
  report(c, TAG_DONE, run, rc ? 0 : 1, row.final_acc);
}

static int cmp_longest(const void *a, const void *b, void *s_) {
  const Sweep *s = s_;
  long la = s->runs[*(const int *)a].total_steps, lb = s->runs[*(const int *)b].total_steps;
  if (la != lb) return la < lb ? 1 : -1;
  return *(const int *)a - *(const int *)b;
}

static int run_rank0(Ctx *c, const int *todo, int ntodo, Err *e) {
  c->queue = malloc(sizeof(int) * (size_t)(ntodo ? ntodo : 1));
  if (!c->queue) return errf(e, "out of memory");
  memcpy(c->queue, todo, sizeof(int) * (size_t)ntodo);
  qsort_r(c->queue, (size_t)ntodo, sizeof(int), cmp_longest, (void *)c->s);
  c->qn = ntodo;
  for (;;) {
    service(c);
    int run = take_next(c);
    if (run >= 0) {
      progress_start(&c->prog, 0, run);
      run_one(c, run);
      continue;
    }
    if (c->finished_workers == c->size - 1) break;
    MPI_Status st;
    MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &st); /* wait for the next message */
  }
  if (c->opt->progress_every > 0) progress_print(&c->prog, stdout);
  free(c->queue);
  return 0;
}

static void run_worker(Ctx *c) {
  for (;;) {
    int run, dummy = 0;
    MPI_Send(&dummy, 1, MPI_INT, 0, TAG_REQUEST, c->comm);
    MPI_Recv(&run, 1, MPI_INT, 0, TAG_ASSIGN, c->comm, MPI_STATUS_IGNORE);
    if (run < 0) return;
    run_one(c, run);
  }
}

int sweep_run(const Sweep *s, Results *res, MPI_Comm comm, const SweepOptions *opt, Err *e) {
  Ctx c = {0};
  c.s = s;
  c.res = res;
  c.comm = comm;
  c.opt = opt;
  MPI_Comm_rank(comm, &c.rank);
  MPI_Comm_size(comm, &c.size);
  c.threads = default_threads(comm);
  int *todo = malloc(sizeof(int) * (size_t)s->nruns), ntodo = 0;
  if (!todo) return errf(e, "out of memory");
  for (int i = 0; i < s->nruns; i++) todo[ntodo++] = i;
  int rc = 0;
  if (c.rank == 0) {
    if (progress_init(&c.prog, s, c.size, e)) rc = -1;
    else {
      c.last_print = now();
      rc = run_rank0(&c, todo, ntodo, e);
      progress_free(&c.prog);
    }
  } else {
    run_worker(&c);
  }
  free(todo);
  int failures = c.failures, total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, comm);
  if (!rc && total) rc = errf(e, "%d run%s failed (see the messages above; their rows say \"failed\")", total,
                              total == 1 ? "" : "s");
  return rc;
}
