/* Rank 0's room: the queue and the checkpoint slots, the stop mode, the silence watch, the
   service loop and its periodic duties, the sweep's last lines. */
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

/* Rank 0 answers between its own steps, so a worker waits about half a step of rank 0's for
   its next run (bench/dispatch.sh): a share of about 1 / (2 x steps of a run) of its time. Rank
   0 training adds 1 / size to the sweep's throughput: it trains while that gain is larger
   (size <= 2 x the shortest run's steps). BERTSWEEP_RANK0_TRAINS=0|1 overrides. */
int dispatch_rank0_trains(const Sweep *s, int size, int forced) {
  if (size == 1) return 1;
  if (forced >= 0) return forced;
  long shortest = s->nruns ? s->runs[0].total_steps : 0;
  for (int i = 1; i < s->nruns; i++)
    if (s->runs[i].total_steps < shortest) shortest = s->runs[i].total_steps;
  return size <= 2 * shortest;
}

/* ---- rank 0: the slot table and the queue ---- */

static int slot_for(Ctx *c, int run) {
  if (c->slot_of[run] >= 0) return c->slot_of[run];
  for (int k = 0; k < c->res->lay.nslots; k++)
    if (c->slot_run[k] < 0) return k;
  return -1; /* no checkpoints in this file */
}

int dispatch_take_next(Ctx *c, int *slot) {
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

double dispatch_silence_limit(const SweepOptions *opt, double gap) {
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
    const double quiet = now - c->heard[w], limit = dispatch_silence_limit(c->opt, c->gap[w]);
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
void dispatch_done(Ctx *c, int src, const DoneMsg *msg, const char *why) {
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

void dispatch_duties_init(Ctx *c, double now) {
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
void dispatch_service(Ctx *c) {
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
      a.run = dispatch_take_next(c, &a.slot);
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
      dispatch_done(c, src, &m, why);
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

/* ---- the loops ---- */


int dispatch_cmp_longest(const void *a, const void *b, void *s_) {
  const Sweep *s = s_;
  long la = s->runs[*(const int *)a].total_steps, lb = s->runs[*(const int *)b].total_steps;
  if (la != lb) return la < lb ? 1 : -1;
  return *(const int *)a - *(const int *)b;
}

/* "2 runs checkpointed: run 3 at step 120, run 7 at step 80" */
void dispatch_stop_summary(const Ctx *c, char *out, size_t size) {
  size_t len = (size_t)snprintf(out, size, "%d run%s checkpointed", c->nstopped, c->nstopped == 1 ? "" : "s");
  for (int i = 0; i < c->nstopped && i < MAX_LISTED && len < size; i++)
    len += (size_t)snprintf(out + len, size - len, "%s run %d at step %ld", i ? "," : ":", c->s->runs[c->stopped_run[i]].row,
                            c->stopped_step[i]);
  if (c->nstopped > MAX_LISTED && len < size) snprintf(out + len, size - len, ", ...");
}

/* The sweep's last line when runs failed: how many, which, and the first one's reason. */
int dispatch_failure_summary(const Ctx *c, Err *e) {
  char label[512];
  const PlannedRun *p = &c->s->runs[c->failed_run[0]];
  run_label(c->s, p, label, sizeof label);
  if (c->nfailed == 1) return errf(e, "1 run failed, run %d (%s): %s", p->row, label, c->first_why);
  return errf(e, "%d runs failed (the other runs finished); the first, run %d (%s): %s; each failed row's \"error\" "
                 "column in /runs says why", c->nfailed, p->row, label, c->first_why);
}

void dispatch_run(Ctx *c) {
  for (;;) {
    dispatch_service(c);
    int slot, run = c->rank0_trains ? dispatch_take_next(c, &slot) : -1;
    if (run >= 0) {
      progress_start(&c->prog, 0, run);
      worker_run_one(c, run, slot);
      continue;
    }
    if (c->finished_workers + c->nsilent == c->size - 1) break;
    usleep(1000); /* not MPI_Probe: a silent rank would hold it for ever */
  }
  if (c->opt->progress_every > 0) progress_print(&c->prog, stdout);
}

