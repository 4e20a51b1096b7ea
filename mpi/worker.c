/* A worker's room (rank 0's too while it trains): between steps, one run, asking for the next. */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "io/fileutil.h"
#include "jobs/results_sink.h"
#include "mpi/sweep_ctx.h"
#include "src/clock.h"
#include "src/fault.h"
#include "sweep/signals.h"
#include <omp.h>
#include <sys/syscall.h>

/* ---- any rank: between steps ---- */

/* A rank whose launcher died (mpirun killed) lives on for a moment: it stops at once, at a
   step boundary (the file is consistent between any two writes; the runs resume from
   their checkpoints), instead of writing on beside a sweep restarted meanwhile. */
void worker_check_launcher(const Ctx *c) {
  if (!c->launcher || getppid() == c->launcher) return;
  fprintf(stderr, "bertsweep: rank %d: its launcher (pid %ld) is gone; stopping without further writes\n", c->rank,
          (long)c->launcher);
  _exit(EXIT_ERROR); /* not EXIT_STOPPED: nothing was checkpointed (and no launcher reads it) */
}

/* A worker between evaluation batches (and steps): says it is alive at least once a second
   while it runs a run, so that a long evaluation is no silence. */
static void pulse(Ctx *c) {
  const double t = clock_seconds();
  if (c->cur_run < 0 || t - c->last_report < 1.0) return;
  const ProgressMsg m = {.run = c->cur_run, .step = c->cur_step, .loss = c->cur_loss, .gap_max = c->gap_max};
  send_msg(&m, sizeof m, 0, TAG_PROGRESS, c->comm);
  c->last_report = t;
}

static void poll_stop(Ctx *c) {
  worker_check_launcher(c);
  if (c->rank == 0) {
    dispatch_service(c); /* rank 0 answers requests between its own evaluation batches too */
    return;
  }
  if (signals_pending()) c->stop_requested = 1;
  pulse(c);
  int flag;
  MPI_Iprobe(0, TAG_STOP, c->comm, &flag, MPI_STATUS_IGNORE);
  if (flag) {
    int sig;
    MPI_Recv(&sig, 1, MPI_INT, 0, TAG_STOP, c->comm, MPI_STATUS_IGNORE);
    c->stop_requested = 1;
  }
}

/* ---- one run: the serial driver (jobs/run.h), recorded into the results file ---- */

static int hook_should_stop(void *ctx) {
  Ctx *c = ctx;
  poll_stop(c);
  return c->stop_requested;
}

static void hook_progress(void *ctx, int run, long step, double loss) {
  Ctx *c = ctx;
  double t = clock_seconds();
  if (t - c->last_hook > c->gap_max) c->gap_max = t - c->last_hook;
  c->last_hook = t;
  c->cur_step = step;
  c->cur_loss = loss;
  if (c->rank == 0) {
    progress_step(&c->prog, 0, run, step, loss);
    return;
  }
  if (t - c->last_report < 0.5) return;
  const ProgressMsg m = {.run = run, .step = step, .loss = loss, .gap_max = c->gap_max};
  send_msg(&m, sizeof m, 0, TAG_PROGRESS, c->comm);
  c->last_report = t;
}

static void report_done(Ctx *c, int run, RunEnd how, const RunRow *row, const char *why) {
  const DoneMsg m = {.run = run, .how = how, .final_acc = row->final_acc, .steps_done = row->steps_done};
  char text[ERROR_LEN] = "";
  snprintf(text, sizeof text, "%s", why ? why : "");
  if (c->rank == 0) {
    dispatch_done(c, 0, &m, text);
    return;
  }
  send_msg(&m, sizeof m, 0, TAG_DONE, c->comm);
  if (how == END_FAILED) MPI_Send(text, ERROR_LEN, MPI_CHAR, 0, TAG_WHY, c->comm);
}

void worker_run_one(Ctx *c, int run, int slot) {
  const PlannedRun *p = &c->s->runs[run];
  ResultsSink *s = calloc(1, sizeof *s);
  RunConfig *cfg = malloc(sizeof *cfg);
  if (!s || !cfg) {
    fprintf(stderr, "bertsweep: rank %d: out of memory\n", c->rank);
    MPI_Abort(c->comm, 1);
  }
  const int threads = p->threads > 0 ? p->threads : c->threads;
  c->last_hook = clock_seconds();
  c->gap_max = 0;
  c->cur_run = run;
  c->cur_step = -1;
  c->cur_loss = NAN;
  *s = (ResultsSink){.res = c->res, .run = run, .slot = slot, .nparams = p->nparams,
                     .save_final_weights = p->save_final_weights, .hook = c, .should_stop = hook_should_stop,
                     .progress = hook_progress};
  s->row = (RunRow){.host = c->machine.host, .cpu = c->machine.cpu, .blas = c->machine.blas, .libs = c->libs,
                    .threads = threads, .started = (double)time(NULL), .finished = NAN, .run_id = p->row,
                    .seed = p->seed, .rank = c->rank, .total_steps = p->total_steps, .best_step = -1,
                    .status = RUN_RUNNING, .best_acc = NAN, .final_acc = NAN, .final_loss = NAN, .majority = NAN,
                    .bow = NAN, .unk_rate = NAN};
  omp_set_num_threads(threads);
  const RunSink sink = results_sink(s);
  Err e = {{0}, 0};
  RunEnd how;
  if (sweep_run_config(c->s, p, cfg, &e) == 0) {
    how = run_drive(cfg, &sink, &e);
  } else { /* a config that cannot be resolved fails like one whose model cannot open */
    Err e2 = {{0}, 0};
    how = sink.end(sink.ctx, NULL, END_FAILED, e.msg, &e2) ? (e = e2, END_IOERROR) : END_FAILED;
  }
  char label[512];
  switch (how) {
  case END_DIVERGED:
    fprintf(stderr, "bertsweep: rank %d: run %d diverged at step %ld (non-finite loss or gradient norm)\n", c->rank,
            p->row, s->row.steps_done);
    break;
  case END_FAILED: /* the model or the data: this run fails, the sweep goes on */
    run_label(c->s, p, label, sizeof label);
    fprintf(stderr, "bertsweep: rank %d: run %d (%s) failed: %s\n", c->rank, p->row, label, e.msg);
    c->failures++;
    break;
  case END_IOERROR:
    if (!c->io_error) {
      c->io_error = 1;
      c->io_err = e;
    }
    break;
  case END_STOPPED: c->stopped = 1; break;
  default: break;
  }
  c->cur_run = -1;
  report_done(c, run, how, &s->row, e.msg);
  free(cfg);
  free(s);
}

/* The silent ranks' nodes (as Slurm names them, for ExcNodeList), one per line, each once. */
/* A worker's end for a frozen rank 0: rank 0's host goes where the Slurm wrapper asked for
   the silent hosts, the lock is marked abandoned (the resume takes it over and fences), and
   the job ends. */
_Noreturn static void end_rank0_frozen(Ctx *c, double waited, double quiet) {
  char what[512];
  Err e = {{0}, 0};
  snprintf(what, sizeof what, "rank 0 on host %s has not answered for %.0f s and has not refreshed the lock for %.0f s",
           c->hosts[0], waited, quiet);
  const char *list = c->opt->env->silent_hosts;
  char line[HOST_LEN + 2];
  snprintf(line, sizeof line, "%s\n", c->nodes[0]);
  if (list[0] && write_file_atomic(list, line, strlen(line), &e)) fprintf(stderr, "bertsweep: %s\n", e.msg);
  if (lock_abandon_listed(c->res->path, what, &e)) fprintf(stderr, "bertsweep: %s\n", e.msg);
  fprintf(stderr, "bertsweep: rank %d: %s: a frozen node; ending the job (exit %d)\n", c->rank, what, EXIT_SILENT);
  printf("# ended: %s; run the same command (without that node) to resume\n", what);
  sweep_end_launcher_later(SWEEP_LAUNCHER_GRACE);
  MPI_Abort(c->comm, EXIT_SILENT);
  _exit(EXIT_SILENT);
}

/* Rank 0 answers between its own steps and evaluation batches. Silent for longer than this
   worker's own last run would allow, rank 0 is blamed only when its lock heartbeat has not
   moved since the request either (for two of its periods at least): a worker cut off from rank
   0 still sees the heartbeats on the shared file system, and waits for rank 0 to name it; a
   lock marked abandoned or gone means rank 0 ended the sweep: this worker ends too. */
static void await_assignment(Ctx *c, AssignMsg *msg) {
  const double t0 = clock_seconds(), limit = dispatch_silence_limit(c->opt, c->gap_max);
  LockBeat asked, now;
  const int had_lock = lock_beat(c->res->path, &asked) == 0;
  double last_look = 0;
  for (;;) {
    int flag;
    MPI_Iprobe(0, TAG_ASSIGN, c->comm, &flag, MPI_STATUS_IGNORE);
    if (flag) break;
    worker_check_launcher(c);
    const double waited = clock_seconds() - t0;
    if (waited > limit && clock_seconds() - last_look >= 0.5) {
      last_look = clock_seconds();
      const int have = lock_beat(c->res->path, &now) == 0;
      const int same = had_lock && have && now.ino == asked.ino && now.listed && !now.abandoned;
      const double quiet = (double)time(NULL) - now.mtime; /* wall clock: the lock's time stamp */
      if (same && now.mtime == asked.mtime && quiet > 2 * now.heartbeat) end_rank0_frozen(c, waited, quiet);
      if (!same) {
        fprintf(stderr, "bertsweep: rank %d: rank 0 on host %s has not answered for %.0f s (limit %.0f s) and its lock "
                        "says the sweep ended; ending (exit %d)\n", c->rank, c->hosts[0], waited, limit, EXIT_SILENT);
        MPI_Abort(c->comm, EXIT_SILENT);
      }
      /* else rank 0 beats: busy, or this worker is cut off from it (rank 0 names it) */
    }
    usleep(1000);
  }
  recv_msg(msg, sizeof *msg, 0, TAG_ASSIGN, c->comm);
}

void worker_run(Ctx *c) {
  for (;;) {
    AssignMsg a;
    int dummy = 0;
    const double asked = clock_seconds();
    MPI_Send(&dummy, 1, MPI_INT, 0, TAG_REQUEST, c->comm);
    await_assignment(c, &a);
    if (a.run < 0) break;
    const double waited = clock_seconds() - asked;
    c->wait_sum += waited;
    c->wait_max = waited > c->wait_max ? waited : c->wait_max;
    c->nwait++;
    worker_run_one(c, a.run, a.slot);
  }
  int flag; /* a stop that crossed our last request */
  MPI_Iprobe(0, TAG_STOP, c->comm, &flag, MPI_STATUS_IGNORE);
  if (flag) {
    int sig;
    MPI_Recv(&sig, 1, MPI_INT, 0, TAG_STOP, c->comm, MPI_STATUS_IGNORE);
  }
}

