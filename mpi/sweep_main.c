#define _DEFAULT_SOURCE
/* `bertsweep sweep` across the ranks: the lock and the file on rank 0, the plan on every
   rank, the collective open, the dispatch, the close and the end. */
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

/* Rank 0 takes the results file's lock for every rank (each one writes into the file). */
static int take_lock(WriterLock *lock, const char *output, int rank, int size, MPI_Comm comm, Err *e) {
  LockWriter me, *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
  if (!bcast_ok(comm, rank != 0 || all != NULL)) return rank == 0 ? errf(e, "out of memory") : 0;
  lock_writer_self(&me);
  MPI_Gather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, 0, comm);
  if (rank != 0) return 0;
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
  snprintf(lock, sizeof lock, "%s.lock", s->output);
  snprintf(stop, sizeof stop, "%s.stop", s->output);
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

/* BERTSWEEP_SILENCE_LIMIT: seconds (> 0), or unset/empty (0: from each run's pace). */
static int silence_limit_env(double *out, Err *e) {
  const char *v = getenv("BERTSWEEP_SILENCE_LIMIT");
  char *end;
  *out = 0;
  if (!v || !v[0]) return 0;
  *out = strtod(v, &end);
  if (end == v || *end || !(*out > 0 && *out <= 1e7))
    return errf(e, "BERTSWEEP_SILENCE_LIMIT must be seconds > 0, not \"%s\"", v);
  return 0;
}

/* Rank 0, after a rank went silent: the others have checkpointed; no collective can finish
   (the silent rank would never join one), so the job ends here, the lock left marked for the
   next sweep to take over and fence, the silent hosts written where the Slurm wrapper asked. */
_Noreturn static void end_silent(const SweepOutcome *oc, WriterLock *lock, MPI_Comm comm) {
  Err e2 = {{0}, 0};
  const char *list = getenv("BERTSWEEP_SILENT_HOSTS");
  if (list && list[0] && write_file_atomic(list, oc->silent_hosts, strlen(oc->silent_hosts), &e2))
    fprintf(stderr, "bertsweep: %s\n", e2.msg);
  if (lock_abandon(lock, oc->silent_summary, &e2)) fprintf(stderr, "bertsweep: %s\n", e2.msg);
  printf("# ended: %s; %s; run the same command (without that node) to resume\n", oc->silent_summary,
         oc->stop_summary);
  sweep_end_launcher_later(SWEEP_LAUNCHER_GRACE);
  MPI_Abort(comm, EXIT_SILENT);
  _exit(EXIT_SILENT); /* MPI_Abort does not return */
}

int sweep_main(const SweepArgs *a, int rank, MPI_Comm comm, Err *e) {
  SweepOptions opt = {.progress_every = a->progress_every, .launched = a->launched};
  const int restart = a->restart;
  const char *config = a->config;
  if (fault_check_env()) { errf(e, "BERTSWEEP_FAULT must look like kind:A:B (e.g. kill:2:30)"); return EXIT_USAGE; }
  if (silence_limit_env(&opt.silence_limit, e)) return EXIT_USAGE;
  double stale;
  if (lock_stale_env(&stale, e)) return EXIT_USAGE;
  const char *r0 = getenv("BERTSWEEP_RANK0_TRAINS");
  opt.rank0_trains = !r0 || !r0[0] ? -1 : strcmp(r0, "1") == 0 ? 1 : strcmp(r0, "0") == 0 ? 0 : -2;
  if (opt.rank0_trains == -2) {
    errf(e, "BERTSWEEP_RANK0_TRAINS must be 0 or 1, not \"%s\"", r0);
    return EXIT_USAGE;
  }
  Sweep s;
  if (sweep_load(&s, config, a->output, e)) return EXIT_ERROR;
  int size, code = EXIT_ERROR;
  MPI_Comm_size(comm, &size);
  Plan plan = {0};
  ResultsInfo info = {0};
  Results res;
  WriterLock lock = {.fd = -1};
  char stop_path[4200] = ""; /* set once this sweep holds the lock: only then is FILE.stop ours */
  opt.lock = rank == 0 ? &lock : NULL;
  if (!s.output[0]) {
    errf(e, "%s: no \"output\" given (or pass --output FILE)", config);
    goto out;
  }
  if (a->html && strcmp(a->html, "auto") != 0 && page_path_ok(a->html, &s, e)) {
    code = EXIT_USAGE;
    goto out;
  }
  int locked = take_lock(&lock, s.output, rank, size, comm, e);
  if (!bcast_ok(comm, locked == 0)) {
    if (locked == 1) code = EXIT_BUSY;
    if (locked == 2) {
      errf(e, "%s: stopped by a signal while waiting for the lock; nothing was changed", s.output);
      code = EXIT_STOPPED;
    }
    goto out;
  }
  /* a rank of the sweep taken over may live on unseen (another host, frozen): the file it
     holds open becomes an unlinked copy */
  if (!bcast_ok(comm, rank != 0 || !lock.fence || !path_exists(s.output) || file_fence(s.output, e) == 0)) goto out;
  if (rank == 0 && lock.fence && path_exists(s.output))
    fprintf(stderr, "bertsweep: %s fenced: a process of the earlier sweep that wakes up writes into the old copy\n",
            s.output);
  snprintf(stop_path, sizeof stop_path, "%s.stop", s.output);
  if (rank == 0) unlink(stop_path); /* running the command again is the answer to an old stop */
  /* preflight on rank 0: the first run's model and data open, before any file changes */
  int ok = 1;
  if (rank == 0) {
    Job j;
    RunConfig *cfg = malloc(sizeof *cfg);
    ok = !a->check_config || a->check_config(s.sweep_json, s.path, e) == 0;
    ok = ok && cfg && sweep_run_config(&s, &s.runs[0], cfg, e) == 0 && job_open(&j, cfg, e) == 0;
    if (ok && j.pooler_missing)
      fprintf(stderr, "bertsweep: warning: %s has no pooler (bert.pooler.dense.*): every run initialises it as "
                      "transformers does (normal, std initializer_range; bias 0); /runs column \"initialised\" says so\n",
              cfg->model_path);
    char unk[4800];
    if (ok && job_unk_advice(&j, unk, sizeof unk)) fprintf(stderr, "bertsweep: warning: %s\n", unk);
    if (ok) job_close(&j);
    free(cfg);
    ok = ok && sweep_file_prepare(&s, size, restart, e) == 0;
    if (!ok && e->disk) code = EXIT_IO; /* a full disk: fix it and run the same command */
  }
  if (!bcast_ok(comm, ok)) goto out;
  if (!all_ranks_ok(comm, sweep_file_plan(&s, size, &plan, &info, e) == 0)) goto out;
  if (results_open(&res, s.output, comm, e)) goto out;
  char advice[512];
  if (rank == 0) {
    printf("# sweep %s: %d runs, up to %ld steps each, on %d rank(s); results in %s%s%s%s\n", s.path, s.nruns,
           s.max_steps, size, s.output, s.output_link[0] ? " (following the symbolic link " : "", s.output_link,
           s.output_link[0] ? ")" : "");
    if (machine_blas_advice(advice, sizeof advice)) fprintf(stderr, "bertsweep: warning: %s\n", advice);
  }
  LivePage page = {.every = a->progress_every > 10 ? a->progress_every : 10, .write = a->write_page};
  char html[4300];
  if (rank == 0 && a->html && a->write_page) {
    if (strcmp(a->html, "auto") == 0) snprintf(html, sizeof html, "%s.html", s.output);
    else snprintf(html, sizeof html, "%s", a->html);
    page.html = html;
    opt.page = &page;
    live_page_write(&page, s.output, page.every);
    printf("# live report: %s (rewritten every %.0f s while the sweep runs)\n", html, page.every);
  }
  SweepOutcome oc;
  double t0 = MPI_Wtime();
  int rc = sweep_run(&s, &res, comm, &opt, plan.status, plan.slot_of, &oc, e);
  double elapsed = MPI_Wtime() - t0;
  /* a sweep frozen past its lock's staleness wakes to find another sweep holding the file
     (which fenced it: everything written since went into an unlinked copy): the file, the
     page and the lock are that sweep's now, not to be touched by path */
  const int held = rank != 0 || lock_held(&lock);
  if (rank == 0 && opt.page && held) live_page_write(&page, s.output, 0); /* final: it stops reloading */
  if (rank == 0 && oc.silent && held) end_silent(&oc, &lock, comm);
  if (rank == 0 && oc.silent) { /* no collective can finish; the file is not ours to mark */
    fprintf(stderr, "bertsweep: error: %s: a rank went silent, and another sweep has taken the file over meanwhile\n",
            s.output);
    MPI_Abort(comm, EXIT_BUSY);
  }
  const int taken_over = !bcast_ok(comm, held);
  Err e2;
  if (results_close(&res, &e2) && !rc) {
    *e = e2;
    rc = -1;
  }
  MPI_Barrier(comm);
  if (taken_over) {
    errf(e, "%s: another sweep took the file over while this one was stopped (frozen past BERTSWEEP_LOCK_STALE) and "
            "fenced it: what this sweep did since went into an unlinked copy; the file, its lock and page are left to "
            "that sweep", s.output);
    code = EXIT_BUSY;
    goto out;
  }
  if (rank == 0 && (oc.done_before || oc.resumed)) printf("# resumed: %d runs were done already, %d continued from checkpoints\n",
                                          oc.done_before, oc.resumed);
  if (oc.io_error) {
    errctx(e, "the sweep stopped; running runs keep their last checkpoint: fix the cause and run the same command "
              "to resume");
    code = EXIT_IO;
    goto out;
  }
  if (oc.stopped && oc.user_stop) {
    if (rank == 0) {
      printf("# stopped by `bertsweep stop`: %s; a Slurm wrapper does not requeue this; run the same command to "
             "resume\n", oc.stop_summary);
      unlink(stop_path);
    }
    code = EXIT_USER_STOP;
    goto out;
  }
  if (oc.stopped) {
    if (rank == 0) printf("# stopped (a signal or the time limit): %s; run the same command to resume\n", oc.stop_summary);
    code = EXIT_STOPPED;
    goto out;
  }
  if (!bcast_ok(comm, rank != 0 || sweep_file_finish(s.output, rc ? &e2 : e) == 0) && !rc) {
    code = EXIT_IO;
    goto out;
  }
  if (rank == 0 && oc.assignments)
    printf("# dispatch: %ld runs handed to workers, each waited %.1f ms on average, %.1f ms at most\n", oc.assignments,
           1e3 * oc.wait_mean, 1e3 * oc.wait_max);
  if (rank == 0 && !rc) {
    char quoted[8400];
    shell_quote(s.output, quoted, sizeof quoted);
    printf("# done: %d runs in %s (sweep %.1f s)\n#   /usr/bin/python3 -c \"import h5py, sys; f = h5py.File(sys.argv[1]); "
           "print(f['runs'][:])\" %s\n", s.nruns, s.output, elapsed, quoted);
  }
  code = rc ? EXIT_ERROR : EXIT_OK;
out:
  if (rank == 0) lock_release(&lock);
  /* after the lock is gone: a stop asked as the sweep ended is removed here, or (written after
     this) by `bertsweep stop` itself, which looks at the lock again after writing */
  if (rank == 0 && stop_path[0]) unlink(stop_path);
  plan_free(&plan);
  results_info_free(&info);
  sweep_free(&s);
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
