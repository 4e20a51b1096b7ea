/* One style for every subcommand's usage errors: one line, then where the help is. */
#include <stdarg.h>
#include <stdio.h>
#include "cli/commands.h"

int usage_error(Err *e, const char *cmd, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  errf(e, "%s: %s; see bertsweep %s --help", cmd, msg, cmd);
  return EXIT_USAGE;
}
