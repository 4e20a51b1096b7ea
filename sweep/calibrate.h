/* Timing a sweep's run shapes on this node: a training step (the mean of `steps` after two
   warm-up steps) and one dev evaluation of each distinct shape (model, batch, sequence length,
   data, threads: io/calibration.h's key), stored as calibrations for `plan`. `bench` calls it
   with many steps; `plan` with a few when no calibration matches yet. */
#ifndef BS_CALIBRATE_H
#define BS_CALIBRATE_H
#include <stdio.h>
#include "sweep/grid.h"

enum { CALIBRATE_MAX_SHAPES = 16 };

/* Times every distinct shape of s at the current OpenMP thread count; a line per shape to log
   (NULL: none). Returns how many shapes were timed, -1 on error. */
int sweep_calibrate(const Sweep *s, int steps, FILE *log, Err *e);

/* One rank of a layout probe (`plan --layout`): opens the first run, takes two warm-up steps,
   writes "ready" to out, waits for a line on in (every rank of the layout is then warm), times
   `steps` steps and writes "step SECONDS rss_kb PEAK_KB". Returns 0, or -1 with e set. */
int sweep_probe(const Sweep *s, int steps, FILE *in, FILE *out, Err *e);

#endif
