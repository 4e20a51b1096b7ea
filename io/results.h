/* The results file (DESIGN.md §5): one HDF5 file per sweep, written in parallel over MPI-IO.
   The whole layout is created collectively at the start; afterwards each rank writes only
   raw data of its own runs, independently, into chunks of one run each. */
#ifndef BS_RESULTS_H
#define BS_RESULTS_H
#include <hdf5.h>
#include <mpi.h>
#include "src/err.h"

enum { COL_BOOL = 0, COL_INT = 1, COL_FLOAT = 2, COL_STR = 3 };
#define RESULTS_MAX_COLS 16

typedef struct {
  char name[128]; /* the dotted grid key */
  int type;       /* COL_* */
  int strsize;    /* bytes, COL_STR only */
} ResultsColumn;

typedef struct {
  int nruns;
  long max_steps;
  int max_evals;
  int ncols;
  ResultsColumn cols[RESULTS_MAX_COLS];
} ResultsLayout;

/* One run's row in /runs, as it is initialised and updated. */
typedef struct {
  int run_id, seed, rank;
  const char *const *values; /* [ncols] grid values as JSON text (create only) */
  long total_steps, steps_done, best_step;
  const char *status;        /* pending, running, done, failed */
  double best_acc, final_acc, final_loss, wall_seconds;
} RunRow;

typedef struct {
  hid_t file;
  hid_t runs, run_type;
  hid_t loss, lr, gnorm, acc, eloss, f1, estep;
  ResultsLayout lay;
  size_t row_size, col_off[RESULTS_MAX_COLS];
  unsigned char *rows; /* [nruns * row_size]: the table as this rank knows it */
} Results;

/* Collective. Creates path (never overwriting: fails if it exists) via path.partial + rename. */
int results_create(Results *r, const char *path, MPI_Comm comm, const ResultsLayout *lay, const RunRow *rows,
                   const char *const *run_configs, const char *sweep_json, const char *config_path, Err *e);
/* Collective. */
int results_close(Results *r, Err *e);

/* Independent: this rank's run only. step0 is 0-based; n consecutive steps. */
int results_write_steps(Results *r, int run, long step0, int n, const float *loss, const float *lr,
                        const float *gnorm, Err *e);
int results_write_evals(Results *r, int run, int idx0, int n, const long *step, const float *acc,
                        const float *loss, const float *f1, Err *e);
int results_write_row(Results *r, const RunRow *row, Err *e);

/* Serial, after results_close on every rank: dimension scales for h5netcdf/xarray. */
int results_attach_scales(const char *path, Err *e);

/* Message of the innermost HDF5 error on the stack, for error contexts. */
void h5_error_message(char *out, size_t size);

#endif
