#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "io/results_read.h"
#include "sweep/sweep_file.h"

void sweep_file_layout(const Sweep *s, ResultsLayout *lay) {
  memset(lay, 0, sizeof *lay);
  lay->nruns = s->nruns;
  lay->max_steps = s->max_steps;
  lay->max_evals = s->max_evals;
  lay->ncols = s->naxes;
  for (int a = 0; a < s->naxes; a++) {
    snprintf(lay->cols[a].name, sizeof lay->cols[a].name, "%s", s->axes[a].key);
    lay->cols[a].type = s->axes[a].type;
    lay->cols[a].strsize = s->axes[a].strsize;
  }
}


static char *tensor_layout_json(const BertConfig *cfg) {
  Bert m;
  Err ignore;
  if (bert_layout(&m, cfg, &ignore)) return NULL;
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; arr && i < m.ntensors; i++) {
    cJSON *t = cJSON_CreateObject();
    const ParamInfo *pi = &m.info[i];
    double shape[2] = {pi->rows, pi->cols};
    cJSON_AddStringToObject(t, "name", pi->name);
    cJSON_AddItemToObject(t, "shape", cJSON_CreateDoubleArray(shape, pi->cols == 1 ? 1 : 2));
    cJSON_AddNumberToObject(t, "offset", (double)pi->offset);
    cJSON_AddItemToArray(arr, t);
  }
  char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
  cJSON_Delete(arr);
  bert_free(&m);
  return s;
}

static int move_aside(const char *path, Err *e) {
  if (!results_is_results_file(path))
    return errf(e, "%s: --restart moves aside only a bertsweep results file, and this is not one; choose another "
                   "--output", path);
  char dst[4200], stamp[32];
  time_t t = time(NULL);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
  snprintf(dst, sizeof dst, "%s.replaced-%s", path, stamp);
  if (rename(path, dst) != 0) return errf(e, "%s: cannot move aside to %s: %s", path, dst, strerror(errno));
  printf("# --restart: moved the old results to %s\n", dst);
  return 0;
}

/* The grid columns' types: those of the config, widened to hold the file's values too
   (int to float, longer strings), so that a grown grid keeps every value as written. */
static int merge_columns(ResultsLayout *lay, const ResultsLayout *old, const char *path, Err *e) {
  for (int c = 0; c < lay->ncols && c < old->ncols; c++) {
    ResultsColumn *n = &lay->cols[c];
    const ResultsColumn *o = &old->cols[c];
    int num_n = n->type == VT_I64 || n->type == VT_F64, num_o = o->type == VT_I64 || o->type == VT_F64;
    if (n->type == o->type || (num_n && num_o)) {
      if (num_n && o->type > n->type) n->type = o->type;
      if (n->type == VT_STR && o->strsize > n->strsize) n->strsize = o->strsize;
      continue;
    }
    return errf(e, "%s: grid key \"%s\" holds %s values in the file but %s values in the config", path, n->name,
                VALUE_TYPE_NAME[o->type], VALUE_TYPE_NAME[n->type]);
  }
  return 0;
}

/* What the new file must look like for this sweep. */
static char *layout_for(const Sweep *s, const Plan *p, ResultsLayout *lay) {
  sweep_file_layout(s, lay);
  lay->nruns = p->nrows;
  lay->nslots = p->nslots;
  lay->slot_size = p->nslots ? s->max_nparams : 0;
  char *json = NULL;
  if (s->final_run >= 0) {
    lay->final_size = s->max_nparams;
    lay->final_layout = json = tensor_layout_json(&s->runs[s->final_run].model);
  }
  return json;
}

static int same_columns(const ResultsLayout *a, const ResultsLayout *b) {
  for (int c = 0; c < a->ncols; c++)
    if (a->cols[c].type != b->cols[c].type || (a->cols[c].type == VT_STR && a->cols[c].strsize != b->cols[c].strsize))
      return 0;
  return a->ncols == b->ncols;
}

/* Rank 0: makes the file this sweep needs. A new sweep builds it; a resume keeps the file
   when it fits and otherwise rewrites it (copying every row and live checkpoint), so the
   live file's metadata never changes in place. */
int sweep_file_prepare(Sweep *s, int size, int restart, int *idle_out, Err *e) {
  *idle_out = 0;
  int exists = path_exists(s->output);
  if (exists && restart && move_aside(s->output, e)) return -1;
  exists = exists && !restart;
  ResultsInfo info = {0};
  Plan p = {0};
  ResultsLayout lay;
  char *json = NULL;
  int rc = 0;
  if (exists) {
    rc = results_inspect(s->output, &info, e);
    if (!rc && info.format_version != RESULTS_FORMAT_VERSION)
      rc = errf(e, "%s: written by an older bertsweep (format %d, this one writes %d); convert it with `bertsweep "
                   "check --salvage %s NEW.h5`", s->output, info.format_version, RESULTS_FORMAT_VERSION, s->output);
    if (!rc) rc = plan_resume(s, &info, &p, e);
    for (int k = 0; !rc && k < info.lay.nslots; k++)
      if (plan_slot_claims(&info, k) && !plan_slot_live(&info, k))
        fprintf(stderr, "bertsweep: warning: %s: the checkpoint of run %.0f does not verify (its state is out of range); "
                        "the run starts over\n", s->output, info.slots[k].v[SS_RUN]);
  } else {
    p.nrows = s->nruns;
  }
  if (!rc) rc = plan_build(s, exists ? &info : NULL, size, &p, e);
  /* nothing to run, no checkpoint slots left to drop (a kill or a full disk at the end leaves
     them), no column to add: the file is final as it is */
  const int idle = !rc && exists && plan_nothing_to_run(s, &info, &p) && info.lay.nslots == 0 &&
                   results_runs_current(s->output);
  *idle_out = idle; /* the file stays as it is */
  if (!rc && !idle) {
    json = layout_for(s, &p, &lay);
    if (exists) rc = merge_columns(&lay, &info.lay, s->output, e);
  }
  if (!rc && !idle && exists) {
    int fits = lay.nruns == info.nruns && lay.max_steps <= info.lay.max_steps && lay.max_evals <= info.lay.max_evals &&
               same_columns(&lay, &info.lay) && lay.nslots <= info.lay.nslots &&
               (!lay.nslots || lay.slot_size <= info.lay.slot_size) && lay.final_size <= info.lay.final_size;
    if (!fits) {
      if (lay.max_steps < info.lay.max_steps) lay.max_steps = info.lay.max_steps;
      if (lay.max_evals < info.lay.max_evals) lay.max_evals = info.lay.max_evals;
      if (lay.final_size < info.lay.final_size) lay.final_size = info.lay.final_size;
      int *src_slot = malloc(sizeof(int) * (size_t)(lay.nslots ? lay.nslots : 1)), k2 = 0;
      for (int k = 0; src_slot && k < lay.nslots; k++) src_slot[k] = -1;
      for (int k = 0; src_slot && k < info.lay.nslots; k++)
        if (plan_slot_live(&info, k) && k2 < lay.nslots) src_slot[k2++] = k;
      ResultsSource src = {.path = s->output, .nrows = info.nruns, .slot_src = src_slot};
      rc = src_slot ? results_build(s->output, &lay, p.rows, p.cfgs, s->sweep_json, s->path, &src, e)
                    : errf(e, "out of memory");
      free(src_slot);
    }
  } else if (!rc && !idle) {
    rc = results_build(s->output, &lay, p.rows, p.cfgs, s->sweep_json, s->path, NULL, e);
  }
  free(json);
  plan_free(&p);
  results_info_free(&info);
  return rc;
}

/* Rank 0, at the end of a sweep with nothing left running: the file without the checkpoint
   slots of finished runs (rewritten and renamed, like every metadata change). */
int sweep_file_finish(const char *path, Err *e) {
  ResultsInfo info;
  if (results_inspect(path, &info, e)) return -1;
  int live = 0, rc = 0;
  int *src_slot = malloc(sizeof(int) * (size_t)(info.lay.nslots ? info.lay.nslots : 1));
  for (int k = 0; src_slot && k < info.lay.nslots; k++)
    if (plan_slot_live(&info, k)) src_slot[live++] = k;
  if (!src_slot) rc = errf(e, "out of memory");
  else if (info.lay.nslots > live) {
    ResultsLayout lay = info.lay;
    lay.nslots = live;
    if (!live) lay.slot_size = 0;
    char *final_layout = NULL;
    if (lay.final_size > 0) { /* keep the tensor layout attribute as written */
      H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
      hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = f >= 0 ? H5Dopen2(f, RESULTS_FINAL, H5P_DEFAULT) : -1;
      final_layout = d >= 0 ? h5_read_str_attr(d, "tensors") : NULL;
      if (d >= 0) H5Dclose(d);
      if (f >= 0) H5Fclose(f);
      lay.final_layout = final_layout;
    }
    ResultsSource src = {.path = path, .nrows = info.nruns, .slot_src = src_slot};
    rc = results_build(path, &lay, NULL, (const char *const *)info.run_configs, info.sweep_json, info.config_path, &src,
                       e);
    if (rc) errctx(e, "%s: the sweep is complete, but dropping its finished checkpoints failed (run the same command "
                      "again to retry)", path);
    free(final_layout);
  }
  free(src_slot);
  results_info_free(&info);
  return rc;
}

/* Every rank, after rank 0 prepared the file: the plan against the file as it now is. */
int sweep_file_plan(Sweep *s, int size, Plan *p, ResultsInfo *info, Err *e) {
  if (results_inspect(s->output, info, e) || plan_resume(s, info, p, e)) return -1;
  return plan_build(s, info, size, p, e);
}

