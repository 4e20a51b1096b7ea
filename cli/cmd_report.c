/* `bertsweep report FILE.h5`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "report/report.h"

int cmd_report(int argc, char **argv, Err *e) {
  const char *path = NULL;
  ReportOptions o = {FMT_TABLE, NAN, 0.9, 10, 10000};
  for (int i = 0; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (k[0] != '-') { path = k; continue; }
    if (!v) { errf(e, "report: %s needs a value", k); return EXIT_USAGE; }
    i++;
    if (!strcmp(k, "--format")) {
      o.format = !strcmp(v, "table") ? FMT_TABLE : !strcmp(v, "csv") ? FMT_CSV : !strcmp(v, "json") ? FMT_JSON
               : !strcmp(v, "markdown") ? FMT_MARKDOWN : -1;
      if (o.format < 0) { errf(e, "report: --format must be table, csv, json or markdown"); return EXIT_USAGE; }
    } else if (!strcmp(k, "--loss-threshold")) o.loss_threshold = atof(v);
    else if (!strcmp(k, "--acc-fraction")) o.acc_fraction = atof(v);
    else if (!strcmp(k, "--smooth")) o.smooth = atoi(v);
    else if (!strcmp(k, "--bootstrap")) o.bootstrap = atoi(v);
    else { errf(e, "report: unknown option %s", k); return EXIT_USAGE; }
  }
  if (!path) {
    errf(e, "usage: bertsweep report FILE.h5 [--format table|csv|json|markdown] [--loss-threshold X] "
            "[--acc-fraction 0.9] [--smooth 10] [--bootstrap 10000]");
    return EXIT_USAGE;
  }
  if (o.smooth < 1 || o.bootstrap < 100 || !(o.acc_fraction > 0 && o.acc_fraction <= 1)) {
    errf(e, "report: --smooth >= 1, --bootstrap >= 100, 0 < --acc-fraction <= 1");
    return EXIT_USAGE;
  }
  ResultsData d;
  if (results_load(path, &d, e)) return EXIT_ERROR;
  int rc = report_write(path, &d, &o, stdout, e);
  results_data_free(&d);
  return rc ? EXIT_ERROR : EXIT_OK;
}
