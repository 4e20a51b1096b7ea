/* `bertsweep sweep CONFIG`: the sweep under MPI (mpi/sweep_main.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "io/fileutil.h"
#include "io/calibration.h"
#include "mpi/sweep.h"
#include "report/report.h"
#include "sweep/env.h"
#include "sweep/signals.h"
#include "sweep/sweep_file.h"

/* The live page: the report as html into memory, then written whole and renamed into place
   (a browser never reads half a page). */
static int write_page(const char *results, const char *html, double refresh, Err *e) {
  ReportOptions o;
  report_defaults(&o);
  o.format = REPORT_HTML;
  o.refresh = refresh;
  char *buf = NULL;
  size_t size = 0;
  FILE *mem = open_memstream(&buf, &size);
  if (!mem) return errf(e, "out of memory");
  const char *paths[1] = {results};
  int rc = report_write(paths, 1, &o, mem, e);
  if (fclose(mem) != 0 && !rc) rc = errf(e, "out of memory");
  if (!rc) rc = write_file_atomic(html, buf, size, e);
  free(buf);
  return rc;
}

static const char *SWEEP_USAGE =
    "usage: mpirun -np N bertsweep sweep CONFIG.json [--output FILE] [--restart] [--progress SECONDS]\n"
              "       [--html FILE|auto]\n"
              "  Every run of the config into one HDF5 results file; rerunning resumes.\n"
              "  --output FILE       the results file (default: the config's \"output\")\n"
              "  --restart           move an existing results file aside (FILE.replaced-DATE) and start over\n"
              "  --progress SECONDS  a progress line on rank 0 this often (default 2; 0: none)\n"
              "  --html FILE|auto    a live report page (auto: FILE.h5.html beside the results), rewritten\n"
              "                      every max(10 s, --progress) while the sweep runs; it reloads itself\n";

int cmd_sweep(int argc, char **argv, Err *e) {
  if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
    fputs(SWEEP_USAGE, stdout);
    sweep_env_help(stdout);
    return EXIT_OK;
  }
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
    else if (strcmp(argv[i], "--html") == 0 && i + 1 < argc) {
      a.html = argv[++i];
      a.write_page = write_page;
    }
    else if (argv[i][0] == '-') return usage_error(e, "sweep", "unknown option %s", argv[i]);
    else a.config = argv[i];
  }
  if (!a.config) return usage_error(e, "sweep", "which config? (usage: bertsweep sweep CONFIG.json [options])");
  return sweep_mpi(&a, e);
}
