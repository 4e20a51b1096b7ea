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
    "  --format table|markdown|json|csv|runs-csv|html  output (default table); csv: one row per group\n"
    "                      statistic, comparison outcome and correlation; runs-csv: one row per run with\n"
    "                      its grid values, resolved config and per-run statistics (for pandas and R);\n"
    "                      html: one self-contained page (plots, verdicts, tables, runs; nothing fetched)\n"
    "  --loss-target X     training loss that counts as converged (default: per comparison, midway\n"
    "                      between the two groups' initial and final loss)\n"
    "  --acc-target X      dev accuracy that counts as learned (default: per comparison, the majority\n"
    "                      baseline plus --acc-fraction of the way to the better group's best accuracy)\n"
    "  --acc-fraction F    for the default accuracy target (default 0.9)\n"
    "  --smooth N          moving-average window of the loss for the steadiness windows, in steps\n"
    "                      (default 10; speed reads an isotonic fit, no window)\n"
    "  --effect STEPS      the primary difference to plan seeds for: the report prints how many pairs\n"
    "                      detect it 80% of the time (default: none; the table of detectable shifts)\n"
    "  A sweep config's \"report\" section (loss_target, acc_target, acc_fraction, smooth, effect, label)\n"
    "  sets the same for its file; the command line wins.\n"
    "  Statistics: one primary outcome per comparison (steps until an isotonic fit of the training\n"
    "  loss crosses the target), the rest secondary; exact Wilcoxon signed-rank p (paired by seed,\n"
    "  Pratt's zeros), Hodges-Lehmann shift with the 95% interval of the shifts the test accepts.\n"
    "  One 5% family-wise error for every verdict of the report: Holm over the primary tests that can\n"
    "  reach it (Tarone), the secondary ones only when every primary is decided (else exploratory).\n"
    "  Power by simulating that test (fixed seed). A verdict needs an adjusted p <= 0.05.\n";

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
    for (int f = 0; f < NREPORT_FORMATS; f++)
      if (v && !strcmp(v, REPORT_FORMAT_NAME[f])) {
        o->format = (ReportFormat)f;
        return 0;
      }
    return errf(e, "report: --format is table, markdown, json, csv, runs-csv or html");
  }
  if (!strcmp(k, "--loss-target")) { o->set |= SET_LOSS; return number(k, v, 0, 1e9, &o->a.loss_target, e); }
  if (!strcmp(k, "--acc-target")) { o->set |= SET_ACC; return number(k, v, 0, 1, &o->a.acc_target, e); }
  if (!strcmp(k, "--acc-fraction")) { o->set |= SET_FRACTION; return number(k, v, 1e-9, 1, &o->a.acc_fraction, e); }
  if (!strcmp(k, "--effect")) { o->set |= SET_EFFECT; return number(k, v, 1e-9, 1e12, &o->a.effect, e); }
  if (!strcmp(k, "--smooth")) {
    if (number(k, v, 1, 1e6, &x, e)) return -1;
    if (x != floor(x)) return errf(e, "report: %s needs a whole number, not \"%s\"", k, v);
    o->set |= SET_SMOOTH;
    o->a.smooth = (int)x;
    return 0;
  }
  usage_error(e, "report", "unknown option %s", k);
  return -1;
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
