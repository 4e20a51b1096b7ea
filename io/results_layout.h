/* The results file's layout: its grid columns, sizes and checkpoint slots, the /runs row, and
   the serial builder that writes a complete file (io/results_build.c). No MPI. */
#ifndef BS_RESULTS_LAYOUT_H
#define BS_RESULTS_LAYOUT_H
#include <hdf5.h>
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

/* 1 when every field of a checkpoint state fits the run it claims (row, its planned steps,
   its parameter count): integers where integers belong, every value in range, NaN nowhere. */
int results_slot_state_fits(const SlotState *st, long row, long total_steps, long nparams);
/* The row a checkpoint state names, or -1 when it names none of rows 0..nruns-1 (empty, not an
   integer, out of range, NaN): a file someone else wrote can hold any double there. */
int results_slot_row(const SlotState *st, int nruns);
/* CRC-32 (zlib) of a checkpoint's three parameter sets. */
double results_ckpt_crc(const float *params, const float *m, const float *v, long n);

#endif
