/* Reading a results file for analysis (serially, any time: a sweep still running needs
   HDF5_USE_FILE_LOCKING=FALSE in the environment). */
#ifndef BS_RESULTS_READ_H
#define BS_RESULTS_READ_H
#include "io/results.h"

typedef struct {
  int nruns, ncols;
  long max_steps;
  int max_evals;
  char colname[RESULTS_MAX_COLS][128];
  char ***values;     /* [nruns][ncols] grid values as text */
  int *seed;
  char (*status)[8];
  long *total_steps, *steps_done;
  double *best_acc, *final_acc, *majority;
  float *loss;        /* [nruns * max_steps] */
  float *acc;         /* [nruns * max_evals] */
  long *estep;        /* [nruns * max_evals], -1 where none */
} ResultsData;

int results_load(const char *path, ResultsData *d, Err *e);
void results_data_free(ResultsData *d);

#endif
