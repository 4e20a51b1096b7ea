#include <omp.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "io/calibration.h"
#include "jobs/job.h"
#include "src/clock.h"
#include "src/machine.h"
#include "sweep/calibrate.h"

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

int sweep_probe(const Sweep *s, int steps, FILE *in, FILE *out, Err *e) {
  RunConfig *cfg = malloc(sizeof *cfg);
  Job j;
  if (!cfg) return errf(e, "out of memory");
  int rc = sweep_run_config(s, &s->runs[0], cfg, e) || job_open(&j, cfg, e) ? -1 : 0;
  free(cfg);
  if (rc) return -1;
  StepMetrics sm;
  for (int k = 0; k < 2 && !job_finished(&j); k++) job_step(&j, &sm);
  char line[16];
  fprintf(out, "ready\n");
  fflush(out);
  if (!fgets(line, sizeof line, in)) rc = errf(e, "probe: no start signal");
  int n = 0;
  double t0 = clock_seconds();
  for (; !rc && n < steps && !job_finished(&j); n++) job_step(&j, &sm);
  double t1 = clock_seconds();
  job_close(&j);
  if (!rc && n == 0) rc = errf(e, "probe: the run has too few steps to time (needs more than 2)");
  struct rusage ru;
  long rss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0; /* kB: the model, its optimizer, a step */
  if (!rc) fprintf(out, "step %.6f rss_kb %ld\n", (t1 - t0) / n, rss);
  return rc;
}

int sweep_calibrate(const Sweep *s, int steps, FILE *log, Err *e) {
  MachineInfo m;
  machine_describe(&m);
  const int threads = omp_get_max_threads();
  char done[CALIBRATE_MAX_SHAPES][1024], key[1024];
  int ndone = 0;
  for (int i = 0; i < s->nruns; i++) {
    RunConfig *cfg = malloc(sizeof *cfg);
    if (!cfg) return errf(e, "out of memory");
    if (sweep_run_config(s, &s->runs[i], cfg, e)) {
      free(cfg);
      return -1;
    }
    calibration_key(&m, threads, &s->runs[i].model, cfg, key, sizeof key);
    int seen = 0;
    for (int k = 0; k < ndone; k++) seen |= !strcmp(done[k], key);
    if (seen || ndone == CALIBRATE_MAX_SHAPES) {
      free(cfg);
      continue;
    }
    snprintf(done[ndone++], sizeof done[0], "%s", key);
    Calibration c = {0};
    snprintf(c.host, sizeof c.host, "%s", m.host);
    time_t now = time(NULL);
    strftime(c.measured, sizeof c.measured, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    int rc = measure(cfg, steps, &c, e) || calibration_store(key, &c, e);
    free(cfg);
    if (rc) return -1;
    if (log) {
      char label[1024];
      run_label(s, &s->runs[i], label, sizeof label);
      fprintf(log, "%s: %.4f s per training step (mean of %d), %.3f s per evaluation\n", label, c.step_s, c.steps_timed,
              c.eval_s);
    }
  }
  if (ndone == CALIBRATE_MAX_SHAPES && log) fprintf(log, "# (the first %d distinct run shapes were timed)\n", ndone);
  return ndone;
}
