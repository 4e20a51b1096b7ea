/* The results file: one HDF5 file per sweep.

   Its metadata never changes in place. results_build writes a complete file (every dataset
   at full size, raw data initialised, dimension scales attached, disk space reserved) as
   PATH.partial, flushes it and renames it over PATH, copying what an existing file holds;
   a kill at any moment leaves either the old file or the new one. Afterwards the ranks open
   it together (results_open) and write only raw data into the space allocated up front:
   metric rows, /runs rows and checkpoint slots, each rank its own runs, independently. */
#ifndef BS_RESULTS_H
#define BS_RESULTS_H
#include "io/h5util.h"
#include "io/results_layout.h"

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

/* results_open (collective, io/results_mpi.h) opens a file made by results_build for raw-data
   writes only; everything below is serial or independent. */
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


#endif
