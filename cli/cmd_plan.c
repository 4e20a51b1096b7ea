/* `bertsweep plan CONFIG`: the runs, steps, file size and time of a sweep, before running it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli/commands.h"
#include "src/machine.h"
#include <omp.h>
#include "io/calibration.h"
#include "sweep/calibrate.h"
#include "mpi/sweep.h"
#include "report/report.h"
#include "sweep/signals.h"
#include "sweep/sweep_file.h"

/* The finished file: the schema's datasets by io/results_build.c's count, the run configs and
   about 64 kB of metadata (checkpoint slots are given back at the end). */
static double file_bytes(const Sweep *s) {
  ResultsLayout lay;
  sweep_file_layout(s, &lay);
  double b = 64e3 + results_layout_bytes(&lay);
  for (int i = 0; i < s->nruns; i++) b += (double)strlen(s->runs[i].config_json);
  return b;
}

static void human(char *out, size_t n, double b) {
  const char *u[] = {"B", "kB", "MB", "GB", "TB"};
  int k = 0;
  while (b >= 1000 && k < 4) { b /= 1000; k++; }
  snprintf(out, n, "%.1f %s", b, u[k]);
}

/* "45 s", "12.5 min", "3.2 h" */
static const char *duration(char *out, size_t n, double s) {
  if (s < 90) snprintf(out, n, "%.0f s", s);
  else if (s < 5400) snprintf(out, n, "%.1f min", s / 60);
  else snprintf(out, n, "%.1f h", s / 3600);
  return out;
}

/* Wall time and node-hours from this node's calibrations (`bertsweep bench`), or why not. */
static void plan_time(const Sweep *s, int ranks, int per_node, int threads, Err *e) {
  MachineInfo m;
  machine_describe(&m);
  double train = 0, eval = 0, longest = 0;
  int missing = 0;
  Calibration c = {0}, first = {0};
  void *cal = calibration_open(e);
  if (!cal) { printf("time: not estimated (%s)\n", e->msg); return; }
  for (int i = 0; i < s->nruns; i++) {
    RunConfig *cfg = malloc(sizeof *cfg);
    char key[1024];
    Err e2;
    int found = 0;
    if (cfg && sweep_run_config(s, &s->runs[i], cfg, &e2) == 0) {
      calibration_key(&m, threads, &s->runs[i].model, cfg, key, sizeof key);
      found = calibration_find(cal, key, &c);
    }
    free(cfg);
    if (!found) { missing++; continue; }
    if (!first.step_s) first = c;
    double tr = (double)s->runs[i].total_steps * c.step_s, ev = (double)s->runs[i].n_evals * c.eval_s;
    train += tr;
    eval += ev;
    longest = tr + ev > longest ? tr + ev : longest;
  }
  calibration_close(cal);
  if (missing == s->nruns) {
    printf("time: not estimated: no calibration for these runs on this CPU (%s), BLAS kernel (%s) and %d thread(s); "
           "run `bertsweep bench %s%s` on a node like the sweep's\n", m.cpu, m.blas, threads, s->path,
           threads > 1 ? "" : " --threads 1");
    return;
  }
  double all = train + eval, wall = all / ranks > longest ? all / ranks : longest;
  int nodes = (ranks + per_node - 1) / per_node;
  char d1[32], d2[32], d3[32], d4[32], d5[32];
  printf("time (calibrated on %s, %s, %s, %d thread(s) per rank, %s, %d step(s) timed): training %s + evaluation %s = "
         "%s of rank time%s\n", first.host, m.cpu, m.blas, threads, first.measured, first.steps_timed,
         duration(d1, sizeof d1, train), duration(d2, sizeof d2, eval), duration(d3, sizeof d3, all),
         missing ? " for the calibrated runs" : "");
  printf("  on %d rank(s): about %s of wall time (longest run %s), %.2f node-hours on %d node(s) of %d rank(s)\n", ranks,
         duration(d4, sizeof d4, wall), duration(d5, sizeof d5, longest), wall / 3600 * nodes, nodes, per_node);
  if (missing)
    printf("  %d of %d runs have no calibration (another model or batch shape): run `bertsweep bench %s`\n", missing,
           s->nruns, s->path);
}

/* 1 when some run of s has a calibration on this node at this thread count. */
static int has_calibration(const Sweep *s, int threads, Err *e) {
  MachineInfo m;
  machine_describe(&m);
  void *cal = calibration_open(e);
  int found = 0;
  for (int i = 0; cal && i < s->nruns && !found; i++) {
    RunConfig *cfg = malloc(sizeof *cfg);
    char key[1024];
    Err e2;
    Calibration c;
    if (cfg && sweep_run_config(s, &s->runs[i], cfg, &e2) == 0) {
      calibration_key(&m, threads, &s->runs[i].model, cfg, key, sizeof key);
      found = calibration_find(cal, key, &c);
    }
    free(cfg);
  }
  if (cal) calibration_close(cal);
  return found || !cal; /* a damaged calibration file: plan_time says so */
}

/* ---- --layout: ranks x threads measured on this node ---- */

typedef struct {
  pid_t pid;
  FILE *to, *from;
} Probe;

/* Starts `bertsweep bench CONFIG --probe --threads t --steps n` with pipes on its stdin/stdout. */
static int probe_start(Probe *p, const char *config, int t, int steps, Err *e) {
  /* close-on-exec: a probe keeps only its own stdin and stdout (dup2 clears the flag on
     them), so each one sees end of file when plan dies, whatever the others do */
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || (p->pid = fork()) < 0) {
    int err = errno;
    for (int i = 0; i < 2; i++) {
      if (in[i] >= 0) close(in[i]);
      if (out[i] >= 0) close(out[i]);
    }
    return errf(e, "plan --layout: starting a probe: %s", strerror(err));
  }
  if (p->pid == 0) {
    char ts[16], ns[16];
    snprintf(ts, sizeof ts, "%d", t);
    snprintf(ns, sizeof ns, "%d", steps);
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]); close(in[1]); close(out[0]); close(out[1]);
    setenv("OMP_NUM_THREADS", ts, 1);
    execl("/proc/self/exe", "bertsweep", "bench", config, "--probe", "--threads", ts, "--steps", ns, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  p->to = fdopen(in[1], "w");
  p->from = fdopen(out[0], "r");
  return p->to && p->from ? 0 : errf(e, "plan --layout: fdopen: %s", strerror(errno));
}

/* k ranks of t threads stepping at once: their mean seconds per step and the largest peak
   memory of one (bytes), or -1 with e set. */
static double probe_layout(const char *config, int k, int t, int steps, double *peak, Err *e) {
  Probe *p = calloc((size_t)k, sizeof *p);
  if (!p) return errf(e, "out of memory"), -1;
  int started = 0, rc = 0;
  char line[96];
  *peak = 0;
  for (; started < k && !rc; started++) rc = probe_start(&p[started], config, t, steps, e);
  for (int i = 0; i < started && !rc; i++) /* every rank warm before any is timed */
    if (!fgets(line, sizeof line, p[i].from) || strcmp(line, "ready\n") != 0)
      rc = errf(e, "plan --layout: rank %d of %d x %d threads did not start (see its message above)", i, k, t);
  for (int i = 0; i < started && !rc; i++) fputs("go\n", p[i].to), fflush(p[i].to);
  double sum = 0;
  for (int i = 0; i < started && !rc; i++) {
    double sec, kb;
    if (!fgets(line, sizeof line, p[i].from) || sscanf(line, "step %lf rss_kb %lf", &sec, &kb) != 2)
      rc = errf(e, "plan --layout: rank %d of %d x %d threads gave no timing", i, k, t);
    sum += sec;
    *peak = kb * 1024 > *peak ? kb * 1024 : *peak;
  }
  for (int i = 0; i < started; i++) {
    if (rc && p[i].pid > 0) kill(p[i].pid, SIGKILL);
    if (p[i].to) fclose(p[i].to);
    if (p[i].from) fclose(p[i].from);
    if (p[i].pid > 0) waitpid(p[i].pid, NULL, 0);
  }
  free(p);
  return rc ? -1 : sum / k;
}

/* Every split of this node's physical cores into ranks x threads, measured with the sweep's
   first run, fewest ranks first: a split whose ranks would not fit in memory (the peak of one
   rank so far, times its ranks, + 10%) is not started. Recommends the split with the most steps
   per second among those that fit, with no more ranks than runs. */
static int plan_layout(const Sweep *s, const char *config, Err *e) {
  int logical, cores = machine_cores(&logical);
  double mem = machine_memory(), peak = 0;
  MachineInfo m;
  machine_describe(&m);
  char hm[32];
  human(hm, sizeof hm, mem);
  printf("\n# layout: %d physical cores (%d CPUs), %s of memory free on %s (%s, %s); each split runs its ranks "
         "at once, 5 steps each\n", cores, logical, mem > 0 ? hm : "an unknown amount", m.host, m.cpu, m.blas);
  printf("%-6s %-8s %-12s %-14s %-14s %s\n", "ranks", "threads", "s per step", "steps per s", "peak memory", "");
  double best = 0, slowest = 0;
  int best_k = 0;
  for (int t = cores; t >= 1; t--) {
    if (cores % t) continue;
    int k = cores / t;
    char need[32];
    human(need, sizeof need, 1.1 * k * peak);
    if (peak > 0 && mem > 0 && 1.1 * k * peak > mem) {
      printf("%-6d %-8d %-12s %-14s %-14s (not run: needs about %s)\n", k, t, "-", "-", "-", need);
      continue;
    }
    double one, st = probe_layout(config, k, t, 5, &one, e);
    if (st <= 0) return -1;
    peak = one > peak ? one : peak;
    double rate = k / st;
    char pm[32];
    human(pm, sizeof pm, one * k);
    int fits = k <= s->nruns;
    printf("%-6d %-8d %-12.4f %-14.2f %-14s %s\n", k, t, st, rate, pm, fits ? "" : "(more ranks than runs)");
    if (fits && rate > best) { best = rate; best_k = k; }
    if (fits && (slowest == 0 || rate < slowest)) slowest = rate;
  }
  if (!best_k) {
    printf("recommended: none (no split fits this node's memory)\n");
    return 0;
  }
  printf("recommended: %d rank(s) per node x %d thread(s) (%.2f steps per second on this node, %.2fx the slowest "
         "split); e.g. plan --ranks %d --ranks-per-node %d --threads %d\n", best_k, cores / best_k, best,
         best / slowest, best_k, best_k, cores / best_k);
  printf("  (memory: the training steps' peak; an evaluation adds its batch's workspace)\n");
  return 0;
}

int cmd_plan(int argc, char **argv, Err *e) {
  const char *config = NULL, *output = NULL, *env = getenv("OMP_NUM_THREADS");
  int ranks = 1, per_node = 0, threads = env && atoi(env) > 0 ? atoi(env) : 1, layout = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--layout")) {
      layout = 1;
      continue;
    }
    int *ip = !strcmp(argv[i], "--ranks") ? &ranks : !strcmp(argv[i], "--ranks-per-node") ? &per_node
            : !strcmp(argv[i], "--threads") ? &threads : NULL;
    if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) output = argv[++i];
    else if (ip && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || v < 1 || v > 1000000) {
        errf(e, "plan: %s needs a whole number from 1 to 1000000, not '%s'", argv[i - 1], argv[i]);
        return EXIT_USAGE;
      }
      *ip = (int)v;
    }
    else if (argv[i][0] == '-') return usage_error(e, "plan", "unknown option %s", argv[i]);
    else config = argv[i];
  }
  if (!config) return usage_error(e, "plan", "which config?");
  if (per_node == 0) per_node = ranks;
  Sweep s;
  if (sweep_load_lenient(&s, config, output, 1, e)) return EXIT_ERROR;
  if (report_check_config(s.sweep_json, s.path, e)) {
    sweep_free(&s);
    return EXIT_ERROR;
  }
  long total = 0;
  int unreadable = -1, nunreadable = 0;
  printf("%-6s %-8s %-6s %s\n", "run", "steps", "evals", "settings");
  for (int i = 0; i < s.nruns; i++) {
    char label[1024];
    run_label(&s, &s.runs[i], label, sizeof label);
    printf("%-6d %-8ld %-6d %s%s\n", i, s.runs[i].total_steps, s.runs[i].n_evals, label,
           s.runs[i].unreadable ? "  (cannot run: below)" : "");
    total += s.runs[i].total_steps;
    if (s.runs[i].unreadable && !nunreadable++) unreadable = i;
  }
  char size[32], slot[32];
  human(size, sizeof size, file_bytes(&s));
  if (s.max_nparams > 0) human(slot, sizeof slot, results_slot_bytes(s.max_nparams));
  else snprintf(slot, sizeof slot, "an unknown size");
  printf("\n%d runs (%d grid points x %d seeds), %ld steps in all, longest %ld\n", s.nruns, s.nruns / s.nseeds,
         s.nseeds, total, s.max_steps);
  printf("results file: %s (about %s of metrics; while it runs, plus %s per checkpoint slot: one per rank and one per "
         "run waiting to resume)\n",
         s.output[0] ? s.output : "(no \"output\" given)", size, slot);
  if (s.missing & MISSING_DATA)
    printf("note: a training set was not found; steps follow from data.train_size\n");
  if (s.missing & MISSING_LABELS)
    printf("note: a labels file was not found; the classifier's size assumes 2 labels\n");
  if (s.missing & MISSING_MODEL)
    printf("note: the model cannot be read (%s); checkpoint slot sizes are unknown and the time is not estimated\n",
           s.missing_model);
  if (s.max_nparams > 0) {
    char all_slots[32];
    human(all_slots, sizeof all_slots, results_slot_bytes(s.max_nparams) * ranks);
    printf("checkpoint space on %d rank(s): %s while the sweep runs (one slot per rank; more while runs wait to "
           "resume), given back when it ends\n", ranks, all_slots);
  }
  if (!nunreadable && !s.missing && !has_calibration(&s, threads, e)) { /* time a few steps of each shape now */
    printf("# no calibration matches yet: timing 5 steps and one evaluation of each run shape on this node "
           "(`bertsweep bench` times 20 for a closer figure)\n");
    omp_set_num_threads(threads);
    if (sweep_calibrate(&s, 5, stdout, e) < 0) printf("time: not estimated (%s)\n", e->msg);
  }
  plan_time(&s, ranks, per_node, threads, e);
  if (layout && !nunreadable && !s.missing && plan_layout(&s, config, e)) {
    sweep_free(&s);
    return EXIT_ERROR;
  }
  if (layout && (nunreadable || s.missing)) printf("layout: not measured (the model or data cannot be read)\n");
  /* a model or data set that is there but cannot be read: the sweep would fail those runs */
  if (nunreadable) errf(e, "%d run(s) cannot run; run %d: %s", nunreadable, unreadable, s.runs[unreadable].unreadable);
  sweep_free(&s);
  return nunreadable ? EXIT_ERROR : EXIT_OK;
}
