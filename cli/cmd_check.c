/* `bertsweep check FILE [--salvage OUT]` and `bertsweep schema`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/fileutil.h"
#include "io/lockfile.h"
#include "io/results_check.h"
#include "io/results_schema.h"
#include "cli/commands.h"

static const char *CHECK_USAGE =
    "usage: bertsweep check FILE.h5\n"
    "       bertsweep check --salvage FILE.h5 OUT.h5\n"
    "  Reads every dataset and live checkpoint of a results file and checks that rows, metrics\n"
    "  and checkpoint states agree; exits 0 when no damage is found, 1 otherwise, 6 when a running\n"
    "  sweep holds the file (FILE.h5.lock) and the file cannot be judged while it changes.\n"
    "  --salvage  copy everything still readable in FILE.h5 into a new file OUT.h5 that a resume\n"
    "             accepts (unreadable runs become pending, checkpoints that fail their checksum\n"
    "             are dropped); also converts files of older bertsweep versions.\n";

int cmd_check(int argc, char **argv, Err *e) {
  const char *path = NULL, *salvage = NULL;
  int salvaging = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { fputs(CHECK_USAGE, stdout); return EXIT_OK; }
    if (strcmp(argv[i], "--salvage") == 0) salvaging = 1;
    else if (argv[i][0] == '-') return usage_error(e, "check", "unknown option %s", argv[i]);
    else if (!path) path = argv[i];
    else if (salvaging && !salvage) salvage = argv[i];
    else return usage_error(e, "check", "too many files");
  }
  if (!path) return usage_error(e, "check", "which results file?");
  if (salvaging != (salvage != NULL)) return usage_error(e, "check", "--salvage FILE.h5 needs the new file's name too");
  char target[4096]; /* a link to scratch: the lock lies beside the file it names, as the sweep put it */
  snprintf(target, sizeof target, "%s", path);
  if (follow_links(target, sizeof target, e) < 0) return EXIT_ERROR;
  path = target;
  char who[800];
  if (lock_live(path, who, sizeof who)) { /* a file mid-write: a row can lag the checkpoint being committed */
    errf(e, "%s: a sweep is writing it (%s); check it when that sweep has stopped (`bertsweep stop %s`), or, if it "
            "is gone, remove %s.lock",
         path, who, path, path);
    return EXIT_BUSY;
  }
  if (salvage) {
    if (path_exists(salvage)) { errf(e, "%s: already exists (salvage writes a new file)", salvage); return EXIT_ERROR; }
    return results_salvage(path, salvage, stdout, e) ? EXIT_ERROR : EXIT_OK;
  }
  CheckSummary sum;
  int n = results_check(path, stdout, &sum, e);
  if (n < 0) return EXIT_ERROR;
  if (n > 0) {
    errf(e, "%s: %d problem%s found; `bertsweep check --salvage %s NEW.h5` copies what is readable", path, n,
         n == 1 ? "" : "s", path);
    return EXIT_ERROR;
  }
  return EXIT_OK;
}
