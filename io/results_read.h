/* Reading a results file serially: what a resume needs (results_inspect) and what the
   report needs (results_load). Safe while a sweep writes the file: its metadata never
   changes in place. */
#ifndef BS_RESULTS_READ_H
#define BS_RESULTS_READ_H
#include "io/h5util.h"
#include "io/results_layout.h"

/* What a resume, a check or a salvage needs to know of an existing file. */
typedef struct {
  int format_version;  /* 1: bertsweep 0.1 (no attribute) */
  char *sweep_json, *config_path;
  int nruns;
  char **run_configs;  /* [nruns] */
  char (*status)[STATUS_LEN]; /* [nruns] */
  long *steps_done, *total_steps; /* [nruns] */
  ResultsLayout lay;   /* dims, grid columns as stored, slots */
  SlotState *slots;    /* [lay.nslots] */
  int *seed;           /* [nruns] */
  char ***values;      /* [nruns][lay.ncols] grid values as text (as ResultsData's) */
} ResultsInfo;
int results_inspect(const char *path, ResultsInfo *info, Err *e);
void results_info_free(ResultsInfo *info);
/* 1 when /runs has every fixed column this version writes (RESULTS_FIXED): a file an older
   version wrote lacks some, and a resume rewrites it to add them. */
int results_runs_current(const char *path);
/* 1 when path is an HDF5 file with a bertsweep sweep_config attribute. */
int results_is_results_file(const char *path);

/* One metric of the schema's table for every run: [nruns * width] values of its type (f for
   VT_F32, i for VT_I64), its fill where nothing was written; a file without the dataset (an
   optional one, older files) reads as all fill, present 0. */
typedef struct {
  float *f;
  long *i;
  long width; /* max_steps or max_evals, by the metric's shape */
  int present;
} MetricRows;

typedef struct {
  int nruns, ncols;
  long max_steps;
  int max_evals;
  char colname[RESULTS_MAX_COLS][128];
  ValueType coltype[RESULTS_MAX_COLS]; /* how values[][c] reads: VT_BOOL, VT_I64, VT_F64 or VT_STR */
  char ***values;     /* [nruns][ncols] grid values as text */
  int *seed;
  char (*status)[STATUS_LEN];
  long *total_steps, *steps_done;
  double *best_acc, *final_acc, *majority, *bow, *unk; /* unk: [UNK] share (NaN: not recorded) */
  int *labels; /* the task's label count (0: not recorded) */
  MetricRows metric[NMETRICS]; /* every metric of the schema's table, by DS_* */
  char *sweep_json;   /* the sweep's config */
  char *version, *commit, *written; /* program version, git commit, when the file was last made (NULL: none) */
  char **run_configs; /* [nruns] each run's config as JSON; NULL when the file has none */
  char (*error)[ERROR_LEN]; /* [nruns] why a failed run could not run ("" otherwise or in older files) */
  /* provenance, NULL in files written before it was recorded */
  char (*cpu)[64], (*blas)[64], (*libs)[96];
  int *threads;
  char (*host)[64]; /* where each run last ran, by which rank, for how long (NULL in old files) */
  int *rank;
  double *wall;
} ResultsData;

int results_load(const char *path, ResultsData *d, Err *e);
/* Run r's row of metric k (DS_*): width values. */
static inline const float *results_row_f(const ResultsData *d, int k, int r) {
  return d->metric[k].f + (size_t)r * (size_t)d->metric[k].width;
}
static inline const long *results_row_i(const ResultsData *d, int k, int r) {
  return d->metric[k].i + (size_t)r * (size_t)d->metric[k].width;
}
/* Allocates every metric's rows for d->nruns, d->max_steps and d->max_evals, filled. */
int results_metrics_alloc(ResultsData *d);
/* Row row of /final_weights (n floats) into dst. */
int results_read_final(const char *path, int row, float *dst, long n, Err *e);
void results_data_free(ResultsData *d);

/* Reads one member (by name) of every /runs row into buf, converted to mtype. */
int results_read_member(hid_t runs, const char *name, hid_t mtype, void *buf);

#endif
