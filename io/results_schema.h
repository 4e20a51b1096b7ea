/* The results file's schema: every dataset and every fixed /runs column described once.
   Creation (io/results_build.c), reading (io/results_read.c), checking (io/results_check.c),
   `bertsweep schema` (the README's table and the tests' expectations) all read these tables. */
#ifndef BS_RESULTS_SCHEMA_H
#define BS_RESULTS_SCHEMA_H
#include <stddef.h>

/* Version 2: written whole and renamed on every metadata change, dimension scales from the
   start, checksummed checkpoint states of 16 float64. Version 1 (no attribute): bertsweep
   0.1, read by `report` and `check --salvage` only. */
#define RESULTS_FORMAT_VERSION 2

/* How a dataset's shape follows from the sweep. */
typedef enum { SHAPE_RUN_STEP, SHAPE_RUN_EVAL, SHAPE_STEP, SHAPE_EVAL, SHAPE_RUN, NSHAPES } ShapeRule;
typedef enum { DT_F32, DT_I64 } DataType;

typedef struct {
  const char *path;  /* without the leading '/' */
  DataType type;
  ShapeRule shape;
  const char *units;
  const char *description;
  double fill;       /* value of what was never written (NaN or -1) */
} DatasetSpec;

/* The metrics, [runs, steps] or [runs, evals]; in this order everywhere. */
enum { DS_LOSS, DS_LR, DS_GNORM, DS_ACC, DS_ELOSS, DS_F1, DS_ESTEP, NMETRICS };
extern const DatasetSpec RESULTS_METRICS[NMETRICS];
/* The coordinates (dimension scales): /run, /train/step, /eval/index. */
enum { CO_RUN, CO_STEP, CO_EVAL, NCOORDS };
extern const DatasetSpec RESULTS_COORDS[NCOORDS];
extern const char *const RESULTS_DIM_NAME[NCOORDS]; /* "run", "step", "eval" */

/* The fixed columns of /runs, after run_id, seed and the grid columns. */
typedef enum { CT_STR, CT_I64, CT_F64, CT_I32 } ColType;
enum { F_STATUS, F_STEPS_DONE, F_TOTAL, F_BEST_ACC, F_BEST_STEP, F_FINAL_ACC, F_FINAL_LOSS, F_MAJORITY, F_BOW, F_INIT, F_WALL, F_RANK,
       F_HOST, F_CPU, F_BLAS, F_THREADS, F_LIBS, F_STARTED, F_FINISHED, NFIXED };
typedef struct {
  const char *name;
  ColType type;
  const char *description;
  int size; /* bytes of a CT_STR column, NUL included */
} ColumnSpec;
extern const ColumnSpec RESULTS_FIXED[NFIXED];
#define STATUS_LEN 9 /* "diverged" + NUL */

/* Run statuses, as stored in /runs "status". */
typedef enum { ST_PENDING, ST_RUNNING, ST_DONE, ST_FAILED, ST_DIVERGED, NSTATUS } RunStatus;
extern const char *const RESULTS_STATUS[NSTATUS];
/* The index of a status name, or -1. */
int results_status_parse(const char *name);

/* One checkpoint slot's state: 16 float64 written independently after the slot's data. */
enum { SS_RUN, SS_STEP, SS_OPT_T, SS_HALF, SS_BEST_ACC, SS_BEST_STEP, SS_FINAL_ACC, SS_FINAL_LOSS, SS_NFLOATS,
       SS_CRC, SS_WALL, SS_EVAL_PENDING, NSLOTSTATE = 16 };
/* SS_EVAL_PENDING 1: a stop came during the evaluation due at SS_STEP; a resume runs it first. */

/* The schema as JSON (format "json") or a Markdown table ("markdown"); malloc'd. */
char *results_schema_text(const char *format);

#endif
