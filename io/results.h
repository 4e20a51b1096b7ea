/* The results file: one HDF5 file per sweep.

   Its metadata never changes in place. results_build writes a complete file (every dataset
   at full size, raw data initialised, dimension scales attached, disk space reserved) as
   PATH.partial, flushes it and renames it over PATH, copying what an existing file holds;
   a kill at any moment leaves either the old file or the new one. Afterwards the ranks open
   it together (results_open) and write only raw data into the space allocated up front:
   metric rows, /runs rows and checkpoint slots, each rank its own runs, independently. */
#ifndef BS_RESULTS_H
#define BS_RESULTS_H
#include <hdf5.h>
#include <mpi.h>
#include "io/results_schema.h"
#include "src/err.h"

#define RESULTS_MAX_COLS 16

typedef struct {
  char name[128]; /* the dotted grid key */
  ValueType type; /* VT_BOOL, VT_I64, VT_F64 or VT_STR */
  int strsize;    /* bytes, VT_STR only */
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

/* A checkpoint slot's state (SS_* indexes): which run, after how many updates, which half
   holds the data, and the CRC-32 of that data. SS_RUN < 0: empty. */
typedef struct {
  double v[NSLOTSTATE];
} SlotState;
#define SLOT_EMPTY (-1.0)

/* One run's row in /runs, as it is initialised and updated. */
typedef struct {
  int run_id, seed, rank;
  const char *const *values; /* [ncols] grid values as JSON text (new rows only) */
  long total_steps, steps_done, best_step;
  RunStatus status;
  const char *error;         /* why a failed run failed (NULL: empty) */
  double best_acc, final_acc, final_loss, wall_seconds;
  double majority; /* dev accuracy of always predicting the most frequent label */
  double bow;      /* dev accuracy of the bag-of-words baseline */
  const char *initialised; /* tensors initialised rather than loaded (NULL: empty) */
  double unk_rate; /* share of the training set's text tokens that are [UNK] */
  int labels;      /* the task's number of labels (0: not known yet) */
  const char *host, *cpu, *blas, *libs; /* provenance (NULL: empty) */
  int threads;
  double started, finished; /* seconds since 1970 (NaN: not yet) */
} RunRow;

/* A run that has not started: every value at its fill (NaN, -1, empty). */
RunRow results_row_pending(int run_id, int seed, long total_steps, const char *const *values);

/* The /runs row type of a layout: compound offsets, in bytes. */
typedef struct {
  size_t size, col_off[RESULTS_MAX_COLS + 1];
} RowShape;
hid_t results_row_type(const ResultsLayout *lay, RowShape *rs);
/* Fills row bytes (grid values only when x->values is set). */
void results_fill_row(const ResultsLayout *lay, const RowShape *rs, unsigned char *row, const RunRow *x);

/* What to copy into a new file from an existing one. */
typedef struct {
  const char *path;    /* the existing file, or NULL */
  int nrows;           /* its rows 0..nrows-1 become the new file's first rows */
  const int *slot_src; /* [lay.nslots]: the old slot copied into each new slot, -1 for empty */
  int tolerant;        /* salvage: a row whose data cannot be read becomes pending */
  int *lost;           /* tolerant: set to how many rows became pending (may be NULL) */
} ResultsSource;

/* Serial (one process). Writes the complete file for lay as path.partial, copying from src,
   reserves its disk space, flushes it and renames it over path. rows[nrows..] initialise the
   new rows (all rows when src is NULL). Never leaves a half-written file under path. */
int results_build(const char *path, const ResultsLayout *lay, const RunRow *rows, const char *const *run_configs,
                  const char *sweep_json, const char *config_path, const ResultsSource *src, Err *e);

/* The bytes of a file of this layout: its datasets' data (metadata adds a few percent); one
   checkpoint slot of n parameters (two halves of parameters and Adam's m and v, float32). */
double results_layout_bytes(const ResultsLayout *lay);
double results_slot_bytes(long nparams);

typedef struct {
  hid_t file;
  hid_t runs, run_type;
  hid_t metric[NMETRICS];
  hid_t *slot_params, *slot_m, *slot_v, *slot_state; /* [nslots] */
  hid_t final; /* /final_weights or -1 */
  int sync_fd; /* for fdatasync: checkpoints count only once they are on disk */
  char path[4096];
  ResultsLayout lay;
  RowShape shape;
  unsigned char *row; /* one row's bytes */
} Results;

/* Collective. Opens a file made by results_build for raw-data writes only. */
int results_open(Results *r, const char *path, MPI_Comm comm, Err *e);
/* Collective. */
int results_close(Results *r, Err *e);
/* Flushes this rank's writes to stable storage (independent). */
int results_sync(Results *r, Err *e);

/* Checkpoints (independent). results_ckpt_write_data writes the parameter sets into the
   half of the slot that the current state does not name and syncs them to disk; then
   results_ckpt_commit writes the state (with the data's CRC) and syncs it. A kill or a write
   error before the commit leaves the previous checkpoint valid. */
int results_ckpt_write_data(Results *r, int slot, int half, const float *params, const float *m, const float *v,
                            long n, Err *e);
int results_ckpt_commit(Results *r, int slot, const SlotState *st, Err *e);
int results_ckpt_state(Results *r, int slot, SlotState *st, Err *e);
/* Reads and verifies (CRC) the checkpoint the state names; 1 when it does not verify. */
int results_ckpt_read(Results *r, int slot, float *params, float *m, float *v, long n, const SlotState *st, Err *e);
int results_slot_clear(Results *r, int slot, Err *e);
/* A finished run's parameters into its row of /final_weights (independent). */
int results_write_final(Results *r, int row, const float *params, long n, Err *e);

/* Independent: this rank's run only. n (at most 256) consecutive values, from index idx0
   (0-based), of every metric of the given shape (SHAPE_RUN_STEP or SHAPE_RUN_EVAL):
   vals[k][0..n) for metric k, converted to its dataset's type. */
int results_write_metrics(Results *r, ShapeRule shape, int run, long idx0, int n, const double *const *vals, Err *e);
int results_write_row(Results *r, const RunRow *row, Err *e);
/* The thread count (0: none yet) and BLAS kernel ("": none yet) the row records. */
int results_row_provenance(Results *r, int row, int *threads, char *blas, size_t blas_size, Err *e);

/* 1 when every field of a checkpoint state fits the run it claims (row, its planned steps,
   its parameter count): integers where integers belong, every value in range, NaN nowhere. */
int results_slot_state_fits(const SlotState *st, long row, long total_steps, long nparams);
/* The row a checkpoint state names, or -1 when it names none of rows 0..nruns-1 (empty, not an
   integer, out of range, NaN): a file someone else wrote can hold any double there. */
int results_slot_row(const SlotState *st, int nruns);
/* CRC-32 (zlib) of a checkpoint's three parameter sets. */
double results_ckpt_crc(const float *params, const float *m, const float *v, long n);

/* Message of the innermost HDF5 error on the stack, for error contexts. */
void h5_error_message(char *out, size_t size);

/* Small HDF5 helpers shared by the results modules. */
int h5_attr_strs(hid_t obj, const char *name, const char *const *vals, int n, int scalar);
int h5_attr_str(hid_t obj, const char *name, const char *value);
char *h5_read_str_attr(hid_t obj, const char *name);
char **h5_read_str_array_attr(hid_t obj, const char *name, int n);
/* n elements at [row, col0 ..] of a 2-D dataset (or [col0 ..] when row < 0). */
int h5_write_at(hid_t d, hid_t type, long row, long col0, long n, const void *buf);
int h5_read_at(hid_t d, hid_t type, long row, long col0, long n, void *buf);
hid_t h5_native(ValueType t);
/* Dimension which (0 or 1) of dataset name in f; 0 when it cannot be opened. */
hsize_t h5_dim(hid_t f, const char *name, int which);
/* Errors with the innermost HDF5 message appended; return -1. */
int h5err(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
