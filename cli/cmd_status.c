/* `bertsweep status FILE.h5 [--watch N]`: one screen on a live or finished results file: runs
   by status, what each rank runs now, failed and diverged runs with their reasons, when the
   file was last written, the ETA, and a warning when a sweep holds the file but has stopped
   writing it. Read-only (serial HDF5, like `report`): never blocks the sweep's writes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli/commands.h"
#include "io/lockfile.h"
#include "io/results_read.h"

static const char *STATUS_USAGE =
    "usage: bertsweep status FILE.h5 [--watch SECONDS]\n"
    "  Runs by status, each rank's current run and step, failed and diverged runs with their\n"
    "  reasons, the last write, an ETA, and a warning when a sweep holds the file but has not\n"
    "  written it for longer than its pace explains. --watch: refresh every SECONDS until ^C.\n"
    "  Read-only: safe on a file a sweep is writing.\n";

static void duration(char *out, size_t n, double s) {
  if (!(s >= 0) || s > 1e9) snprintf(out, n, "?");
  else if (s < 90) snprintf(out, n, "%.0f s", s);
  else if (s < 5400) snprintf(out, n, "%.0f min", s / 60);
  else snprintf(out, n, "%.1f h", s / 3600);
}

static void run_values(const ResultsData *d, int r, char *out, size_t n) {
  size_t len = 0;
  out[0] = 0;
  for (int c = 0; c < d->ncols && len < n; c++)
    len += (size_t)snprintf(out + len, n - len, "%s%s=%s", c ? " " : "", d->colname[c], d->values[r][c]);
}

/* The per-step metrics of the schema's table a running run's line shows, at its latest step. */
static int latest_shown(const ResultsData *d, int k) {
  return d->metric[k].present && RESULTS_METRICS[k].shape == SHAPE_RUN_STEP && RESULTS_METRICS[k].type == VT_F32;
}

/* Run r's last finite value of metric k (NaN: none yet). */
static double latest(const ResultsData *d, int k, int r) {
  const float *y = results_row_f(d, k, r);
  for (long i = d->metric[k].width - 1; i >= 0; i--)
    if (isfinite(y[i])) return y[i];
  return NAN;
}

static int show(const char *path, Err *e) {
  struct stat st;
  if (stat(path, &st) != 0) return errf(e, "%s: no such file", path);
  ResultsData d;
  if (results_load(path, &d, e)) return -1;
  int count[NRUN_STATUS] = {0}, unknown = 0, damaged = 0;
  long done_steps = 0, all_steps = 0;
  double rate_sum = 0, secs_per_step = 0;
  int rated = 0, running = 0;
  for (int r = 0; r < d.nruns; r++) {
    const int s = run_status_parse(d.status[r]);
    if (s < 0 || s >= NRUN_STATUS) { /* a damaged row, or a file from a newer bertsweep */
      unknown++;
      continue;
    }
    count[s]++;
    running += s == RUN_RUNNING;
    /* step counts a sweep could have written (a run has at most 1e12 steps, the key table's bound) */
    if (!(d.total_steps[r] >= 0 && d.total_steps[r] <= 1000000000000L && d.steps_done[r] >= 0 &&
          d.steps_done[r] <= d.total_steps[r])) {
      damaged++;
      continue;
    }
    all_steps += d.total_steps[r];
    done_steps += run_status_final((RunStatus)s) ? d.total_steps[r] : d.steps_done[r];
    if (d.wall && d.wall[r] > 0 && d.steps_done[r] > 0) {
      rate_sum += (double)d.steps_done[r] / d.wall[r];
      rated++;
    }
  }
  printf("%s: %d runs:", path, d.nruns);
  for (int s = 0; s < NRUN_STATUS; s++)
    if (count[s]) printf(" %d %s", count[s], RUN_STATUS_NAME[s]);
  if (unknown) printf(" %d of unknown status", unknown);
  printf("\n");
  if (unknown || damaged)
    printf("warning: %d run(s) with a status this bertsweep does not know, %d with impossible step counts: left out of "
           "the progress below; `bertsweep check %s` says more\n", unknown, damaged, path);
  char who[1400];
  const int live = lock_live(path, who, sizeof who);
  if (live) printf("sweep: running (%s)\n", who);
  else printf("sweep: none holds the file\n");
  if (running) {
    printf("\n%-5s %-16s %-5s %-6s %-17s", "rank", "host", "run", "seed", "step / total");
    for (int k = 0; k < NMETRICS; k++)
      if (latest_shown(&d, k)) printf(" %-10s", RESULTS_METRICS[k].column);
    printf(" %s\n", "grid values");
    for (int r = 0; r < d.nruns; r++) {
      if (run_status_parse(d.status[r]) != RUN_RUNNING) continue;
      char vals[512], steps[48];
      run_values(&d, r, vals, sizeof vals);
      snprintf(steps, sizeof steps, "%ld / %ld", d.steps_done[r], d.total_steps[r]);
      printf("%-5d %-16s %-5d %-6d %-17s", d.rank ? d.rank[r] : -1, d.host ? d.host[r] : "?", r, d.seed[r], steps);
      for (int k = 0; k < NMETRICS; k++)
        if (latest_shown(&d, k)) printf(" %-10.4g", latest(&d, k, r));
      printf(" %s\n", vals);
    }
  }
  if (count[RUN_FAILED] || count[RUN_DIVERGED]) {
    printf("\nfailed or diverged:\n");
    for (int r = 0; r < d.nruns; r++) {
      const RunStatus s = run_status_parse(d.status[r]);
      if (s != RUN_FAILED && s != RUN_DIVERGED) continue;
      char vals[512];
      run_values(&d, r, vals, sizeof vals);
      printf("  run %d (seed %d%s%s): %s at step %ld%s%s\n", r, d.seed[r], vals[0] ? ", " : "", vals, d.status[r],
             d.steps_done[r], d.error && d.error[r][0] ? ": " : "", d.error ? d.error[r] : "");
    }
  }
  const double age = difftime(time(NULL), st.st_mtime);
  char when[64], ago[32], eta[32];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&st.st_mtime));
  duration(ago, sizeof ago, age);
  printf("\nlast written: %s (%s ago)\n", when, ago);
  if (rated) secs_per_step = rated / rate_sum;
  const double rate = rated ? rate_sum / rated * (running > 0 ? running : 1) : 0;
  duration(eta, sizeof eta, rate > 0 ? (double)(all_steps - done_steps) / rate : -1);
  printf("progress: %ld / %ld steps (%.1f%%)", done_steps, all_steps, all_steps ? 100.0 * (double)done_steps / (double)all_steps : 0);
  if (live && done_steps < all_steps) printf("; ETA %s at %.1f steps/s over %d running run(s)", eta, rate, running);
  printf("\n");
  /* a running sweep flushes each run's rows every 2 s or each step: silence far beyond that is a hang */
  const double expected = 20 * secs_per_step > 60 ? 20 * secs_per_step : 60;
  if (live && running && age > expected) {
    char lim[32];
    duration(lim, sizeof lim, expected);
    printf("warning: a sweep holds the file but has not written it for %s (more than %s at its pace): a frozen node, a "
           "hung file system, or a rank that went silent; see the sweep's log\n", ago, lim);
  }
  if (!live && (running || count[RUN_STOPPED] || count[RUN_PENDING]))
    printf("note: no sweep is running; %d run(s) unfinished: run the sweep command again to resume\n",
           running + count[RUN_STOPPED] + count[RUN_PENDING]);
  results_data_free(&d);
  return 0;
}

int cmd_status(int argc, char **argv, Err *e) {
  const char *path = NULL;
  double watch = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(STATUS_USAGE, stdout);
      return EXIT_OK;
    }
    if (!strcmp(argv[i], "--watch") && i + 1 < argc) {
      char *end;
      watch = strtod(argv[++i], &end);
      if (*end || !(watch >= 0.5 && watch <= 86400)) {
        errf(e, "status: --watch needs seconds in [0.5, 86400], not \"%s\"; see bertsweep status --help", argv[i]);
        return EXIT_USAGE;
      }
    } else if (argv[i][0] == '-' || path) {
      errf(e, "status: unexpected argument %s; see bertsweep status --help", argv[i]);
      return EXIT_USAGE;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    errf(e, "status: which results file? see bertsweep status --help");
    return EXIT_USAGE;
  }
  for (;;) {
    if (watch > 0) printf("\033[H\033[2J"); /* clear the screen */
    if (show(path, e)) return EXIT_ERROR;
    if (watch <= 0) return EXIT_OK;
    fflush(stdout);
    struct timespec ts = {(time_t)watch, (long)((watch - (double)(time_t)watch) * 1e9)};
    nanosleep(&ts, NULL);
  }
}
