#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "src/fault.h"

static int parse(char *kind, long *a, long *b) {
  const char *v = getenv("BERTSWEEP_FAULT");
  if (!v || !v[0]) return 0;
  return sscanf(v, "%15[a-z]:%ld:%ld", kind, a, b) == 3 ? 1 : -1;
}

int fault_hit(const char *kind, long a, long b) {
  char k[16];
  long fa, fb;
  return parse(k, &fa, &fb) == 1 && strcmp(k, kind) == 0 && fa == a && fb == b;
}

void fault_kill(const char *kind, long a, long b) {
  if (fault_hit(kind, a, b)) raise(SIGKILL);
}

int fault_check_env(void) {
  char k[16];
  long a, b;
  return parse(k, &a, &b) < 0 ? -1 : 0;
}
