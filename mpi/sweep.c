#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "io/fileutil.h"
#include "jobs/results_sink.h"
#include "src/clock.h"
#include "sweep/progress.h"
#include "sweep/signals.h"
#include "mpi/sweep.h"
#include "src/fault.h"
#include "src/machine.h"

/* The dispatch protocol. A worker sends TAG_REQUEST (an int, unused) and gets TAG_ASSIGN; while
   it runs a run it sends TAG_PROGRESS (at most twice a second, and once a second as a pulse
   during long evaluations); at a run's end TAG_DONE, for a failed run followed by TAG_WHY (its
   reason, ERROR_LEN chars). Rank 0 sends TAG_STOP (an int) to stop every worker. The structs
   travel as bytes: every rank runs this one binary. */
enum { TAG_REQUEST = 1, TAG_ASSIGN = 2, TAG_PROGRESS = 3, TAG_DONE = 4, TAG_STOP = 5, TAG_WHY = 6 };
typedef struct {
  int run, slot; /* run -1: nothing left; slot -1: the run has no checkpoint slot */
} AssignMsg;
typedef struct {
  int run;
  long step; /* -1: a pulse before the run's first step */
  double loss, gap_max; /* gap_max: the slowest gap between this run's step reports so far */
} ProgressMsg;
typedef struct {
  int run;
  RunEnd how;
  double final_acc;
  long steps_done;
} DoneMsg;
enum { MAX_LISTED = 8, HOST_LEN = 64 };

static void send_msg(const void *m, int bytes, int to, int tag, MPI_Comm comm) {
  MPI_Send(m, bytes, MPI_BYTE, to, tag, comm);
}
static void recv_msg(void *m, int bytes, int from, int tag, MPI_Comm comm) {
  MPI_Recv(m, bytes, MPI_BYTE, from, tag, comm, MPI_STATUS_IGNORE);
}

/* A rank running a run is silent when rank 0 heard nothing from it for SILENCE_FACTOR times
   the slowest gap between its step reports in that run (a step, or a step with an evaluation
   or a checkpoint), and never sooner than SILENCE_FLOOR seconds (a run's start loads its model
   and data before its first report); BERTSWEEP_SILENCE_LIMIT replaces both. */
#define SILENCE_FACTOR 20.0
#define SILENCE_FLOOR 300.0

/* Rank 0 answers between its own steps, so a worker waits about half a step of rank 0's for
   its next run (bench/dispatch.sh): a share of about 1 / (2 x steps of a run) of its time. Rank
   0 training adds 1 / size to the sweep's throughput: it trains while that gain is larger
   (size <= 2 x the shortest run's steps). BERTSWEEP_RANK0_TRAINS=0|1 overrides. */
static int rank0_should_train(const Sweep *s, int size, int forced) {
  if (size == 1) return 1;
  if (forced >= 0) return forced;
  long shortest = s->nruns ? s->runs[0].total_steps : 0;
  for (int i = 1; i < s->nruns; i++)
    if (s->runs[i].total_steps < shortest) shortest = s->runs[i].total_steps;
  return size <= 2 * shortest;
}

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

/* Rank 0's periodic duties, as redis's time events: each runs from service() once `every`
   seconds have passed since it last ran (0: every time); those before_messages before the
   requests are answered (a stop asked must hold back the next run), the rest after. */
struct Ctx;
typedef struct {
  double every, last;
  int before_messages;
  void (*run)(struct Ctx *c);
} Duty;
enum { DUTY_STOP_FILES, DUTY_HEARTBEAT, DUTY_SILENCE, DUTY_PAGE, DUTY_PROGRESS, NDUTIES };

typedef struct Ctx {
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
  double last_report; /* workers: when progress last went to rank 0 */
  double last_hook, gap_max; /* this rank's current run: its last step report, the slowest gap between two */
  int cur_run;               /* workers: the run they train (-1: none), its last step and loss, for pulses */
  long cur_step;
  double cur_loss;
  char (*hosts)[HOST_LEN];   /* [size] each rank's host */
  char (*nodes)[HOST_LEN];   /* [size] each rank's Slurm node name (SLURMD_NODENAME), else its host */
  double wait_sum, wait_max; /* workers: time from asking for a run to getting one */
  long nwait;
  int rank0_trains;          /* rank 0 also trains (else it only hands out runs) */
  /* rank 0 only */
  int *queue, qhead, qn;
  int *slot_run;      /* [nslots] run index holding the slot, -1 free */
  const int *slot_of; /* [nruns] checkpoint slot of a run at start, -1 none */
  int *worker_done;   /* [size] worker got its final answer */
  int finished_workers, stop_mode, user_stop;
  Progress prog;
  Duty duty[NDUTIES];
  int nfailed, nstopped;           /* what the sweep's last lines name */
  int failed_run[MAX_LISTED], stopped_run[MAX_LISTED];
  long stopped_step[MAX_LISTED];
  char first_why[ERROR_LEN];
  double *heard, *gap; /* [size] when rank 0 last heard from a rank; the slowest gap it reported */
  int *silent, nsilent;
  char silent_what[1024]; /* the first silent rank, for the sweep's last line */
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
    if (!c->worker_done[w] && !c->silent[w]) MPI_Send(&sig, 1, MPI_INT, w, TAG_STOP, c->comm);
}

/* ---- rank 0: the silence watch ---- */

static double silence_limit(const SweepOptions *opt, double gap) {
  if (opt->env->silence_limit > 0) return opt->env->silence_limit;
  return SILENCE_FACTOR * gap > SILENCE_FLOOR ? SILENCE_FACTOR * gap : SILENCE_FLOOR;
}

/* A worker running a run that rank 0 has not heard from within its limit is silent: named,
   left out of the stop that every other rank now gets (they checkpoint), and the sweep ends
   with EXIT_SILENT once they have (sweep_main). */
static void watch_silence(Ctx *c) {
  const double now = clock_seconds();
  for (int w = 1; w < c->size; w++) {
    const int run = c->prog.ranks[w].run;
    const double quiet = now - c->heard[w], limit = silence_limit(c->opt, c->gap[w]);
    if (c->silent[w] || run < 0 || quiet <= limit) continue;
    c->silent[w] = 1;
    char what[512];
    snprintf(what, sizeof what, "rank %d on host %s, running run %d (last reported step %ld), silent for %.0f s (limit %.0f s)",
             w, c->hosts[w], c->s->runs[run].row, c->prog.ranks[w].step, quiet, limit);
    fprintf(stderr, "bertsweep: %s: a frozen, overloaded or cut-off node; the other ranks checkpoint and the sweep "
                    "ends (exit %d)\n", what, EXIT_SILENT);
    if (!c->nsilent++) snprintf(c->silent_what, sizeof c->silent_what, "%s", what);
    enter_stop_mode(c);
  }
}

/* A run ended on rank src; why: a failed run's reason. */
static void handle_done(Ctx *c, int src, const DoneMsg *msg, const char *why) {
  const int run = msg->run;
  const RunEnd how = msg->how;
  const int keeps = how == END_STOPPED || how == END_IOERROR; /* its checkpoint stays */
  progress_done(&c->prog, src, run, how);
  if (how == END_FAILED) {
    if (c->nfailed < MAX_LISTED) c->failed_run[c->nfailed] = run;
    if (!c->nfailed++) snprintf(c->first_why, sizeof c->first_why, "%s", why);
  }
  if (how == END_STOPPED) {
    if (c->nstopped < MAX_LISTED) {
      c->stopped_run[c->nstopped] = run;
      c->stopped_step[c->nstopped] = msg->steps_done;
    }
    c->nstopped++;
  }
  if (!keeps) release_slot(c, run);
  if (keeps) enter_stop_mode(c);
}

/* FILE.stop, left by `bertsweep stop FILE` (a user stop), and the file named by
   BERTSWEEP_STOP_REQUEST, which the Slurm wrapper creates when the time limit nears (a stop as
   for a signal, without the race of a signal that arrives before the ranks have installed
   their handlers). */
static void duty_stop_files(Ctx *c) {
  if (c->stop_mode) return;
  char path[4200];
  results_sidecar(path, sizeof path, c->res->path, SIDE_STOP);
  const char *req = c->opt->env->stop_request;
  const int user = access(path, F_OK) == 0, request = !user && req[0] && access(req, F_OK) == 0;
  if (!user && !request) return;
  c->user_stop = user;
  enter_stop_mode(c);
}

static void duty_heartbeat(Ctx *c) {
  if (c->opt->lock) lock_heartbeat(c->opt->lock); /* at its own period */
}

/* Not once another sweep took the file over (this one was frozen): the page is that one's. */
static void duty_page(Ctx *c) {
  if (c->opt->page && (!c->opt->lock || lock_held(c->opt->lock)))
    live_page_write(c->opt->page, c->res->path, c->opt->page->every);
}

static void duty_progress(Ctx *c) { progress_print(&c->prog, stdout); }

static void duties_init(Ctx *c, double now) {
  const LivePage *page = c->opt->page;
  c->duty[DUTY_STOP_FILES] = (Duty){.every = 1.0, .last = 0, .before_messages = 1, .run = duty_stop_files};
  c->duty[DUTY_HEARTBEAT] = (Duty){.every = 0, .before_messages = 1, .run = duty_heartbeat};
  c->duty[DUTY_SILENCE] = (Duty){.every = 0, .run = watch_silence};
  c->duty[DUTY_PAGE] = (Duty){.every = page ? page->every : -1, .last = page ? page->last : 0, .run = duty_page};
  c->duty[DUTY_PROGRESS] = (Duty){.every = c->opt->progress_every > 0 ? c->opt->progress_every : -1, .last = now,
                                  .run = duty_progress};
}
static_assert(NDUTIES == 5, "duties_init sets every duty");

/* The duties of one phase that are due (every < 0: never). */
static void run_duties(Ctx *c, int before_messages) {
  for (int i = 0; i < NDUTIES; i++) {
    Duty *d = &c->duty[i];
    const double now = clock_seconds();
    if (d->before_messages != before_messages || d->every < 0 || now - d->last < d->every) continue;
    d->last = now;
    d->run(c);
  }
}

/* Answers requests and collects reports; never blocks. */
static void service(Ctx *c) {
  if (signals_pending()) enter_stop_mode(c);
  run_duties(c, 1);
  for (;;) {
    int flag;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, &st);
    if (!flag) break;
    int src = st.MPI_SOURCE;
    c->heard[src] = clock_seconds();
    if (st.MPI_TAG == TAG_REQUEST) {
      int dummy;
      MPI_Recv(&dummy, 1, MPI_INT, src, TAG_REQUEST, c->comm, MPI_STATUS_IGNORE);
      AssignMsg a = {.slot = -1};
      a.run = take_next(c, &a.slot);
      if (a.run < 0) {
        c->finished_workers++;
        c->worker_done[src] = 1;
      } else {
        progress_start(&c->prog, src, a.run);
        c->gap[src] = 0; /* a new run: the floor until it reports its own pace */
      }
      send_msg(&a, sizeof a, src, TAG_ASSIGN, c->comm);
    } else if (st.MPI_TAG == TAG_PROGRESS) {
      ProgressMsg m;
      recv_msg(&m, sizeof m, src, TAG_PROGRESS, c->comm);
      if (m.step >= 0) progress_step(&c->prog, src, m.run, m.step, m.loss);
      c->gap[src] = m.gap_max;
    } else if (st.MPI_TAG == TAG_DONE) {
      DoneMsg m;
      char why[ERROR_LEN] = "";
      recv_msg(&m, sizeof m, src, TAG_DONE, c->comm);
      if (m.how == END_FAILED) MPI_Recv(why, ERROR_LEN, MPI_CHAR, src, TAG_WHY, c->comm, MPI_STATUS_IGNORE);
      why[ERROR_LEN - 1] = 0;
      handle_done(c, src, &m, why);
    } else {
      fprintf(stderr, "bertsweep: rank 0: unexpected message tag %d from rank %d\n", st.MPI_TAG, src);
      MPI_Abort(c->comm, 1);
    }
  }
  run_duties(c, 0);
}

void live_page_write(LivePage *p, const char *results, double refresh) {
  Err e = {{0}, 0};
  p->last = clock_seconds();
  if (p->write(results, p->html, refresh, &e) && !p->warned) {
    fprintf(stderr, "bertsweep: warning: the live page %s: %s (the sweep goes on)\n", p->html, e.msg);
    p->warned = 1;
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
  check_launcher(c);
  if (c->rank == 0) {
    service(c); /* rank 0 answers requests between its own evaluation batches too */
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
    handle_done(c, 0, &m, text);
    return;
  }
  send_msg(&m, sizeof m, 0, TAG_DONE, c->comm);
  if (how == END_FAILED) MPI_Send(text, ERROR_LEN, MPI_CHAR, 0, TAG_WHY, c->comm);
}

static void run_one(Ctx *c, int run, int slot) {
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
static void silent_hosts(const Ctx *c, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int w = 1; w < c->size; w++) {
    int seen = 0;
    for (int v = 1; v < w && !seen; v++) seen = c->silent[v] && strcmp(c->nodes[v], c->nodes[w]) == 0;
    if (c->silent[w] && !seen && len + strlen(c->nodes[w]) + 2 < size)
      len += (size_t)snprintf(out + len, size - len, "%s\n", c->nodes[w]);
  }
}

/* ---- the loops ---- */


static int cmp_longest(const void *a, const void *b, void *s_) {
  const Sweep *s = s_;
  long la = s->runs[*(const int *)a].total_steps, lb = s->runs[*(const int *)b].total_steps;
  if (la != lb) return la < lb ? 1 : -1;
  return *(const int *)a - *(const int *)b;
}

/* "2 runs checkpointed: run 3 at step 120, run 7 at step 80" */
static void stop_summary(const Ctx *c, char *out, size_t size) {
  size_t len = (size_t)snprintf(out, size, "%d run%s checkpointed", c->nstopped, c->nstopped == 1 ? "" : "s");
  for (int i = 0; i < c->nstopped && i < MAX_LISTED && len < size; i++)
    len += (size_t)snprintf(out + len, size - len, "%s run %d at step %ld", i ? "," : ":", c->s->runs[c->stopped_run[i]].row,
                            c->stopped_step[i]);
  if (c->nstopped > MAX_LISTED && len < size) snprintf(out + len, size - len, ", ...");
}

/* The sweep's last line when runs failed: how many, which, and the first one's reason. */
static int failure_summary(const Ctx *c, Err *e) {
  char label[512];
  const PlannedRun *p = &c->s->runs[c->failed_run[0]];
  run_label(c->s, p, label, sizeof label);
  if (c->nfailed == 1) return errf(e, "1 run failed, run %d (%s): %s", p->row, label, c->first_why);
  return errf(e, "%d runs failed (the other runs finished); the first, run %d (%s): %s; each failed row's \"error\" "
                 "column in /runs says why", c->nfailed, p->row, label, c->first_why);
}

static void run_rank0(Ctx *c) {
  for (;;) {
    service(c);
    int slot, run = c->rank0_trains ? take_next(c, &slot) : -1;
    if (run >= 0) {
      progress_start(&c->prog, 0, run);
      run_one(c, run, slot);
      continue;
    }
    if (c->finished_workers + c->nsilent == c->size - 1) break;
    usleep(1000); /* not MPI_Probe: a silent rank would hold it for ever */
  }
  if (c->opt->progress_every > 0) progress_print(&c->prog, stdout);
}

void sweep_end_launcher_later(double seconds) {
  const pid_t launcher = getppid();
  if (launcher <= 1) return;
  /* a pidfd names this very process: a pid reused meanwhile is never signalled */
  const int pfd = (int)syscall(SYS_pidfd_open, launcher, 0);
  if (pfd < 0) return;
  fflush(stdout);
  fflush(stderr);
  const pid_t pid = fork();
  if (pid != 0) { /* the rank goes on to its abort (or the fork failed: nothing more to do) */
    close(pfd);
    return;
  }
  setsid(); /* out of the job's process group and session: the abort's cleanup does not reach it */
  for (int fd = 0; fd < 1024; fd++) /* holding the rank's output pipes would keep mpirun waiting */
    if (fd != pfd) close(fd);
  struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {}
  /* KILL: the launcher had its grace; on TERM, mpirun tries to reach the frozen daemon again
     (and was seen to crash doing so) */
  syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
  _exit(0);
}

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
  const double t0 = clock_seconds(), limit = silence_limit(c->opt, c->gap_max);
  LockBeat asked, now;
  const int had_lock = lock_beat(c->res->path, &asked) == 0;
  double last_look = 0;
  for (;;) {
    int flag;
    MPI_Iprobe(0, TAG_ASSIGN, c->comm, &flag, MPI_STATUS_IGNORE);
    if (flag) break;
    check_launcher(c);
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

static void run_worker(Ctx *c) {
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
    run_one(c, a.run, a.slot);
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
  c.cur_run = -1;
  c.s = s;
  c.res = res;
  c.comm = comm;
  c.opt = opt;
  c.slot_of = slot_of;
  MPI_Comm_rank(comm, &c.rank);
  MPI_Comm_size(comm, &c.size);
  c.threads = sweep_default_threads(comm);
  c.rank0_trains = rank0_should_train(s, c.size, opt->env->rank0_trains);
  /* a process started without a launcher has none to lose (a closed shell, nohup) */
  c.launcher = c.size > 1 || opt->env->launched ? getppid() : 0;
  machine_describe(&c.machine);
  describe_libraries(c.libs, sizeof c.libs);
  memset(out, 0, sizeof *out);
  int rc = 0;
  c.hosts = malloc(sizeof *c.hosts * (size_t)c.size);
  c.nodes = malloc(sizeof *c.nodes * (size_t)c.size);
  if (!c.hosts || !c.nodes) {
    fprintf(stderr, "bertsweep: rank %d: out of memory\n", c.rank);
    MPI_Abort(comm, 1);
  }
  MPI_Allgather(c.machine.host, HOST_LEN, MPI_CHAR, c.hosts, HOST_LEN, MPI_CHAR, comm);
  char node[HOST_LEN];
  const char *nn = opt->env->node_name; /* a node's host name need not be its Slurm name */
  snprintf(node, sizeof node, "%s", nn[0] ? nn : c.machine.host);
  MPI_Allgather(node, HOST_LEN, MPI_CHAR, c.nodes, HOST_LEN, MPI_CHAR, comm);
  if (c.rank == 0) {
    c.queue = malloc(sizeof(int) * (size_t)(s->nruns ? s->nruns : 1));
    c.slot_run = malloc(sizeof(int) * (size_t)(res->lay.nslots ? res->lay.nslots : 1));
    c.worker_done = calloc((size_t)c.size, sizeof(int));
    c.silent = calloc((size_t)c.size, sizeof(int));
    c.heard = calloc((size_t)c.size, sizeof(double));
    c.gap = calloc((size_t)c.size, sizeof(double));
    if (!c.queue || !c.slot_run || !c.worker_done || !c.silent || !c.heard || !c.gap ||
        progress_init(&c.prog, s, c.size, e)) {
      fprintf(stderr, "bertsweep: rank 0: out of memory\n");
      MPI_Abort(comm, 1);
    }
    for (int k = 0; k < res->lay.nslots; k++) c.slot_run[k] = -1;
    for (int i = 0; i < s->nruns; i++) {
      if (status && run_status_final(run_status_parse(status[i]))) { /* done or diverged: as it was */
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
    const double now = clock_seconds();
    duties_init(&c, now);
    for (int w = 0; w < c.size; w++) c.heard[w] = now;
    run_rank0(&c);
    stop_summary(&c, out->stop_summary, sizeof out->stop_summary);
    progress_free(&c.prog);
    free(c.queue);
    free(c.slot_run);
    free(c.worker_done);
    free(c.heard);
    free(c.gap);
    out->silent = c.nsilent;
    if (c.nsilent) { /* no collective can finish now: sweep_main ends the job */
      silent_hosts(&c, out->silent_hosts, sizeof out->silent_hosts);
      snprintf(out->silent_summary, sizeof out->silent_summary, "%s", c.silent_what);
      free(c.silent);
      free(c.hosts);
      free(c.nodes);
      return -1;
    }
    free(c.silent);
  } else {
    run_worker(&c);
  }
  free(c.hosts);
  free(c.nodes);
  if (c.stop_requested) c.stopped = 1; /* a stop before any run started is a stop too */
  double waits[2] = {c.wait_sum, (double)c.nwait}, sums[2] = {0, 0};
  MPI_Reduce(waits, sums, 2, MPI_DOUBLE, MPI_SUM, 0, comm);
  MPI_Reduce(&c.wait_max, &out->wait_max, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
  out->assignments = (long)sums[1];
  out->wait_mean = sums[1] > 0 ? sums[0] / sums[1] : 0;
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
  MPI_Bcast(out->stop_summary, (int)sizeof out->stop_summary, MPI_CHAR, 0, comm);
  if (failures && c.rank == 0) rc = failure_summary(&c, e);
  else if (failures) rc = -1;
  return rc;
}
