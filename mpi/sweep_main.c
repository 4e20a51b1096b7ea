#define _DEFAULT_SOURCE
/* `bertsweep sweep` across the ranks: the lock and the file on rank 0, the plan on every
   rank, the collective open, the dispatch, the close and the end. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/fileutil.h"
#include "io/lockfile.h"
#include "jobs/job.h"
#include "mpi/sweep.h"
#include "src/fault.h"
#include "src/machine.h"
#include "sweep/signals.h"
#include "sweep/sweep_file.h"

static int all_ranks_ok(MPI_Comm comm, int ok) {
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  return all;
}

static int bcast_ok(MPI_Comm comm, int ok) {
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  return ok;
}

/* The results file's directory, made when it does not exist yet (a fresh clone has no
   results/): the lock goes there first. */
static int output_directory(const char *output, Err *e) {
  char dir[4096];
  const char *slash = strrchr(output, '/');
  if (!slash || slash == output) return 0;
  snprintf(dir, sizeof dir, "%.*s", (int)(slash - output), output);
  struct stat st;
  if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : errf(e, "%s: not a directory, so %s cannot go there", dir, output);
  if (mkdir_p(dir, e)) return errctx(e, "%s: its directory cannot be made", output);
  printf("# created the directory %s for the results file\n", dir);
  return 0;
}

/* Rank 0 takes the results file's lock for every rank (each one writes into the file). */
static int take_lock(WriterLock *lock, const char *output, int rank, int size, MPI_Comm comm, Err *e) {
  LockWriter me, *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
  if (!bcast_ok(comm, rank != 0 || all != NULL)) return rank == 0 ? errf(e, "out of memory") : 0;
  lock_writer_self(&me);
  MPI_Gather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, 0, comm);
  if (rank != 0) return 0;
  if (output_directory(output, e)) return free(all), -1;
  lock->interrupted = signals_pending; /* ^C ends a wait for a stale lock */
  int rc = lock_acquire(lock, output, all, size, e);
  free(all);
  return rc;
}

/* path with its directory resolved (the file itself may not exist yet): "/abs/dir/name". */
static void resolved(const char *path, char *out, size_t size) {
  char dir[4096], *slash = strrchr(path, '/'), real[PATH_MAX];
  const char *name = slash ? slash + 1 : path;
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
  if (realpath(dir, real)) snprintf(out, size, "%s/%s", real, name);
  else snprintf(out, size, "%s", path);
}

/* 1 when a and b name one file (by inode when both exist, else by resolved path). */
static int same_file(const char *a, const char *b) {
  struct stat x, y;
  if (stat(a, &x) == 0 && stat(b, &y) == 0) return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
  char ra[8300], rb[8300];
  resolved(a, ra, sizeof ra);
  resolved(b, rb, sizeof rb);
  return strcmp(ra, rb) == 0;
}

/* The live page is renamed over its path every few seconds: never over the results file, its
   lock or stop file, the config, or any file that is not an earlier page. */
static int page_path_ok(const char *html, const Sweep *s, Err *e) {
  char lock[4200], stop[4200];
  results_sidecar(lock, sizeof lock, s->output, SIDE_LOCK);
  results_sidecar(stop, sizeof stop, s->output, SIDE_STOP);
  const char *what = same_file(html, s->output) ? "the results file" : same_file(html, lock) ? "the results file's lock"
                     : same_file(html, stop) ? "the stop file" : same_file(html, s->path) ? "the sweep's config" : NULL;
  if (what) return errf(e, "--html %s names %s; the page goes to a file of its own (--html auto: %s.html)", html, what, s->output);
  struct stat st;
  if (lstat(html, &st) != 0) return 0; /* a new file */
  char head[16] = "";
  FILE *f = S_ISREG(st.st_mode) ? fopen(html, "r") : NULL;
  size_t n = f ? fread(head, 1, 15, f) : 0;
  if (f) fclose(f);
  head[n] = 0;
  if (!S_ISREG(st.st_mode) || (st.st_size > 0 && strcmp(head, "<!doctype html>") != 0))
    return errf(e, "--html %s: that file exists and is not a page bertsweep wrote; name a new file (it would be replaced "
                   "every few seconds)", html);
  return 0;
}

/* s in single quotes for a POSIX shell ('\'' for each quote inside). */
static void shell_quote(const char *s, char *out, size_t size) {
  size_t n = 0;
  if (size < 8) { out[0] = 0; return; }
  out[n++] = '\'';
  for (; *s && n + 6 < size; s++) {
    if (*s == '\'') { memcpy(out + n, "'\\''", 4); n += 4; }
    else out[n++] = *s;
  }
  out[n++] = '\'';
  out[n] = 0;
}

/* Rank 0, after a rank went silent: the others have checkpointed; no collective can finish
   (the silent rank would never join one), so the job ends here, the lock left marked for the
   next sweep to take over and fence, the silent hosts written where the Slurm wrapper asked. */
_Noreturn static void end_silent(const SweepOutcome *oc, const SweepEnv *env, WriterLock *lock, MPI_Comm comm) {
  Err e2 = {{0}, 0};
  const char *list = env->silent_hosts;
  if (list[0] && write_file_atomic(list, oc->silent_hosts, strlen(oc->silent_hosts), &e2))
    fprintf(stderr, "bertsweep: %s\n", e2.msg);
  if (lock_abandon(lock, oc->silent_summary, &e2)) fprintf(stderr, "bertsweep: %s\n", e2.msg);
  printf("# ended: %s; %s; run the same command (without that node) to resume\n", oc->silent_summary,
         oc->stop_summary);
  sweep_end_launcher_later(SWEEP_LAUNCHER_GRACE);
  MPI_Abort(comm, EXIT_SILENT);
  _exit(EXIT_SILENT); /* MPI_Abort does not return */
}

/* The environment, read and checked once before anything starts (sweep/env.c; the test hook's
   variable here). */
static int env_options(SweepEnv *env, int launched, Err *e) {
  if (fault_check_env()) return errf(e, "BERTSWEEP_FAULT must look like kind:A:B (e.g. kill:2:30)"), EXIT_USAGE;
  if (sweep_env_read(env, e)) return EXIT_USAGE;
  env->launched = launched;
  return 0;
}

/* One sweep on one rank, from its config to its exit code. */
typedef struct {
  const SweepArgs *a;
  int rank, size;
  MPI_Comm comm;
  SweepEnv env;
  SweepOptions opt;
  Sweep s;
  Plan plan;
  ResultsInfo info;
  Results res;
  WriterLock lock;
  char stop_path[4200]; /* set once this sweep holds the lock: only then is FILE.stop ours */
  LivePage page;
  char html[4300];
  SweepOutcome oc;
  double elapsed;
  int rc;   /* sweep_run's */
  int idle; /* every run is done already: nothing opens the file for writing */
} Main;

/* How a sweep that ran ended, and the exit code each end gives (src/err.h). */
typedef enum { END_DONE, END_FAILED, END_TAKEN_OVER, END_IO, END_USER_STOP, END_STOPPED, NSWEEP_ENDS } SweepEnd;
static const int END_EXIT[NSWEEP_ENDS] = {[END_DONE] = EXIT_OK,        [END_FAILED] = EXIT_ERROR,
                                          [END_TAKEN_OVER] = EXIT_BUSY, [END_IO] = EXIT_IO,
                                          [END_USER_STOP] = EXIT_USER_STOP, [END_STOPPED] = EXIT_STOPPED};
static_assert(NSWEEP_ENDS == 6, "END_EXIT has one exit code per end");

/* Rank 0, before any file changes: the first run's model and data open, and the file is made
   to fit the sweep. */
static int preflight(Main *m, Err *e) {
  Job j;
  RunConfig *cfg = malloc(sizeof *cfg);
  int ok = !m->a->check_config || m->a->check_config(m->s.sweep_json, m->s.path, e) == 0;
  ok = ok && cfg && sweep_run_config(&m->s, &m->s.runs[0], cfg, e) == 0 && job_open(&j, cfg, e) == 0;
  if (ok && j.pooler_missing)
    fprintf(stderr, "bertsweep: warning: %s has no pooler (bert.pooler.dense.*): every run initialises it as "
                    "transformers does (normal, std initializer_range; bias 0); /runs column \"initialised\" says so\n",
            cfg->model_path);
  char unk[4800];
  if (ok && job_unk_advice(&j, unk, sizeof unk)) fprintf(stderr, "bertsweep: warning: %s\n", unk);
  if (ok) job_close(&j);
  free(cfg);
  return ok && sweep_file_prepare(&m->s, m->size, m->a->restart, &m->idle, e) == 0 ? 0 : -1;
}

/* The lock, the fence, the preflight, every rank's plan and the collective open: 0, or the
   exit code of a sweep that cannot start. */
static int prepare(Main *m, Err *e) {
  const int rank = m->rank;
  if (!m->s.output[0]) return errf(e, "%s: no \"output\" given (or pass --output FILE)", m->a->config), EXIT_ERROR;
  if (m->a->html && strcmp(m->a->html, "auto") != 0 && page_path_ok(m->a->html, &m->s, e)) return EXIT_USAGE;
  int locked = take_lock(&m->lock, m->s.output, rank, m->size, m->comm, e);
  if (!bcast_ok(m->comm, locked == 0)) {
    if (locked == 2) errf(e, "%s: stopped by a signal while waiting for the lock; nothing was changed", m->s.output);
    return locked == 1 ? EXIT_BUSY : locked == 2 ? EXIT_STOPPED : EXIT_ERROR;
  }
  /* a rank of the sweep taken over may live on unseen (another host, frozen): the file it
     holds open becomes an unlinked copy */
  const int fence = rank == 0 && m->lock.fence && path_exists(m->s.output);
  if (!bcast_ok(m->comm, !fence || file_fence(m->s.output, e) == 0)) return EXIT_ERROR;
  if (fence)
    fprintf(stderr, "bertsweep: %s fenced: a process of the earlier sweep that wakes up writes into the old copy\n",
            m->s.output);
  results_sidecar(m->stop_path, sizeof m->stop_path, m->s.output, SIDE_STOP);
  if (rank == 0) unlink(m->stop_path); /* running the command again is the answer to an old stop */
  int ok = rank != 0 || preflight(m, e) == 0;
  if (!bcast_ok(m->comm, ok)) return rank == 0 && e->disk ? EXIT_IO : EXIT_ERROR; /* a full disk: fix it, rerun */
  if (!all_ranks_ok(m->comm, sweep_file_plan(&m->s, m->size, &m->plan, &m->info, e) == 0)) return EXIT_ERROR;
  MPI_Bcast(&m->idle, 1, MPI_INT, 0, m->comm); /* rank 0's preflight decided it */
  if (m->idle) return 0;                       /* the file stays as it is */
  if (results_open(&m->res, m->s.output, m->comm, e)) return EXIT_ERROR;
  return 0;
}

/* Rank 0's first lines and the live page. */
static void banner(Main *m) {
  const Sweep *s = &m->s;
  char advice[512];
  printf("# sweep %s: %d runs, up to %ld steps each, on %d rank(s); results in %s%s%s%s\n", s->path, s->nruns,
         s->max_steps, m->size, s->output, s->output_link[0] ? " (following the symbolic link " : "", s->output_link,
         s->output_link[0] ? ")" : "");
  if (machine_blas_advice(advice, sizeof advice)) fprintf(stderr, "bertsweep: warning: %s\n", advice);
  m->page = (LivePage){.every = m->a->progress_every > 10 ? m->a->progress_every : 10, .write = m->a->write_page};
  if (!m->a->html || !m->a->write_page) return;
  if (strcmp(m->a->html, "auto") == 0) results_sidecar(m->html, sizeof m->html, s->output, SIDE_HTML);
  else snprintf(m->html, sizeof m->html, "%s", m->a->html);
  m->page.html = m->html;
  m->opt.page = &m->page;
  live_page_write(&m->page, s->output, m->page.every);
  printf("# live report: %s (rewritten every %.0f s while the sweep runs)\n", m->html, m->page.every);
}

/* After the dispatch: a woken sweep that was taken over touches nothing by path; a silent
   rank ends the job here; every rank closes the file. */
static SweepEnd close_file(Main *m, Err *e) {
  /* a sweep frozen past its lock's staleness wakes to find another sweep holding the file
     (which fenced it: everything written since went into an unlinked copy): the file, the
     page and the lock are that sweep's now, not to be touched by path */
  const int held = m->rank != 0 || lock_held(&m->lock);
  if (m->rank == 0 && m->opt.page && held) live_page_write(&m->page, m->s.output, 0); /* final: it stops reloading */
  if (m->rank == 0 && m->oc.silent && held) end_silent(&m->oc, &m->env, &m->lock, m->comm);
  if (m->rank == 0 && m->oc.silent) { /* no collective can finish; the file is not ours to mark */
    fprintf(stderr, "bertsweep: error: %s: a rank went silent, and another sweep has taken the file over meanwhile\n",
            m->s.output);
    MPI_Abort(m->comm, EXIT_BUSY);
  }
  const int taken_over = !bcast_ok(m->comm, held);
  Err e2;
  if (results_close(&m->res, &e2) && !m->rc) {
    *e = e2;
    m->rc = -1;
  }
  MPI_Barrier(m->comm);
  if (taken_over)
    errf(e, "%s: another sweep took the file over while this one was stopped (frozen past BERTSWEEP_LOCK_STALE) and "
            "fenced it: what this sweep did since went into an unlinked copy; the file, its lock and page are left to "
            "that sweep", m->s.output);
  return taken_over ? END_TAKEN_OVER : END_DONE;
}

/* How the sweep ended, with rank 0's last line; a finished sweep's file loses its slots. */
static SweepEnd finish(Main *m, Err *e) {
  const SweepOutcome *oc = &m->oc;
  const int rank = m->rank;
  if (close_file(m, e) == END_TAKEN_OVER) return END_TAKEN_OVER;
  if (rank == 0 && (oc->done_before || oc->resumed))
    printf("# resumed: %d runs were done already, %d continued from checkpoints\n", oc->done_before, oc->resumed);
  if (oc->io_error) {
    errctx(e, "the sweep stopped; running runs keep their last checkpoint: fix the cause and run the same command "
              "to resume");
    return END_IO;
  }
  if (oc->stopped && oc->user_stop) {
    if (rank == 0) {
      printf("# stopped by `bertsweep stop`: %s; a Slurm wrapper does not requeue this; run the same command to "
             "resume\n", oc->stop_summary);
      unlink(m->stop_path);
    }
    return END_USER_STOP;
  }
  if (oc->stopped) {
    if (rank == 0) printf("# stopped (a signal or the time limit): %s; run the same command to resume\n", oc->stop_summary);
    return END_STOPPED;
  }
  Err e2;
  if (!bcast_ok(m->comm, rank != 0 || sweep_file_finish(m->s.output, m->rc ? &e2 : e) == 0) && !m->rc) return END_IO;
  if (rank == 0 && oc->assignments)
    printf("# dispatch: %ld runs handed to workers, each waited %.1f ms on average, %.1f ms at most\n", oc->assignments,
           1e3 * oc->wait_mean, 1e3 * oc->wait_max);
  if (rank == 0 && !m->rc) {
    char quoted[8400];
    shell_quote(m->s.output, quoted, sizeof quoted);
    printf("# done: %d runs in %s (sweep %.1f s)\n#   /usr/bin/python3 -c \"import h5py, sys; f = h5py.File(sys.argv[1]); "
           "print(f['runs'][:])\" %s\n", m->s.nruns, m->s.output, m->elapsed, quoted);
  }
  return m->rc ? END_FAILED : END_DONE;
}

int sweep_main(const SweepArgs *a, int rank, MPI_Comm comm, Err *e) {
  Main *m = calloc(1, sizeof *m);
  if (!m) return errf(e, "out of memory"), EXIT_ERROR;
  *m = (Main){.a = a, .rank = rank, .comm = comm, .lock = {.fd = -1}, .opt = {.progress_every = a->progress_every}};
  MPI_Comm_size(comm, &m->size);
  m->opt.lock = rank == 0 ? &m->lock : NULL;
  m->opt.env = &m->env;
  int code = env_options(&m->env, a->launched, e);
  m->lock.stale = m->env.lock_stale;
  if (code) {
    free(m);
    return code;
  }
  if (sweep_load(&m->s, a->config, a->output, e)) {
    free(m);
    return EXIT_ERROR;
  }
  code = prepare(m, e);
  if (!code && m->idle && rank == 0)
    printf("# resumed: %d runs were done already, 0 continued from checkpoints\n"
           "# done: nothing to do, every run of %s is done in %s, which is left as it is (`bertsweep report %s`)\n",
           m->s.nruns, m->s.path, m->s.output, m->s.output);
  if (!code && !m->idle) {
    if (rank == 0) banner(m);
    double t0 = MPI_Wtime();
    m->rc = sweep_run(&m->s, &m->res, comm, &m->opt, m->plan.status, m->plan.slot_of, &m->oc, e);
    m->elapsed = MPI_Wtime() - t0;
    code = END_EXIT[finish(m, e)];
  }
  if (rank == 0) lock_release(&m->lock);
  /* after the lock is gone: a stop asked as the sweep ended is removed here, or (written after
     this) by `bertsweep stop` itself, which looks at the lock again after writing */
  if (rank == 0 && m->stop_path[0]) unlink(m->stop_path);
  plan_free(&m->plan);
  results_info_free(&m->info);
  sweep_free(&m->s);
  free(m);
  return code;
}

int sweep_mpi(const SweepArgs *args, Err *e) {
  SweepArgs a = *args; /* a launcher puts these in each rank's environment; a singleton has none */
  a.launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
  /* bertsweep uses no shared file pointers; Open MPI's lockedfile component overflows a
     buffer on output paths of 234+ characters (open-mpi/ompi#13565) */
  setenv("OMPI_MCA_sharedfp", "^lockedfile", 0);
  int provided, rank;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int code = sweep_main(&a, rank, MPI_COMM_WORLD, e);
  /* collective errors print once, on rank 0; the other ranks exit 0 so that mpirun waits
     for rank 0 to print instead of killing it when another rank exits first */
  if (rank != 0) {
    e->msg[0] = 0;
    code = EXIT_OK;
  } else if ((code == EXIT_ERROR || code == EXIT_IO) && !e->msg[0]) {
    errf(e, "another rank failed (its message, if any, is above)");
  }
  MPI_Finalize();
  return code;
}
