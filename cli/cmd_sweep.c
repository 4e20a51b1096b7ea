/* `bertsweep sweep CONFIG`: the sweep under MPI (mpi/sweep_main.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "io/calibration.h"
#include "mpi/sweep.h"
#include "report/report.h"
#include "sweep/signals.h"
#include "sweep/sweep_file.h"

int cmd_sweep(int argc, char **argv, Err *e) {
  signals_install(); /* first: a stop signal in the first second must not kill the ranks */
  SweepArgs a = {.progress_every = 2.0, .check_config = report_check_config};
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) a.output = argv[++i];
    else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc) {
      char *end;
      a.progress_every = strtod(argv[++i], &end);
      if (end == argv[i] || *end || !(a.progress_every >= 0 && a.progress_every <= 1e6)) {
        errf(e, "sweep: --progress needs seconds >= 0, not \"%s\"", argv[i]);
        return EXIT_USAGE;
      }
    }
    else if (strcmp(argv[i], "--restart") == 0) a.restart = 1;
    else if (argv[i][0] == '-') { errf(e, "sweep: unknown option %s", argv[i]); return EXIT_USAGE; }
    else a.config = argv[i];
  }
  if (!a.config) {
    errf(e, "usage: bertsweep sweep CONFIG.json [--output FILE] [--restart] [--progress SECONDS]");
    return EXIT_USAGE;
  }
  return sweep_mpi(&a, e);
}
