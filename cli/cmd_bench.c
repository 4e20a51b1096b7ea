/* `bertsweep bench CONFIG`: times a training step and a dev evaluation of each distinct run
   shape of a sweep on this node and stores them as calibrations for `bertsweep plan`. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/commands.h"
#include "io/calibration.h"
#include "jobs/job.h"
#include "src/clock.h"
#include "sweep/grid.h"

static int measure(const RunConfig *cfg, int steps, Calibration *c, Err *e) {
  Job j;
  if (job_open(&j, cfg, e)) return -1;
  StepMetrics sm;
  EvalMetrics em;
  for (int k = 0; k < 2 && !job_finished(&j); k++) job_step(&j, &sm); /* warm-up: first-touch, caches */
  int n = 0;
  double t0 = clock_seconds();
  for (; n < steps && !job_finished(&j); n++) job_step(&j, &sm);
  double t1 = clock_seconds();
  job_eval(&j, &em);
  double t2 = clock_seconds();
  job_close(&j);
  if (n == 0) return errf(e, "bench: the run has too few steps to time (needs more than 2)");
  c->step_s = (t1 - t0) / n;
  c->eval_s = t2 - t1;
  c->steps_timed = n;
  return 0;
}

int cmd_bench(int argc, char **argv, Err *e) {
  const char *config = NULL;
  int steps = 20, threads = 0;
  for (int i = 0; i < argc; i++) {
    char *end = NULL;
    if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = (int)strtol(argv[++i], &end, 10);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = (int)strtol(argv[++i], &end, 10);
    else if (argv[i][0] == '-') return usage_error(e, "bench", "unknown option %s", argv[i]);
    else config = argv[i];
    if (end && (*end || steps < 1 || threads < 0)) { errf(e, "bench: %s needs a positive number", argv[i - 1]); return EXIT_USAGE; }
  }
  if (!config) { errf(e, "usage: bertsweep bench CONFIG.json [--steps 20] [--threads N]"); return EXIT_USAGE; }
  if (threads > 0) omp_set_num_threads(threads);
  threads = omp_get_max_threads();
  Sweep s;
  if (sweep_load(&s, config, NULL, e)) return EXIT_ERROR;
  MachineInfo m;
  machine_describe(&m);
  char path[4096], done[16][1024], key[1024];
  int ndone = 0, rc = EXIT_OK;
  if (calibration_path(path, sizeof path, e)) { sweep_free(&s); return EXIT_ERROR; }
  void *existing = calibration_open(e); /* a damaged file is said now, not after every timing */
  if (!existing) { sweep_free(&s); return EXIT_ERROR; }
  calibration_close(existing);
  printf("# bench on %s: %s, %s, %d thread(s); calibrations go to %s\n", m.host, m.cpu, m.blas, threads, path);
  char advice[512];
  if (machine_blas_advice(advice, sizeof advice)) fprintf(stderr, "bertsweep: warning: %s\n", advice);
  for (int i = 0; i < s.nruns && rc == EXIT_OK; i++) {
    RunConfig *cfg = malloc(sizeof *cfg);
    if (!cfg || sweep_run_config(&s, &s.runs[i], cfg, e)) { free(cfg); rc = EXIT_ERROR; break; }
    calibration_key(&m, threads, &s.runs[i].model, cfg, key, sizeof key);
    int seen = 0;
    for (int k = 0; k < ndone; k++) seen |= !strcmp(done[k], key);
    if (seen || ndone == 16) { free(cfg); continue; }
    snprintf(done[ndone++], sizeof done[0], "%s", key);
    Calibration c = {0};
    snprintf(c.host, sizeof c.host, "%s", m.host);
    time_t now = time(NULL);
    strftime(c.measured, sizeof c.measured, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    char label[1024];
    run_label(&s, &s.runs[i], label, sizeof label);
    if (measure(cfg, steps, &c, e) || calibration_store(key, &c, e)) rc = EXIT_ERROR;
    else printf("%s: %.4f s per training step (mean of %d), %.3f s per evaluation\n", label, c.step_s, c.steps_timed,
                c.eval_s);
    free(cfg);
  }
  if (ndone == 16) printf("# (the first 16 distinct run shapes were timed)\n");
  sweep_free(&s);
  return rc;
}
