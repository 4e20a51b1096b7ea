/* The results file's schema: every dataset and every fixed /runs column described once.
   Creation (io/results_build.c), reading (io/results_read.c), checking (io/results_check.c),
   `bertsweep schema` (docs/results-file.md's table and the tests' expectations) all read these tables. */
#ifndef BS_RESULTS_SCHEMA_H
#define BS_RESULTS_SCHEMA_H
#include <math.h>
#include <stddef.h>

/* Version 2: written whole and renamed on every metadata change, dimension scales from the
   start, checksummed checkpoint states of 16 float64. Version 1 (no attribute): bertsweep
   0.1, read by `report` and `check --salvage` only. */
#define RESULTS_FORMAT_VERSION 2

/* How a dataset's shape follows from the sweep. */
typedef enum { SHAPE_RUN_STEP, SHAPE_RUN_EVAL, SHAPE_STEP, SHAPE_EVAL, SHAPE_RUN, NSHAPES } ShapeRule;
/* The type of every value the file stores: grid columns, fixed /runs columns, datasets. */
typedef enum { VT_BOOL, VT_I32, VT_I64, VT_F32, VT_F64, VT_STR, NVALUE_TYPES } ValueType;
extern const char *const VALUE_TYPE_NAME[NVALUE_TYPES]; /* "bool", "int32", ..., "string" */
extern const size_t VALUE_TYPE_SIZE[NVALUE_TYPES];      /* bytes (0 for strings: their own size) */

typedef struct {
  const char *path;  /* without the leading '/' */
  ValueType type;
  ShapeRule shape;
  const char *units;
  const char *column; /* its column in `train --metrics` TSV files */
  const char *description;
  double fill;       /* value of what was never written (NaN or -1) */
  int required;      /* 1: every results file has it (a file without is refused); 0: older files may lack it */
} DatasetSpec;

/* The metrics, [runs, steps] or [runs, evaluations], in file order: the one list of them.
   jobs/job.c fills each one's value (Metrics.v[DS_...]) where it is computed; the results
   file, its check and salvage, the sweep's writer and `train`'s output iterate the table.
   The reader (io/results_read.c) loads every one of them, so the report, `status` and the
   page see a new line here without more code.
   X(id, path, type, shape, units, TSV column, description, fill, required) */
#define RESULTS_METRIC_LIST(X)                                                                                     \
  X(DS_LOSS, "train/loss", VT_F32, SHAPE_RUN_STEP, "nats", "loss",                                                 \
    "mean cross-entropy of the training batch at each step (before the update)", NAN, 1)                              \
  X(DS_LR, "train/lr", VT_F32, SHAPE_RUN_STEP, "1", "lr", "learning rate used by the update of each step", NAN, 0)   \
  X(DS_GNORM, "train/grad_norm", VT_F32, SHAPE_RUN_STEP, "1", "grad_norm",                                         \
    "global L2 norm of the gradient before clipping", NAN, 0)                                                         \
  X(DS_ACC, "eval/accuracy", VT_F32, SHAPE_RUN_EVAL, "1", "accuracy", "dev-set accuracy at each evaluation point", \
    NAN, 1)                                                                                                           \
  X(DS_ELOSS, "eval/loss", VT_F32, SHAPE_RUN_EVAL, "nats", "eval_loss",                                            \
    "mean dev-set cross-entropy at each evaluation point", NAN, 0)                                                    \
  X(DS_F1, "eval/macro_f1", VT_F32, SHAPE_RUN_EVAL, "1", "macro_f1", "dev-set macro-F1 at each evaluation point",  \
    NAN, 0)                                                                                                           \
  X(DS_ESTEP, "eval/step", VT_I64, SHAPE_RUN_EVAL, "steps", "step", /* the TSV's first column */               \
    "number of updates done when each evaluation ran", -1, 1)
#define RESULTS_METRIC_ID(id, ...) id,
enum { RESULTS_METRIC_LIST(RESULTS_METRIC_ID) NMETRICS };
extern const DatasetSpec RESULTS_METRICS[NMETRICS];
/* One step's or one evaluation's values, indexed by metric (DS_*; the other shape's are unused). */
typedef struct {
  double v[NMETRICS];
} Metrics;
/* The coordinates (dimension scales): /run, /train/step, /eval/index. */
enum { CO_RUN, CO_STEP, CO_EVAL, NCOORDS };
extern const DatasetSpec RESULTS_COORDS[NCOORDS];
extern const char *const RESULTS_DIM_NAME[NCOORDS]; /* "run", "step", "eval" */

/* The files beside a results file FILE, named once: FILE.lock (its writer lock), FILE.stop
   (`bertsweep stop`'s request), FILE.html (the page of `--html auto`), FILE.partial (a file
   being built, renamed over FILE when complete). */
typedef enum { SIDE_LOCK, SIDE_STOP, SIDE_HTML, SIDE_PARTIAL, NSIDECARS } Sidecar;
void results_sidecar(char *out, size_t size, const char *results_path, Sidecar which);

/* The file's other objects, named once: the runs table, the checkpoint slots' group (one
   subgroup slot_K per slot, holding SLOT_DATASETS), the final weights. */
#define RESULTS_RUNS "runs"
#define RESULTS_CHECKPOINTS "checkpoints"
#define RESULTS_FINAL "final_weights"
/* A slot's datasets: parameters and Adam's moments ([2 halves, slot size] float32) and its state. */
enum { SLOT_PARAMS, SLOT_ADAM_M, SLOT_ADAM_V, SLOT_STATE, NSLOT_DATASETS };
extern const char *const SLOT_DATASETS[NSLOT_DATASETS]; /* "params", "adam_m", "adam_v", "state" */
/* "checkpoints/slot_K" (which < 0) or "checkpoints/slot_K/NAME" into out. */
void results_slot_path(char *out, size_t size, int slot, int which);

/* The fixed columns of /runs, after run_id, seed and the grid columns. */
enum { F_STATUS, F_STEPS_DONE, F_TOTAL, F_BEST_ACC, F_BEST_STEP, F_FINAL_ACC, F_FINAL_LOSS, F_MAJORITY, F_BOW, F_LABELS, F_INIT, F_UNK, F_WALL, F_RANK,
       F_HOST, F_CPU, F_BLAS, F_THREADS, F_LIBS, F_STARTED, F_FINISHED, F_ERROR, NFIXED };
typedef struct {
  const char *name;
  ValueType type;
  const char *description;
  int size; /* bytes of a VT_STR column, NUL included */
} ColumnSpec;
extern const ColumnSpec RESULTS_FIXED[NFIXED];
#define STATUS_LEN 9 /* the longest status name (diverged) and its NUL */
#define ERROR_LEN 256 /* /runs "error", NUL included */

/* Above this share of [UNK] among a run's training-set text tokens, the run warns with the
   likely cause and the report names the runs (/runs "unk_rate"). */
#define UNK_WARN 0.05

/* Run statuses, as stored in /runs "status"; RUN_STATUS_NAME is the one table of their names.
   pending: not started yet. running: started; a sweep that dies leaves it so, and its
   checkpoint (if any) in a slot. stopped: checkpointed and stopped by a signal, the time limit
   or `bertsweep stop`. done: finished all its steps (or early stopping ended it). failed: it
   could not run (its model or data did not open); /runs "error" says why. diverged: a
   non-finite loss or gradient norm ended it; its metrics are kept to that step. A resume
   continues running and stopped runs, starts pending ones, tries failed ones again (their
   model or data may have been fixed) and leaves done and diverged ones (run_status_final). */
typedef enum { RUN_PENDING, RUN_RUNNING, RUN_STOPPED, RUN_DONE, RUN_FAILED, RUN_DIVERGED, NRUN_STATUS } RunStatus;
extern const char *const RUN_STATUS_NAME[NRUN_STATUS];
/* The status a name stands for, or -1. */
int run_status_parse(const char *name);
/* 1 when a status is final: a resume does not run it again (done, diverged). */
int run_status_final(int status);

/* One checkpoint slot's state: 16 float64 written independently after the slot's data. */
enum { SS_RUN, SS_STEP, SS_OPT_T, SS_HALF, SS_BEST_ACC, SS_BEST_STEP, SS_FINAL_ACC, SS_FINAL_LOSS, SS_NFLOATS,
       SS_CRC, SS_WALL, SS_EVAL_PENDING, NSLOTSTATE = 16 };
/* SS_EVAL_PENDING 1: a stop came during the evaluation due at SS_STEP; a resume runs it first. */

/* /final_weights' long_name, also in the schema's table. */
#define FINAL_WEIGHTS_MEANING "final parameters of each run that set train.save_final_weights (others: undefined)"

/* The schema as JSON (format "json") or a Markdown table ("markdown"); malloc'd. */
char *results_schema_text(const char *format);

#endif
