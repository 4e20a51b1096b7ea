#define _GNU_SOURCE
#include <errno.h>
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
#include "sweep/progress.h"
#include "sweep/signals.h"
#include "mpi/sweep.h"
#include "src/fault.h"
#include "src/machine.h"

enum { TAG_REQUEST = 1, TAG_ASSIGN = 2, TAG_PROGRESS = 3, TAG_DONE = 4, TAG_STOP = 5 };
/* How a run ended; RUN_IOERROR: the results file could not be written (the run stays
   "running" with its last checkpoint, and the whole sweep stops). */
enum { RUN_FAILED = 0, RUN_DONE = 1, RUN_STOPPED = 2, RUN_IOERROR = 3, RUN_DIVERGED = 4 };
#define FLUSH_SECONDS 2.0
#define BUF_STEPS 256
#define BUF_EVALS 64

int sweep_default_threads(MPI_Comm comm) {
  /* an explicit OMP_NUM_THREADS wins (the Slurm wrapper sets it: cores / ranks per node) */
  const char *env = getenv("OMP_NUM_THREADS");
  int explicit_n = env ? atoi(env) : 0;
  if (explicit_n > 0) return explicit_n;
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
  MachineInfo machine; /* this rank's host, CPU and BLAS kernel */
  char libs[96];       /* MPI library and HDF5 versions */
  int failures, stopped, io_error;
  Err io_err;         /* the first results-file error on this rank */
  int stop_requested; /* this rank must stop at its next step boundary */
  pid_t launcher;     /* the parent that started this rank (mpirun, orted, slurmstepd); 0: none watched */
  /* rank 0 only */
  int *queue, qhead, qn;
  int *slot_run;      /* [nslots] run index holding the slot, -1 free */
  const int *slot_of; /* [nruns] checkpoint slot of a run at start, -1 none */
  int *worker_done;   /* [size] worker got its final answer */
  int finished_workers, stop_mode, user_stop;
  Progress prog;
  double last_print, last_stop_check;
} Ctx;

static void describe_libraries(char *out, size_t size) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int len = 0;
  unsigned maj = 0, min = 0, rel = 0;
  MPI_Get_library_version(mpi, &len);
  H5get_libversion(&maj, &min, &rel);
  snprintf(out, size, "%.*s; HDF5 %u.%u.%u", (int)strcspn(mpi, ",\n"), mpi, maj, min, rel);
}

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
  int keeps = status == RUN_STOPPED || status == RUN_IOERROR; /* its checkpoint stays */
  progress_done(&c->prog, src, run, status == RUN_DONE, msg[2]);
  if (!keeps) release_slot(c, run);
  if (keeps) enter_stop_mode(c);
}

/* Answers requests and collects reports; never blocks. */
/* Looked for once a second: FILE.stop, left by `bertsweep stop FILE` (1: a user stop), and the
   file named by BERTSWEEP_STOP_REQUEST, which the Slurm wrapper creates when the time limit
   nears (2: a stop as for a signal, without the race of a signal that arrives before the
   ranks have installed their handlers). */
static int stop_file_present(Ctx *c) {
  double t = clock_seconds();
  if (t - c->last_stop_check < 1.0) return 0;
  c->last_stop_check = t;
  char path[4200];
  snprintf(path, sizeof path, "%s.stop", c->res->path);
  if (access(path, F_OK) == 0) return 1;
  const char *req = getenv("BERTSWEEP_STOP_REQUEST");
  return req && req[0] && access(req, F_OK) == 0 ? 2 : 0;
}

static void service(Ctx *c) {
  if (signals_pending()) enter_stop_mode(c);
  int request = c->stop_mode ? 0 : stop_file_present(c);
  if (request) {
    c->user_stop = request == 1;
    enter_stop_mode(c);
  }
  if (c->opt->lock) lock_heartbeat(c->opt->lock);
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

/* A rank whose launcher died (mpirun killed) lives on for a moment: it stops at once, at a
   step boundary (the file is consistent between any two writes; the runs resume from
   their checkpoints), instead of writing on beside a sweep restarted meanwhile. */
static void check_launcher(const Ctx *c) {
  if (!c->launcher || getppid() == c->launcher) return;
  fprintf(stderr, "bertsweep: rank %d: its launcher (pid %ld) is gone; stopping without further writes\n", c->rank,
          (long)c->launcher);
  _exit(EXIT_ERROR); /* not EXIT_STOPPED: nothing was checkpointed (and no launcher reads it) */
}

static void poll_stop(Ctx *c) {
  check_launcher(c);
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

static void send_to_rank0(Ctx *c, int tag, double a, double b, double x) {
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
  int eval_pending;    /* the evaluation due at the current step was abandoned for a stop */
  const PlannedRun *p;
  RunConfig cfg; /* parsed from p->config_json when the run starts */
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
  long n = (long)j->m.nparams;
  if (fault_hit("enospc", rs->run, j->step))
    return errf(e, "%s: writing checkpoint slot %d: %s (injected)", c->res->path, rs->slot, strerror(ENOSPC));
  if (results_ckpt_write_data(c->res, rs->slot, rs->half, j->m.params, j->opt.m, j->opt.v, n, e)) return -1;
  fault_kill("killckpt", rs->run, j->step);
  SlotState st = {{0}};
  st.v[SS_RUN] = rs->p->row;
  st.v[SS_STEP] = (double)j->step;
  st.v[SS_OPT_T] = (double)j->opt.t;
  st.v[SS_HALF] = rs->half;
  st.v[SS_BEST_ACC] = rs->row.best_acc;
  st.v[SS_BEST_STEP] = (double)rs->row.best_step;
  st.v[SS_FINAL_ACC] = rs->row.final_acc;
  st.v[SS_FINAL_LOSS] = rs->row.final_loss;
  st.v[SS_NFLOATS] = (double)n;
  st.v[SS_CRC] = results_ckpt_crc(j->m.params, j->opt.m, j->opt.v, n);
  st.v[SS_WALL] = rs->row.wall_seconds;
  st.v[SS_EVAL_PENDING] = rs->eval_pending;
  if (results_ckpt_commit(c->res, rs->slot, &st, e)) return -1;
  rs->half ^= 1;
  return 0;
}

/* Continues from the slot's checkpoint when it holds this run and verifies; 1 when restored. */
static int restore(Ctx *c, RunState *rs, Job *j, Err *e) {
  SlotState st;
  if (rs->slot < 0 || results_ckpt_state(c->res, rs->slot, &st, e)) return rs->slot < 0 ? 0 : -1;
  if (st.v[SS_RUN] != rs->p->row) return 0;
  const char *why = results_slot_state_fits(&st, rs->p->row, rs->p->total_steps, rs->p->nparams) ? NULL : "its state does not fit the run";
  if (!why) {
    int rc = results_ckpt_read(c->res, rs->slot, j->m.params, j->opt.m, j->opt.v, (long)j->m.nparams, &st, e);
    if (rc < 0) return -1;
    if (rc) why = "its data does not match its checksum";
  }
  if (why) { /* the caller reopens the job: a failed read may have overwritten the model */
    fprintf(stderr, "bertsweep: warning: %s: the checkpoint of run %d does not verify (%s); the run starts over\n",
            c->res->path, rs->p->row, why);
    return 2;
  }
  job_restore(j, (long)st.v[SS_STEP], (long)st.v[SS_OPT_T], st.v[SS_BEST_ACC], (long)st.v[SS_BEST_STEP]);
  rs->half = 1 - (int)st.v[SS_HALF];
  rs->row.best_acc = st.v[SS_BEST_ACC];
  rs->row.best_step = (long)st.v[SS_BEST_STEP];
  rs->row.final_acc = st.v[SS_FINAL_ACC];
  rs->row.final_loss = st.v[SS_FINAL_LOSS];
  rs->row.wall_seconds = st.v[SS_WALL];
  rs->row.steps_done = (long)st.v[SS_STEP];
  rs->buf.step0 = (long)st.v[SS_STEP];
  /* evaluations run after steps eval_every, 2*eval_every, ...: a checkpoint at step s has
     s / eval_every of them behind it (the last evaluation is after the final step, which
     is never checkpointed) */
  rs->buf.eval0 = j->cfg.eval_every > 0 ? (int)(st.v[SS_STEP] / j->cfg.eval_every) : 0;
  rs->eval_pending = st.v[SS_EVAL_PENDING] == 1;
  if (rs->eval_pending) /* that evaluation is not in the file yet: it is the next one */
    rs->buf.eval0 = j->cfg.eval_every > 0 ? (int)((st.v[SS_STEP] - 1) / j->cfg.eval_every) : 0;
  return 1;
}

typedef struct {
  Ctx *c;
  RunState *rs;
  const Job *j;
} EvalStop;

/* Between evaluation batches: a stop request is honoured there too (a dev pass of 10k
   examples can outlast a time limit's grace period). */
static int eval_should_stop(void *ctx) {
  EvalStop *es = ctx;
  if (fault_hit("stopeval", es->rs->run, es->j->step)) raise(SIGUSR1);
  poll_stop(es->c);
  return es->c->stop_requested;
}

/* 1 when a stop abandoned the evaluation (rs->eval_pending is then set). */
static int record_eval(Ctx *c, RunState *rs, Job *j) {
  EvalMetrics ev;
  EvalStop es = {c, rs, j};
  if (job_eval_stoppable(j, &ev, eval_should_stop, &es)) {
    rs->eval_pending = 1;
    return 1;
  }
  rs->eval_pending = 0;
  MetricBuf *b = &rs->buf;
  b->estep[b->ne] = j->step;
  b->acc[b->ne] = (float)ev.accuracy;
  b->eloss[b->ne] = (float)ev.loss;
  b->f1[b->ne++] = (float)ev.macro_f1;
  rs->row.best_acc = j->best_acc;
  rs->row.best_step = j->best_step;
  rs->row.final_acc = ev.accuracy;
  return 0;
}

/* Trains to the end, to a stop or to a non-finite loss or gradient norm; returns RUN_DONE,
   RUN_STOPPED, RUN_DIVERGED or -1. */
static int train_loop(Ctx *c, RunState *rs, Job *j, Err *e) {
  double t0 = clock_seconds() - rs->row.wall_seconds, last_flush = clock_seconds(), last_report = 0;
  const int every = j->cfg.checkpoint_every;
  if (rs->eval_pending) { /* resumed from a stop during an evaluation: that evaluation first */
    if (record_eval(c, rs, j)) return checkpoint(c, rs, j, e) ? -1 : RUN_STOPPED;
    if (job_finished(j)) return RUN_DONE;
  }
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
    if (!isfinite(m.loss) || !isfinite(m.grad_norm)) return RUN_DIVERGED; /* metrics kept to here */
    if (job_eval_due(j) && record_eval(c, rs, j)) return checkpoint(c, rs, j, e) ? -1 : RUN_STOPPED;
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
    fault_kill("kill", rs->run, j->step);
    if (fault_hit("term", rs->run, j->step)) raise(SIGTERM);
    if (c->rank != 0 && t - last_report > 0.5) {
      send_to_rank0(c, TAG_PROGRESS, rs->run, (double)j->step, m.loss);
      last_report = t;
    } else if (c->rank == 0) {
      progress_step(&c->prog, 0, rs->run, j->step, m.loss);
    }
  }
  return RUN_DONE;
}

/* Opens the job and continues from its checkpoint if one verifies; RUN_FAILED when the
   run's model or data cannot be opened, RUN_IOERROR when the file cannot be read. */
static int start_run(Ctx *c, RunState *rs, Job *j, Err *e) {
  if (sweep_run_config(c->s, rs->p, &rs->cfg, e) || job_open(j, &rs->cfg, e)) return RUN_FAILED;
  int r = restore(c, rs, j, e);
  if (r == 2) {
    job_close(j);
    if (job_open(j, &rs->cfg, e)) return RUN_FAILED;
  }
  if (r < 0) {
    job_close(j);
    return RUN_IOERROR;
  }
  int before = 0;
  if (r == 1 && results_row_threads(c->res, rs->p->row, &before, e) == 0 && before > 0 && before != rs->row.threads)
    fprintf(stderr, "bertsweep: warning: run %d checkpointed with %d threads resumes with %d: OpenBLAS blocks its "
                    "sums differently, so its numbers will not be bit-identical to an uninterrupted run's\n",
            rs->p->row, before, rs->row.threads);
  rs->row.majority = j->majority_acc;
  rs->row.bow = j->bow_acc;
  rs->row.initialised = j->initialised;
  if (results_write_row(c->res, &rs->row, e)) {
    job_close(j);
    return RUN_IOERROR;
  }
  return 0;
}

/* A done run: final weights, then the row and a sync (a finished run survives a node
   crash), then its slot is freed. */
static int finish_run(Ctx *c, RunState *rs, Job *j, Err *e) {
  if (rs->p->save_final_weights && results_write_final(c->res, rs->p->row, j->m.params, (long)j->m.nparams, e))
    return -1;
  rs->row.status = "done";
  rs->row.finished = (double)time(NULL);
  if (flush(c, rs, e) || results_sync(c->res, e)) return -1;
  return rs->slot >= 0 ? results_slot_clear(c->res, rs->slot, e) : 0;
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
  int threads = rs->p->threads > 0 ? rs->p->threads : c->threads;
  rs->row = (RunRow){.host = c->machine.host, .cpu = c->machine.cpu, .blas = c->machine.blas, .libs = c->libs,
                     .threads = threads, .started = (double)time(NULL), .finished = NAN,
                     .run_id = rs->p->row, .seed = rs->p->seed, .rank = c->rank, .total_steps = rs->p->total_steps,
                     .best_step = -1, .status = "running", .best_acc = NAN, .final_acc = NAN, .final_loss = NAN,
                     .majority = NAN, .bow = NAN};
  omp_set_num_threads(threads);
  Job j;
  int status = start_run(c, rs, &j, &e);
  if (status == 0) {
    status = train_loop(c, rs, &j, &e);
    if (status == RUN_DONE && finish_run(c, rs, &j, &e)) status = -1;
    if (status < 0) status = RUN_IOERROR; /* every error after the job opened is the file's */
    job_close(&j);
  }
  if (status == RUN_DIVERGED) { /* a result, not an error: recorded, the sweep goes on */
    Err e2 = {{0}};
    rs->row.status = "diverged";
    if (flush(c, rs, &e2) || results_sync(c->res, &e2) || results_slot_clear(c->res, rs->slot, &e2)) {
      status = RUN_IOERROR;
      e = e2;
    } else {
      fprintf(stderr, "bertsweep: rank %d: run %d diverged at step %ld (non-finite loss or gradient norm)\n", c->rank,
              rs->p->row, rs->row.steps_done);
    }
  }
  if (status == RUN_FAILED) { /* the model or the data: this run fails, the sweep goes on */
    char label[512];
    rs->row.status = "failed";
    Err e2 = {{0}};
    if (results_write_row(c->res, &rs->row, &e2)) status = RUN_IOERROR;
    run_label(c->s, rs->p, label, sizeof label);
    fprintf(stderr, "bertsweep: rank %d: run %d (%s) failed: %s\n", c->rank, rs->p->row, label, e.msg);
    c->failures++;
    if (status == RUN_IOERROR) e = e2;
  }
  if (status == RUN_IOERROR && !c->io_error) {
    c->io_error = 1;
    c->io_err = e;
  }
  if (status == RUN_STOPPED) c->stopped = 1;
  send_to_rank0(c, TAG_DONE, run, status, rs->row.final_acc);
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

int sweep_run(const Sweep *s, Results *res, MPI_Comm comm, const SweepOptions *opt, char (*status)[STATUS_LEN],
              const int *slot_of, SweepOutcome *out, Err *e) {
  Ctx c = {0};
  c.s = s;
  c.res = res;
  c.comm = comm;
  c.opt = opt;
  c.slot_of = slot_of;
  MPI_Comm_rank(comm, &c.rank);
  MPI_Comm_size(comm, &c.size);
  c.threads = sweep_default_threads(comm);
  /* a process started without a launcher has none to lose (a closed shell, nohup) */
  c.launcher = c.size > 1 || opt->launched ? getppid() : 0;
  machine_describe(&c.machine);
  describe_libraries(c.libs, sizeof c.libs);
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
  if (c.stop_requested) c.stopped = 1; /* a stop before any run started is a stop too */
  int mine[2] = {c.failures, c.stopped}, all[2];
  MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, comm);
  int failures = 0, io_rank = c.io_error ? c.rank : c.size, first_io;
  MPI_Allreduce(&c.failures, &failures, 1, MPI_INT, MPI_SUM, comm);
  MPI_Allreduce(&io_rank, &first_io, 1, MPI_INT, MPI_MIN, comm);
  out->stopped = all[1];
  out->user_stop = c.user_stop;
  MPI_Bcast(&out->user_stop, 1, MPI_INT, 0, comm);
  out->io_error = first_io < c.size;
  MPI_Bcast(&out->done_before, 1, MPI_INT, 0, comm);
  MPI_Bcast(&out->resumed, 1, MPI_INT, 0, comm);
  if (out->io_error) { /* the first failing rank's message reaches rank 0, which prints it */
    MPI_Bcast(c.io_err.msg, (int)sizeof c.io_err.msg, MPI_CHAR, first_io, comm);
    *e = c.io_err;
    return -1;
  }
  if (failures) rc = errf(e, "%d run%s failed (see the messages above; their rows say \"failed\")", failures,
                          failures == 1 ? "" : "s");
  return rc;
}
