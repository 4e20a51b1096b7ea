/* `bertsweep bench CONFIG`: times a training step and a dev evaluation of each distinct run
   shape of a sweep on this node and stores them as calibrations for `bertsweep plan`. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "io/calibration.h"
#include "sweep/calibrate.h"
#include "sweep/grid.h"

int cmd_bench(int argc, char **argv, Err *e) {
  const char *config = NULL;
  int steps = 20, threads = 0, probe = 0;
  for (int i = 0; i < argc; i++) {
    char *end = NULL;
    if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = (int)strtol(argv[++i], &end, 10);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = (int)strtol(argv[++i], &end, 10);
    else if (!strcmp(argv[i], "--probe")) probe = 1; /* one rank of `plan --layout` */
    else if (argv[i][0] == '-') return usage_error(e, "bench", "unknown option %s", argv[i]);
    else config = argv[i];
    if (end && (*end || steps < 1 || threads < 0)) { errf(e, "bench: %s needs a positive number", argv[i - 1]); return EXIT_USAGE; }
  }
  if (!config) { errf(e, "usage: bertsweep bench CONFIG.json [--steps 20] [--threads N]"); return EXIT_USAGE; }
  if (threads > 0) omp_set_num_threads(threads);
  threads = omp_get_max_threads();
  Sweep s;
  if (sweep_load(&s, config, NULL, e)) return EXIT_ERROR;
  if (probe) {
    int rc = sweep_probe(&s, steps, stdin, stdout, e) ? EXIT_ERROR : EXIT_OK;
    sweep_free(&s);
    return rc;
  }
  MachineInfo m;
  machine_describe(&m);
  char path[4096];
  if (calibration_path(path, sizeof path, e)) { sweep_free(&s); return EXIT_ERROR; }
  void *existing = calibration_open(e); /* a damaged file is said now, not after every timing */
  if (!existing) { sweep_free(&s); return EXIT_ERROR; }
  calibration_close(existing);
  printf("# bench on %s: %s, %s, %d thread(s); calibrations go to %s\n", m.host, m.cpu, m.blas, threads, path);
  char advice[512];
  if (machine_blas_advice(advice, sizeof advice)) fprintf(stderr, "bertsweep: warning: %s\n", advice);
  int rc = sweep_calibrate(&s, steps, stdout, e) < 0 ? EXIT_ERROR : EXIT_OK;
  sweep_free(&s);
  return rc;
}
