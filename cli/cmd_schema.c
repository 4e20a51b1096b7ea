/* `bertsweep schema`: every dataset and column of the results file, from the schema table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/fileutil.h"
#include "io/lockfile.h"
#include "io/results_check.h"
#include "io/results_schema.h"
#include "cli/commands.h"

int cmd_schema(int argc, char **argv, Err *e) {
  const char *format = "markdown";
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) format = argv[++i];
    else { errf(e, "usage: bertsweep schema [--format markdown|json]"); return EXIT_USAGE; }
  }
  if (strcmp(format, "markdown") != 0 && strcmp(format, "json") != 0) {
    errf(e, "schema: --format is markdown or json, not \"%s\"", format);
    return EXIT_USAGE;
  }
  char *text = results_schema_text(format);
  if (!text) { errf(e, "out of memory"); return EXIT_ERROR; }
  fputs(text, stdout);
  if (text[strlen(text) - 1] != '\n') fputc('\n', stdout);
  free(text);
  return EXIT_OK;
}
