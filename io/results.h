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
  int nslots;      /* checkpoint slots */
  long slot_size;  /* floats per parameter set in a slot (0: no checkpoints) */
  long final_size; /* floats per run in /final_weights (0: no run saves its final weights) */
  const char *final_layout; /* JSON: the tensors' names, shapes and offsets in a row */
} ResultsLayout;

/* A checkpoint slot's state, stored as raw float64 data so that it can be written
   independently: which run, after how many updates, and which half holds the data. */
typedef struct {
  double run, step, opt_t, half, best_acc, best_step, final_acc, final_loss;
} SlotState;
#define SLOT_EMPTY (-1.0)

/* One run's row in /runs, as it is initialised and updated. */
typedef struct {
  int run_id, seed, rank;
  const char *const *values; /* [ncols] grid values as JSON text (create only) */
  long total_steps, steps_done, best_step;
  const char *status;        /* pending, running, done, failed */
  double best_acc, final_acc, final_loss, wall_seconds;
  double majority; /* dev accuracy of always predicting the most frequent label */
} RunRow;

typedef struct {
  hid_t file;
  hid_t runs, run_type;
  hid_t loss, lr, gnorm, acc, eloss, f1, estep;
  hid_t *slot_params, *slot_m, *slot_v, *slot_state; /* [nslots] */
  hid_t final; /* /final_weights or -1 */
  ResultsLayout lay;
  size_t row_size, col_off[RESULTS_MAX_COLS];
  unsigned char *rows; /* [nruns * row_size]: the table as this rank knows it */
} Results;

/* Collective. Creates path (never overwriting: fails if it exists) via path.partial + rename. */
int results_create(Results *r, const char *path, MPI_Comm comm, const ResultsLayout *lay, const RunRow *rows,
                   const char *const *run_configs, const char *sweep_json, const char *config_path, Err *e);
/* What a resume needs to know of an existing file; read serially by every rank. */
typedef struct {
  char *sweep_json;
  int nruns;
  char **run_configs; /* [nruns] */
  char (*status)[8];  /* [nruns] */
  long *steps_done;   /* [nruns] */
  ResultsLayout lay;
  SlotState *slots;   /* [lay.nslots] */
} ResultsInfo;
int results_inspect(const char *path, ResultsInfo *info, Err *e);
void results_info_free(ResultsInfo *info);

/* Collective. Opens an existing file for writing and grows it to lay (more runs, longer
   runs, more slots); new rows are initialised from rows[old_n..] and run_configs. */
int results_open(Results *r, const char *path, MPI_Comm comm, const ResultsLayout *lay, const RunRow *rows,
                 const char *const *run_configs, const char *sweep_json, Err *e);
/* Collective. */
int results_close(Results *r, Err *e);

/* Checkpoints (independent). A checkpoint writes the parameter sets into the half of the slot
   that the state does not name, then the state: a kill in between leaves the old one valid. */
int results_ckpt_write_data(Results *r, int slot, int half, const float *params, const float *m, const float *v,
                            long n, Err *e);
int results_ckpt_write_state(Results *r, int slot, const SlotState *st, Err *e);
int results_ckpt_state(Results *r, int slot, SlotState *st, Err *e);
int results_ckpt_read(Results *r, int slot, float *params, float *m, float *v, long n, SlotState *st, Err *e);
int results_slot_clear(Results *r, int slot, Err *e);
/* A finished run's parameters into its row of /final_weights (independent). */
int results_write_final(Results *r, int row, const float *params, long n, Err *e);

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
