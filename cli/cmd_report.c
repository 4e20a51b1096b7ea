/* `bertsweep report FILE.h5 [FILE.h5 ...]`. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "report/report.h"

static const char *REPORT_USAGE =
    "usage: bertsweep report FILE.h5 [FILE.h5 ...] [options]\n"
    "  Groups each file's runs by their grid values; compares groups that differ in one key, run\n"
    "  against run (paired by seed), and says in words what the data support.\n"
    "  --format table|markdown|json|csv  output (default table)\n"
    "  --loss-target X     training loss that counts as converged (default: per comparison, midway\n"
    "                      between the two groups' initial and final loss)\n"
    "  --acc-target X      dev accuracy that counts as learned (default: per comparison, the majority\n"
    "                      baseline plus --acc-fraction of the way to the better group's best accuracy)\n"
    "  --acc-fraction F    for the default accuracy target (default 0.9)\n"
    "  --smooth N          moving-average window of the loss, in steps (default 10)\n"
    "  --bootstrap N       resamples for the 95% intervals (default 10000)\n"
    "  A sweep config's \"report\" section (loss_target, acc_target, acc_fraction, smooth, bootstrap,\n"
    "  label) sets the same for its file; the command line wins.\n";

static int number(const char *opt, const char *v, double lo, double hi, double *out, Err *e) {
  char *end = NULL;
  errno = 0;
  double x = v ? strtod(v, &end) : NAN;
  if (!v || end == v || *end || errno || !(x >= lo && x <= hi))
    return errf(e, "report: %s needs a number in [%g, %g], not \"%s\"", opt, lo, hi, v ? v : "");
  *out = x;
  return 0;
}

static int option(ReportOptions *o, const char *k, const char *v, Err *e) {
  double x = 0;
  if (!strcmp(k, "--format")) {
    o->format = !v ? -1 : !strcmp(v, "table") ? FMT_TABLE : !strcmp(v, "csv") ? FMT_CSV : !strcmp(v, "json") ? FMT_JSON
              : !strcmp(v, "markdown") ? FMT_MARKDOWN : -1;
    return o->format < 0 ? errf(e, "report: --format is table, markdown, json or csv") : 0;
  }
  if (!strcmp(k, "--loss-target")) { o->set |= SET_LOSS; return number(k, v, 0, 1e9, &o->a.loss_target, e); }
  if (!strcmp(k, "--acc-target")) { o->set |= SET_ACC; return number(k, v, 0, 1, &o->a.acc_target, e); }
  if (!strcmp(k, "--acc-fraction")) { o->set |= SET_FRACTION; return number(k, v, 1e-9, 1, &o->a.acc_fraction, e); }
  if (!strcmp(k, "--smooth") || !strcmp(k, "--bootstrap")) {
    int smooth = !strcmp(k, "--smooth");
    if (number(k, v, smooth ? 1 : 100, 1e6, &x, e)) return -1;
    if (x != floor(x)) return errf(e, "report: %s needs a whole number, not \"%s\"", k, v);
    o->set |= smooth ? SET_SMOOTH : SET_BOOTSTRAP;
    *(smooth ? &o->a.smooth : &o->a.bootstrap) = (int)x;
    return 0;
  }
  return errf(e, "report: unknown option %s\n%s", k, REPORT_USAGE);
}

int cmd_report(int argc, char **argv, Err *e) {
  const char **paths = calloc((size_t)argc + 1, sizeof(char *));
  if (!paths) {
    errf(e, "out of memory");
    return EXIT_ERROR;
  }
  int n = 0, code = EXIT_OK;
  ReportOptions o;
  report_defaults(&o);
  for (int i = 0; i < argc && code == EXIT_OK; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(REPORT_USAGE, stdout);
      free(paths);
      return EXIT_OK;
    }
    if (argv[i][0] != '-') paths[n++] = argv[i];
    else if (option(&o, argv[i], i + 1 < argc ? argv[i + 1] : NULL, e)) code = EXIT_USAGE;
    else i++;
  }
  if (code == EXIT_OK && n == 0) {
    errf(e, "%s", REPORT_USAGE);
    code = EXIT_USAGE;
  }
  if (code == EXIT_OK && report_write(paths, n, &o, stdout, e)) code = EXIT_ERROR;
  free(paths);
  return code;
}
