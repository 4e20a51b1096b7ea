#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static void sleep_env(const char *name) {
  const char *v = getenv(name);
  double s = v ? atof(v) : 0;
  if (!(s > 0 && s < 3600)) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {} /* a signal: sleep the rest */
}

void fault_step_delay(void) { sleep_env("BERTSWEEP_STEP_DELAY"); }
void fault_eval_delay(void) { sleep_env("BERTSWEEP_EVAL_DELAY"); }
