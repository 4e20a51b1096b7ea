#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "io/results_schema.h"

#define RESULTS_METRIC_SPEC(id, path, type, shape, units, column, description, fill, required) \
  [id] = {path, type, shape, units, column, description, fill, required},
const DatasetSpec RESULTS_METRICS[NMETRICS] = {RESULTS_METRIC_LIST(RESULTS_METRIC_SPEC)};

const DatasetSpec RESULTS_COORDS[NCOORDS] = {
    [CO_RUN] = {"run", VT_I64, SHAPE_RUN, "1", "run", "run id (row of /runs)", -1, 1},
    [CO_STEP] = {"train/step", VT_I64, SHAPE_STEP, "steps", "step", "number of updates done (1-based)", -1, 1},
    [CO_EVAL] = {"eval/index", VT_I64, SHAPE_EVAL, "1", "index", "evaluation index (0-based)", -1, 1},
};
static_assert(NCOORDS == 3, "RESULTS_COORDS describes every coordinate");
const char *const RESULTS_DIM_NAME[NCOORDS] = {"run", "step", "eval"};

const char *const SLOT_DATASETS[NSLOT_DATASETS] = {
    [SLOT_PARAMS] = "params", [SLOT_ADAM_M] = "adam_m", [SLOT_ADAM_V] = "adam_v", [SLOT_STATE] = "state"};
static_assert(NSLOT_DATASETS == 4, "SLOT_DATASETS names every slot dataset");

void results_sidecar(char *out, size_t size, const char *results_path, Sidecar which) {
  static const char *const SUFFIX[NSIDECARS] = {
      [SIDE_LOCK] = ".lock", [SIDE_STOP] = ".stop", [SIDE_HTML] = ".html", [SIDE_PARTIAL] = ".partial"};
  snprintf(out, size, "%s%s", results_path, SUFFIX[which]);
}

void results_slot_path(char *out, size_t size, int slot, int which) {
  if (which < 0) snprintf(out, size, RESULTS_CHECKPOINTS "/slot_%d", slot);
  else snprintf(out, size, RESULTS_CHECKPOINTS "/slot_%d/%s", slot, SLOT_DATASETS[which]);
}

const ColumnSpec RESULTS_FIXED[NFIXED] = {
    [F_STATUS] = {"status", VT_STR, "pending, running, stopped, done, failed or diverged (docs/running.md says what each means)",
                  STATUS_LEN},
    [F_STEPS_DONE] = {"steps_done", VT_I64, "updates done (at the last flush)"},
    [F_TOTAL] = {"total_steps", VT_I64, "updates the run was planned to do"},
    [F_BEST_ACC] = {"best_dev_accuracy", VT_F64, "highest dev accuracy seen"},
    [F_BEST_STEP] = {"best_step", VT_I64, "step of best_dev_accuracy (-1: none yet)"},
    [F_FINAL_ACC] = {"final_dev_accuracy", VT_F64, "dev accuracy at the last evaluation"},
    [F_FINAL_LOSS] = {"final_train_loss", VT_F64, "training loss of the last step"},
    [F_MAJORITY] = {"majority_baseline", VT_F64, "dev accuracy of always predicting the most frequent label"},
    [F_BOW] = {"bow_baseline", VT_F64,
               "dev accuracy of a logistic regression on token unigrams and bigrams (a Chinese character is a token, "
               "whatever the model's tokenizer) of the whole text, not max_seq_length tokens, fitted on the run's training examples"},
    [F_LABELS] = {"labels", VT_I32, "number of labels of the run's task: chance accuracy is 1/labels, a uniform "
                                    "guess's loss ln(labels) (0: not started, or a file from before this column)"},
    [F_INIT] = {"initialised", VT_STR,
                "tensors initialised rather than loaded from the checkpoint: classifier, pooler, or all (random_init)", 32},
    [F_UNK] = {"unk_rate", VT_F64,
               "share of the run's training-set text tokens (special tokens aside) that became [UNK]; above 0.05 the run "
               "warned with the likely cause (NaN: not started, or a file from before this column)"},
    [F_WALL] = {"wall_seconds", VT_F64, "seconds the run has trained"},
    [F_RANK] = {"rank", VT_I32, "MPI rank that last ran it (-1: none)"},
    [F_HOST] = {"host", VT_STR, "host that last ran it", 64},
    [F_CPU] = {"cpu", VT_STR, "CPU model of that host", 64},
    [F_BLAS] = {"blas", VT_STR, "BLAS library and the kernel it chose", 64},
    [F_THREADS] = {"threads", VT_I32, "OpenMP threads of the run (part of its identity: sgemm's blocking)"},
    [F_LIBS] = {"libraries", VT_STR, "MPI library and HDF5 versions", 96},
    [F_STARTED] = {"started", VT_F64, "when the run (last) started, seconds since 1970 UTC"},
    [F_FINISHED] = {"finished", VT_F64, "when the run finished (NaN: not yet)"},
    [F_ERROR] = {"error", VT_STR, "why a failed run could not run (empty otherwise)", ERROR_LEN},
};
static_assert(NFIXED == 22, "RESULTS_FIXED describes every fixed column");

const char *const RUN_STATUS_NAME[NRUN_STATUS] = {
    [RUN_PENDING] = "pending", [RUN_RUNNING] = "running", [RUN_STOPPED] = "stopped",
    [RUN_DONE] = "done",       [RUN_FAILED] = "failed",   [RUN_DIVERGED] = "diverged"};
static_assert(NRUN_STATUS == 6, "RUN_STATUS_NAME names every RunStatus");

int run_status_parse(const char *name) {
  for (int i = 0; i < NRUN_STATUS; i++)
    if (strncmp(name, RUN_STATUS_NAME[i], STATUS_LEN) == 0) return i;
  return -1;
}

int run_status_final(int status) { return status == RUN_DONE || status == RUN_DIVERGED; }

static const char *const SHAPE_TEXT[NSHAPES] = {"[runs, max steps]", "[runs, max evaluations]", "[max steps]",
                                                "[max evaluations]", "[runs]"};
const char *const VALUE_TYPE_NAME[NVALUE_TYPES] = {[VT_BOOL] = "bool",   [VT_I32] = "int32",   [VT_I64] = "int64",
                                                   [VT_F32] = "float32", [VT_F64] = "float64", [VT_STR] = "string"};
const size_t VALUE_TYPE_SIZE[NVALUE_TYPES] = {[VT_BOOL] = 1, [VT_I32] = 4, [VT_I64] = 8, [VT_F32] = 4, [VT_F64] = 8, [VT_STR] = 0};
static_assert(NVALUE_TYPES == 6, "VALUE_TYPE_NAME and VALUE_TYPE_SIZE cover every ValueType");
static_assert(NSHAPES == 5, "SHAPE_TEXT describes every ShapeRule");

static void add_dataset(cJSON *arr, const DatasetSpec *d, const char *role) {
  cJSON *o = cJSON_CreateObject();
  char fill[32];
  snprintf(fill, sizeof fill, isnan(d->fill) ? "NaN" : "%.0f", d->fill);
  cJSON_AddStringToObject(o, "path", d->path);
  cJSON_AddStringToObject(o, "role", role);
  cJSON_AddStringToObject(o, "type", VALUE_TYPE_NAME[d->type]);
  cJSON_AddStringToObject(o, "shape", SHAPE_TEXT[d->shape]);
  cJSON_AddStringToObject(o, "units", d->units);
  cJSON_AddStringToObject(o, "column", d->column);
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
    cJSON_AddStringToObject(o, "type", VALUE_TYPE_NAME[RESULTS_FIXED[i].type]);
    cJSON_AddStringToObject(o, "description", RESULTS_FIXED[i].description);
    cJSON_AddItemToArray(cols, o);
  }
  cJSON *st = cJSON_AddArrayToObject(root, "statuses");
  for (int i = 0; i < NRUN_STATUS; i++) cJSON_AddItemToArray(st, cJSON_CreateString(RUN_STATUS_NAME[i]));
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
    len += (size_t)snprintf(out + len, cap - len, "| `/%s` | %s | %s | %s | %s | %s |\n", d->path, VALUE_TYPE_NAME[d->type],
                            SHAPE_TEXT[d->shape], d->units, d->description, i < NMETRICS ? fill : "-");
  }
  len += (size_t)snprintf(out + len, cap - len, "| `/train/run_id`, `/train/seed`, `/train/KEY` (and in `/eval`) | as in /runs | "
                                                "[runs] | 1 | copies of /runs' run_id, seed and grid columns, the `run` "
                                                "coordinates every metric names in its `coordinates` attribute | - |\n"
                                                "| `/final_weights` | float32 | [runs, parameters] | 1 | " FINAL_WEIGHTS_MEANING " | - |\n"
                                                "| `/parameter` | float32 | [parameters] | - | /final_weights' second "
                                                "dimension, no values stored (netCDF's form of a bare dimension) | - |\n");
  len += (size_t)snprintf(out + len, cap - len, "\n| `/runs` column | type | meaning |\n|---|---|---|\n"
                                                "| `run_id` | int32 | row number |\n| `seed` | int32 | the run's seed |\n"
                                                "| one per grid key | bool, int64, float64 or string | the run's value |\n");
  for (int i = 0; i < NFIXED && len < cap; i++)
    len += (size_t)snprintf(out + len, cap - len, "| `%s` | %s | %s |\n", RESULTS_FIXED[i].name,
                            VALUE_TYPE_NAME[RESULTS_FIXED[i].type], RESULTS_FIXED[i].description);
  return out;
}

char *results_schema_text(const char *format) {
  if (strcmp(format, "markdown") == 0) return schema_markdown();
  cJSON *j = schema_json();
  char *s = j ? cJSON_Print(j) : NULL;
  cJSON_Delete(j);
  return s;
}
