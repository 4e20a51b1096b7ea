/* The sweep across ranks: every rank's setup, then rank 0 dispatches (mpi/dispatch.c) and the
   others work (mpi/worker.c). */
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
#include "mpi/sweep_ctx.h"
#include "src/fault.h"
#include "src/machine.h"

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

static void describe_libraries(char *out, size_t size) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int len = 0;
  unsigned maj = 0, min = 0, rel = 0;
  MPI_Get_library_version(mpi, &len);
  H5get_libversion(&maj, &min, &rel);
  snprintf(out, size, "%.*s; HDF5 %u.%u.%u", (int)strcspn(mpi, ",\n"), mpi, maj, min, rel);
}

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
  c.rank0_trains = dispatch_rank0_trains(s, c.size, opt->env->rank0_trains);
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
    qsort_r(c.queue, (size_t)c.qn, sizeof(int), dispatch_cmp_longest, (void *)s);
    const double now = clock_seconds();
    dispatch_duties_init(&c, now);
    for (int w = 0; w < c.size; w++) c.heard[w] = now;
    dispatch_run(&c);
    dispatch_stop_summary(&c, out->stop_summary, sizeof out->stop_summary);
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
    worker_run(&c);
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
  if (failures && c.rank == 0) rc = dispatch_failure_summary(&c, e);
  else if (failures) rc = -1;
  return rc;
}
