/* The progress line's formatting: durations rounded to whole seconds before they are split
   (239.7 s is 4m00s, never 3m60s), a run named by its row, "starting" before its first step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sweep/progress.h"
#include "check.h"

static void duration(double s, const char *want) {
  char got[32];
  progress_duration(got, sizeof got, s);
  CHECK(strcmp(got, want) == 0, "%.2f s: \"%s\", want \"%s\"", s, got, want);
}

int main(void) {
  duration(0, "0s");
  duration(59.4, "59s");
  duration(89.4, "89s");
  duration(89.6, "1m30s");
  duration(239.7, "4m00s");
  duration(119.5, "2m00s");
  duration(3599.6, "60m00s");
  duration(125.2, "2m05s");
  duration(5400, "1.5h");
  duration(-1, "?");
  duration(1e9, "?");

  /* two ranks: rank 0 on the run planned first (row 3), rank 1 on the one planned second (row 1) */
  PlannedRun runs[2];
  memset(runs, 0, sizeof runs);
  runs[0].row = 3, runs[0].total_steps = 50;
  runs[1].row = 1, runs[1].total_steps = 40;
  Sweep s;
  memset(&s, 0, sizeof s);
  s.runs = runs;
  s.nruns = 2;
  Progress p;
  Err e = {{0}, 0};
  CHECK(progress_init(&p, &s, 2, &e) == 0, "progress_init: %s", e.msg);
  progress_start(&p, 0, 0);
  progress_step(&p, 1, 1, 7, 0.5);
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  progress_print(&p, out);
  fclose(out);
  CHECK(strstr(text, " | r0 run 3 starting") != NULL, "a run before its first step: %s", text);
  CHECK(strstr(text, " | r1 run 1 7/40 loss 0.5000") != NULL, "a run by its row: %s", text);
  CHECK(strstr(text, "loss 0.0000") == NULL, "no loss before a step: %s", text);
  free(text);
  progress_free(&p);
  return check_done();
}
