/* Step-time calibrations, measured by `bertsweep bench` on a node and read by `bertsweep plan`
   for its time estimates. One JSON object per key in BERTSWEEP_CALIBRATION, else
   $HOME/.cache/bertsweep/calibration.json; the key names everything the times depend on: CPU
   model, BLAS kernel, threads, model shape, batch size, sequence length, data files and dev
   subset size. */
#ifndef BS_CALIBRATION_H
#define BS_CALIBRATION_H
#include <stddef.h>
#include "io/runconfig.h"
#include "src/bert.h"
#include "src/err.h"
#include "src/machine.h"

typedef struct {
  double step_s;   /* one training step (forward, backward, clipping, optimizer) */
  double eval_s;   /* one evaluation of the dev (sub)set */
  int steps_timed; /* how many steps step_s is the mean of */
  char host[64], measured[32];
} Calibration;

void calibration_key(const MachineInfo *m, int threads, const BertConfig *b, const RunConfig *c, char *out,
                     size_t size);
/* The file's path; -1 (e set) when neither variable is set. */
int calibration_path(char *out, size_t size, Err *e);
/* The whole file, read once (an empty set when there is none); NULL with e set when damaged. */
void *calibration_open(Err *e);
void calibration_close(void *all);
/* 1 and *c when key is calibrated in all, else 0. */
int calibration_find(const void *all, const char *key, Calibration *c);
/* Adds or replaces the key's entry (atomic rewrite of the file, under a lock on FILE.lock, so
   that concurrent stores from many nodes keep every entry). */
int calibration_store(const char *key, const Calibration *c, Err *e);

#endif
