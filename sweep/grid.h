/* A sweep config (docs/config.md): the base run config plus sweep.seeds,
   sweep.grid (keys crossed), sweep.zip (keys that move together) and sweep.random (points
   sampled from distributions, their keys moving together). Expands into runs: the product of
   the independent axes (first outermost) times seeds. */
#ifndef BS_GRID_H
#define BS_GRID_H
#include "io/results.h"
#include "io/runconfig.h"
#include "src/bert.h"

#define MAX_AXES 16

typedef struct {
  char key[128]; /* dotted run-config key, or a section ("data") for whole-object values */
  ValueType type; /* VT_BOOL, VT_I64, VT_F64 or VT_STR (io/results_schema.h) */
  int strsize;   /* bytes for VT_STR, including NUL */
  int nvals;
  char **vals;   /* each value as compact JSON text (for a section: the object without "name") */
  char **colvals;/* the value as the results file's column shows it (a section: its "name") */
  int leader;    /* the axis whose choice this one follows (zip, random); itself when independent */
  int whole;     /* 1: key is a section, values are objects merged into it */
} GridAxis;

typedef struct {
  int id, seed;
  int row;              /* row in the results file (differs from id when a resumed sweep grew) */
  long nparams;
  BertConfig model;     /* the model's shape with this run's label count */
  int choice[MAX_AXES]; /* value index per axis */
  char *config_json;    /* the resolved run config: parsed again when the run starts
                           (sweep_run_config), so that a run costs ~1 kB until then */
  long total_steps;
  int n_evals;
  int threads, save_final_weights; /* from the run config */
  char *unreadable;     /* why its model or data could not be read when planned (it will fail), or NULL */
} PlannedRun;

typedef struct {
  char path[4096], output[4096];
  char output_link[4096]; /* the output as given when it is a symbolic link ("" otherwise); output: its target */
  char *sweep_json; /* the whole config, compact */
  char *base_json;  /* the config without "sweep" and "output": what must not change on resume */
  int naxes;
  GridAxis axes[MAX_AXES];
  int nseeds, *seeds;
  int nruns;
  PlannedRun *runs;
  long max_steps, max_nparams;
  int checkpoints;      /* 1: the file has checkpoint slots (every sweep: a stop checkpoints even with checkpoint_every 0) */
  int lenient, missing; /* plan only: what could not be read (MISSING_*) */
  char missing_model[600]; /* plan only: why the (first) model could not be read */
  int final_run;        /* the first run that saves its final weights, or -1 */
  int max_evals;
} Sweep;

/* Reads, validates and expands; output_override (may be NULL) replaces "output". */
int sweep_load(Sweep *s, const char *path, const char *output_override, Err *e);
/* The same, but (lenient) a missing data set, labels file or model is noted in s->missing
   instead of refused: steps come from data.train_size, checkpoint sizes are unknown. */
enum { MISSING_DATA = 1, MISSING_LABELS = 2, MISSING_MODEL = 4 };
int sweep_load_lenient(Sweep *s, const char *path, const char *output_override, int lenient, Err *e);
void sweep_free(Sweep *s);
/* The run's full config, parsed from its config_json (relative paths against s->path). */
int sweep_run_config(const Sweep *s, const PlannedRun *r, RunConfig *cfg, Err *e);
/* At most this many runs in one sweep. */
#define SWEEP_MAX_RUNS 1000000L
/* "optimizer.correct_bias=true seed=3" */
void run_label(const Sweep *s, const PlannedRun *r, char *out, size_t size);

#endif
