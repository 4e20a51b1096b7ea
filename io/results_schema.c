#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "io/results_schema.h"

const DatasetSpec RESULTS_METRICS[NMETRICS] = {
    [DS_LOSS] = {"train/loss", DT_F32, SHAPE_RUN_STEP, "nats",
                 "mean cross-entropy of the training batch at each step (before the update)", NAN},
    [DS_LR] = {"train/lr", DT_F32, SHAPE_RUN_STEP, "1", "learning rate used by the update of each step", NAN},
    [DS_GNORM] = {"train/grad_norm", DT_F32, SHAPE_RUN_STEP, "1", "global L2 norm of the gradient before clipping", NAN},
    [DS_ACC] = {"eval/accuracy", DT_F32, SHAPE_RUN_EVAL, "1", "dev-set accuracy at each evaluation point", NAN},
    [DS_ELOSS] = {"eval/loss", DT_F32, SHAPE_RUN_EVAL, "nats", "mean dev-set cross-entropy at each evaluation point", NAN},
    [DS_F1] = {"eval/macro_f1", DT_F32, SHAPE_RUN_EVAL, "1", "dev-set macro-F1 at each evaluation point", NAN},
    [DS_ESTEP] = {"eval/step", DT_I64, SHAPE_RUN_EVAL, "steps", "number of updates done when each evaluation ran", -1},
};

const DatasetSpec RESULTS_COORDS[NCOORDS] = {
    [CO_RUN] = {"run", DT_I64, SHAPE_RUN, "1", "run id (row of /runs)", -1},
    [CO_STEP] = {"train/step", DT_I64, SHAPE_STEP, "steps", "number of updates done (1-based)", -1},
    [CO_EVAL] = {"eval/index", DT_I64, SHAPE_EVAL, "1", "evaluation index (0-based)", -1},
};
const char *const RESULTS_DIM_NAME[NCOORDS] = {"run", "step", "eval"};

const ColumnSpec RESULTS_FIXED[NFIXED] = {
    [F_STATUS] = {"status", CT_STR, "pending, running, done, failed or diverged", STATUS_LEN},
    [F_STEPS_DONE] = {"steps_done", CT_I64, "updates done (at the last flush)"},
    [F_TOTAL] = {"total_steps", CT_I64, "updates the run was planned to do"},
    [F_BEST_ACC] = {"best_dev_accuracy", CT_F64, "highest dev accuracy seen"},
    [F_BEST_STEP] = {"best_step", CT_I64, "step of best_dev_accuracy (-1: none yet)"},
    [F_FINAL_ACC] = {"final_dev_accuracy", CT_F64, "dev accuracy at the last evaluation"},
    [F_FINAL_LOSS] = {"final_train_loss", CT_F64, "training loss of the last step"},
    [F_MAJORITY] = {"majority_baseline", CT_F64, "dev accuracy of always predicting the most frequent label"},
    [F_BOW] = {"bow_baseline", CT_F64,
               "dev accuracy of a logistic regression on token unigrams and bigrams (a Chinese character is a token, "
               "whatever the model's tokenizer) of the whole text, not max_seq_length tokens, fitted on the run's training examples"},
    [F_INIT] = {"initialised", CT_STR,
                "tensors initialised rather than loaded from the checkpoint: classifier, pooler, or all (random_init)", 32},
    [F_WALL] = {"wall_seconds", CT_F64, "seconds the run has trained"},
    [F_RANK] = {"rank", CT_I32, "MPI rank that last ran it (-1: none)"},
    [F_HOST] = {"host", CT_STR, "host that last ran it", 64},
    [F_CPU] = {"cpu", CT_STR, "CPU model of that host", 64},
    [F_BLAS] = {"blas", CT_STR, "BLAS library and the kernel it chose", 64},
    [F_THREADS] = {"threads", CT_I32, "OpenMP threads of the run (part of its identity: sgemm's blocking)"},
    [F_LIBS] = {"libraries", CT_STR, "MPI library and HDF5 versions", 96},
    [F_STARTED] = {"started", CT_F64, "when the run (last) started, seconds since 1970 UTC"},
    [F_FINISHED] = {"finished", CT_F64, "when the run finished (NaN: not yet)"},
};

const char *const RESULTS_STATUS[NSTATUS] = {"pending", "running", "done", "failed", "diverged"};

int results_status_parse(const char *name) {
  for (int i = 0; i < NSTATUS; i++)
    if (strcmp(name, RESULTS_STATUS[i]) == 0) return i;
  return -1;
}

static const char *const SHAPE_TEXT[NSHAPES] = {"[runs, max steps]", "[runs, max evaluations]", "[max steps]",
                                                "[max evaluations]", "[runs]"};
static const char *const TYPE_TEXT[] = {"float32", "int64"};
static const char *const COLTYPE_TEXT[] = {"string", "int64", "float64", "int32"};

static void add_dataset(cJSON *arr, const DatasetSpec *d, const char *role) {
  cJSON *o = cJSON_CreateObject();
  char fill[32];
  snprintf(fill, sizeof fill, isnan(d->fill) ? "NaN" : "%.0f", d->fill);
  cJSON_AddStringToObject(o, "path", d->path);
  cJSON_AddStringToObject(o, "role", role);
  cJSON_AddStringToObject(o, "type", TYPE_TEXT[d->type]);
  cJSON_AddStringToObject(o, "shape", SHAPE_TEXT[d->shape]);
  cJSON_AddStringToObject(o, "units", d->units);
  cJSON_AddStringToObject(o, "description", d->description);
  cJSON_AddStringToObject(o, "fill", fill);
  cJSON_AddItemToArray(arr, o);
}

static cJSON *schema_json(void) {
  cJSON *root = cJSON_CreateObject(), *ds = cJSON_AddArrayToObject(root, "datasets");
  cJSON_AddNumberToObject(root, "format_version", RESULTS_FORMAT_VERSION);
  for (int i = 0; i < NMETRICS; i++) add_dataset(ds, &RESULTS_METRICS[i], "metric");
  for (int i = 0; i < NCOORDS; i++) add_dataset(ds, &RESULTS_COORDS[i], "coordinate");
  cJSON *cols = cJSON_AddArrayToObject(root, "runs_columns");
  for (int i = 0; i < NFIXED; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", RESULTS_FIXED[i].name);
    cJSON_AddStringToObject(o, "type", COLTYPE_TEXT[RESULTS_FIXED[i].type]);
    cJSON_AddStringToObject(o, "description", RESULTS_FIXED[i].description);
    cJSON_AddItemToArray(cols, o);
  }
  cJSON *st = cJSON_AddArrayToObject(root, "statuses");
  for (int i = 0; i < NSTATUS; i++) cJSON_AddItemToArray(st, cJSON_CreateString(RESULTS_STATUS[i]));
  return root;
}

static char *schema_markdown(void) {
  size_t cap = 16384, len = 0;
  char *out = malloc(cap);
  if (!out) return NULL;
  len += (size_t)snprintf(out + len, cap - len, "| dataset | type | shape | units | meaning | never written |\n"
                                                "|---|---|---|---|---|---|\n");
  for (int i = 0; i < NMETRICS + NCOORDS; i++) {
    const DatasetSpec *d = i < NMETRICS ? &RESULTS_METRICS[i] : &RESULTS_COORDS[i - NMETRICS];
    char fill[32];
    snprintf(fill, sizeof fill, isnan(d->fill) ? "NaN" : "%.0f", d->fill);
    len += (size_t)snprintf(out + len, cap - len, "| `/%s` | %s | %s | %s | %s | %s |\n", d->path, TYPE_TEXT[d->type],
                            SHAPE_TEXT[d->shape], d->units, d->description, i < NMETRICS ? fill : "-");
  }
  len += (size_t)snprintf(out + len, cap - len, "\n| `/runs` column | type | meaning |\n|---|---|---|\n"
                                                "| `run_id` | int32 | row number |\n| `seed` | int32 | the run's seed |\n"
                                                "| one per grid key | bool, int64, float64 or string | the run's value |\n");
  for (int i = 0; i < NFIXED && len < cap; i++)
    len += (size_t)snprintf(out + len, cap - len, "| `%s` | %s | %s |\n", RESULTS_FIXED[i].name,
                            COLTYPE_TEXT[RESULTS_FIXED[i].type], RESULTS_FIXED[i].description);
  return out;
}

char *results_schema_text(const char *format) {
  if (strcmp(format, "markdown") == 0) return schema_markdown();
  cJSON *j = schema_json();
  char *s = j ? cJSON_Print(j) : NULL;
  cJSON_Delete(j);
  return s;
}
