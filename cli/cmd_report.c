/* `bertsweep report FILE.h5 [FILE.h5 ...]`. */
#include <stdio.h>
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
    "                      html: one self-contained page (plots, verdicts, tables, runs; nothing fetched)\n";
static const char *REPORT_STATISTICS =
    "  Statistics: one primary outcome per comparison (steps until an isotonic fit of the training\n"
    "  loss crosses the target), the rest secondary; exact Wilcoxon signed-rank p (paired by seed,\n"
    "  Pratt's zeros), Hodges-Lehmann shift with the 95% interval of the shifts the test accepts.\n"
    "  One 5% family-wise error for every verdict of the report: Holm over the primary tests that can\n"
    "  reach it (Tarone), the secondary ones only when every primary is decided (else exploratory).\n"
    "  Power by simulating that test (fixed seed). A verdict needs an adjusted p <= 0.05.\n";

static int option(ReportOptions *o, const char *k, const char *v, Err *e) {
  if (!strcmp(k, "--format")) {
    int f = v ? report_format_parse(v) : -1;
    if (f < 0) {
      char names[128];
      size_t len = 0;
      for (int i = 0; i < NREPORT_FORMATS; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? i + 1 < NREPORT_FORMATS ? ", " : " or " : "",
                                report_format_name((ReportFormat)i));
      return errf(e, "report: --format is %s", names);
    }
    o->format = (ReportFormat)f;
    return 0;
  }
  int rc = report_option_flag(o, k, v, e);
  if (rc > 0) usage_error(e, "report", "unknown option %s", k);
  return rc ? -1 : 0;
}

static void usage(FILE *out) {
  fputs(REPORT_USAGE, out);
  report_options_help(out);
  fputs(REPORT_STATISTICS, out);
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
      usage(stdout);
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
