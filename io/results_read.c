#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/fileutil.h"
#include "io/results_read.h"

static int h5fail(Err *e, const char *path, const char *what) {
  char msg[512];
  h5_error_message(msg, sizeof msg);
  return errf(e, "%s: %s: %s", path, what, msg);
}

/* Reads one member of the /runs compound into buf (one element of mtype per run). */
int results_read_member(hid_t runs, const char *name, hid_t mtype, void *buf) {
  size_t sz = H5Tget_size(mtype);
  hid_t ct = H5Tcreate(H5T_COMPOUND, sz);
  int ok = ct >= 0 && H5Tinsert(ct, name, 0, mtype) >= 0 && H5Dread(runs, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
  if (ct >= 0) H5Tclose(ct);
  return ok ? 0 : -1;
}

/* Reads dataset name, which must be [rows, cols] (rank 1 when cols < 0): a file written by
   someone else may disagree with itself, and the buffer is sized by what the caller expects. */
static int read_2d_of(hid_t f, const char *name, hid_t type, void *buf, hsize_t rows, long cols) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
  hsize_t dims[2] = {0, 0};
  int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  int ok = rank == (cols < 0 ? 1 : 2) && H5Sget_simple_extent_dims(sp, dims, NULL) == rank && dims[0] == rows &&
           (cols < 0 || dims[1] == (hsize_t)cols);
  if (sp >= 0) H5Sclose(sp);
  ok = ok && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
  if (d >= 0) H5Dclose(d);
  return ok ? 0 : -1;
}

/* The shortest text that reads back as x (as Python's repr): two values never share a text,
   and 0.0003 stays 0.0003. */
static void shortest_double(char *out, size_t size, double x) {
  for (int digits = 6; digits <= 17; digits++) {
    snprintf(out, size, "%.*g", digits, x);
    if (strtod(out, NULL) == x) return;
  }
}

/* The grid columns: the members between "seed" and "status", as text. */
static int read_grid(hid_t runs, ResultsData *d, Err *e, const char *path) {
  hid_t ft = H5Dget_type(runs);
  int nm = H5Tget_nmembers(ft), bad = ft < 0 || nm < 0;
  d->values = calloc((size_t)(d->nruns ? d->nruns : 1), sizeof(char **));
  for (int r = 0; d->values && r < d->nruns; r++) d->values[r] = calloc(RESULTS_MAX_COLS, sizeof(char *));
  size_t width = 8; /* the widest member, for one buffer */
  for (int i = 2; ft >= 0 && i < nm; i++) {
    hid_t mt = H5Tget_member_type(ft, (unsigned)i);
    size_t sz = mt >= 0 ? H5Tget_size(mt) : 0;
    if (sz > width) width = sz;
    if (mt >= 0) H5Tclose(mt);
  }
  void *buf = malloc((size_t)(d->nruns ? d->nruns : 1) * width);
  bad = bad || !d->values || !buf;
  for (int i = 2; i < nm && !bad; i++) {
    char *name = H5Tget_member_name(ft, (unsigned)i);
    if (!name || strcmp(name, "status") == 0 || d->ncols == RESULTS_MAX_COLS) {
      H5free_memory(name);
      break;
    }
    snprintf(d->colname[d->ncols], sizeof d->colname[0], "%s", name);
    hid_t mt = H5Tget_member_type(ft, (unsigned)i);
    H5T_class_t cls = H5Tget_class(mt);
    d->coltype[d->ncols] = cls == H5T_FLOAT ? VT_F64 : cls == H5T_INTEGER ? VT_I64 : cls == H5T_ENUM ? VT_BOOL
                                                                                                       : VT_STR;
    size_t sz = H5Tget_size(mt);
    hid_t native = cls == H5T_FLOAT ? H5Tcopy(H5T_NATIVE_DOUBLE) : cls == H5T_INTEGER ? H5Tcopy(H5T_NATIVE_INT64)
                                                                                        : H5Tcopy(mt);
    char *text = malloc(sz + 64);
    bad = !text || results_read_member(runs, name, native, buf) < 0;
    for (int r = 0; r < d->nruns && !bad; r++) {
      if (cls == H5T_FLOAT) shortest_double(text, sz + 64, ((double *)buf)[r]);
      else if (cls == H5T_INTEGER) snprintf(text, sz + 64, "%lld", (long long)((int64_t *)buf)[r]);
      else if (cls == H5T_ENUM) snprintf(text, sz + 64, "%s", ((signed char *)buf)[r] ? "true" : "false");
      else snprintf(text, sz + 64, "%.*s", (int)sz, (char *)buf + (size_t)r * sz);
      bad = !(d->values[r][d->ncols] = strdup(text));
    }
    free(text);
    H5Tclose(native);
    H5Tclose(mt);
    H5free_memory(name);
    d->ncols++;
  }
  free(buf);
  if (ft >= 0) H5Tclose(ft);
  return bad ? h5fail(e, path, "reading the grid columns of /runs") : 0;
}

static int has_member(hid_t runs, const char *name) {
  hid_t ft = H5Dget_type(runs);
  int yes = ft >= 0 && H5Tget_member_index(ft, name) >= 0;
  if (ft >= 0) H5Tclose(ft);
  return yes;
}

static int read_provenance(hid_t runs, ResultsData *d) {
  if (!has_member(runs, "cpu")) return 0;
  size_t n = (size_t)(d->nruns ? d->nruns : 1);
  d->cpu = calloc(n, sizeof *d->cpu);
  d->blas = calloc(n, sizeof *d->blas);
  d->libs = calloc(n, sizeof *d->libs);
  d->threads = calloc(n, sizeof(int));
  if (!d->cpu || !d->blas || !d->libs || !d->threads) return -1;
  hid_t s64 = H5Tcopy(H5T_C_S1), s96 = H5Tcopy(H5T_C_S1);
  int bad = s64 < 0 || s96 < 0 || H5Tset_size(s64, 64) < 0 || H5Tset_size(s96, 96) < 0 ||
            H5Tset_cset(s64, H5T_CSET_UTF8) < 0 || H5Tset_cset(s96, H5T_CSET_UTF8) < 0;
  bad = bad || (d->nruns && (results_read_member(runs, "cpu", s64, d->cpu) || results_read_member(runs, "blas", s64, d->blas) ||
                             results_read_member(runs, "libraries", s96, d->libs) ||
                             results_read_member(runs, "threads", H5T_NATIVE_INT, d->threads)));
  for (int r = 0; r < d->nruns; r++) {
    d->cpu[r][63] = d->blas[r][63] = d->libs[r][95] = 0;
  }
  if (!bad && has_member(runs, "host") && has_member(runs, "rank") && has_member(runs, "wall_seconds")) {
    d->host = calloc(n, sizeof *d->host);
    d->rank = calloc(n, sizeof(int));
    d->wall = calloc(n, sizeof(double));
    bad = !d->host || !d->rank || !d->wall ||
          (d->nruns && (results_read_member(runs, "host", s64, d->host) || results_read_member(runs, "rank", H5T_NATIVE_INT, d->rank) ||
                        results_read_member(runs, "wall_seconds", H5T_NATIVE_DOUBLE, d->wall)));
    for (int r = 0; !bad && r < d->nruns; r++) d->host[r][63] = 0;
  }
  if (s64 >= 0) H5Tclose(s64);
  if (s96 >= 0) H5Tclose(s96);
  return bad ? -1 : 0;
}

int results_metrics_alloc(ResultsData *d) {
  for (int k = 0; k < NMETRICS; k++) {
    const DatasetSpec *ds = &RESULTS_METRICS[k];
    MetricRows *m = &d->metric[k];
    m->width = ds->shape == SHAPE_RUN_STEP ? d->max_steps : d->max_evals;
    size_t n = (size_t)(d->nruns ? d->nruns : 1) * (size_t)(m->width ? m->width : 1);
    if (ds->type == VT_I64) {
      if (!(m->i = malloc(sizeof(long) * n))) return -1;
      for (size_t j = 0; j < n; j++) m->i[j] = (long)ds->fill;
    } else {
      if (!(m->f = malloc(sizeof(float) * n))) return -1;
      for (size_t j = 0; j < n; j++) m->f[j] = (float)ds->fill;
    }
  }
  return 0;
}

/* Metric k into its rows: a required one must be there and fit; an optional one that is absent
   or does not fit (files written by other tools) stays fill. */
static int read_metric(hid_t f, ResultsData *d, int k) {
  const DatasetSpec *ds = &RESULTS_METRICS[k];
  MetricRows *m = &d->metric[k];
  if (!ds->required && H5Lexists(f, ds->path, H5P_DEFAULT) <= 0) return 0;
  int bad = 0;
  size_t n = (size_t)d->nruns * (size_t)m->width;
  if (n && ds->type == VT_I64) bad = read_2d_of(f, ds->path, H5T_NATIVE_LONG, m->i, (hsize_t)d->nruns, m->width);
  else if (n) bad = read_2d_of(f, ds->path, H5T_NATIVE_FLOAT, m->f, (hsize_t)d->nruns, m->width);
  m->present = !bad;
  if (!bad || ds->required) return bad;
  for (size_t j = 0; j < n; j++) {
    if (m->i) m->i[j] = (long)ds->fill;
    else m->f[j] = (float)ds->fill;
  }
  return 0;
}

int results_runs_current(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), runs = f >= 0 ? H5Dopen2(f, RESULTS_RUNS, H5P_DEFAULT) : -1;
  int ok = runs >= 0;
  for (int k = 0; ok && k < NFIXED; k++) ok = has_member(runs, RESULTS_FIXED[k].name);
  if (runs >= 0) H5Dclose(runs);
  if (f >= 0) H5Fclose(f);
  return ok;
}

int results_load(const char *path, ResultsData *d, Err *e) {
  memset(d, 0, sizeof *d);
  if (regular_or_absent(path, e)) return -1; /* HDF5 would block on a FIFO */
  if (!path_exists(path)) return errf(e, "%s: no such file", path);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return h5fail(e, path, "cannot open");
  /* the shapes: [runs, steps] from the loss, [runs, evaluations] from the accuracy */
  const char *lpath = RESULTS_METRICS[DS_LOSS].path, *apath = RESULTS_METRICS[DS_ACC].path;
  hid_t runs = H5Dopen2(f, RESULTS_RUNS, H5P_DEFAULT), loss = H5Dopen2(f, lpath, H5P_DEFAULT);
  hid_t acc = H5Dopen2(f, apath, H5P_DEFAULT);
  int rc = 0;
  if (runs < 0 || loss < 0 || acc < 0) {
    rc = errf(e, "%s: not a bertsweep results file (no /runs, /%s or /%s)", path, lpath, apath);
    goto done;
  }
  hsize_t dims[2];
  hid_t sp = H5Dget_space(loss);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  d->nruns = (int)dims[0];
  d->max_steps = (long)dims[1];
  sp = H5Dget_space(acc);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  d->max_evals = (int)dims[1];
  size_t n = (size_t)(d->nruns ? d->nruns : 1);
  d->seed = malloc(sizeof(int) * n);
  d->status = calloc(n, STATUS_LEN);
  d->total_steps = malloc(sizeof(long) * n);
  d->steps_done = malloc(sizeof(long) * n);
  d->best_acc = malloc(sizeof(double) * n);
  d->final_acc = malloc(sizeof(double) * n);
  d->majority = malloc(sizeof(double) * n);
  d->bow = malloc(sizeof(double) * n);
  d->unk = malloc(sizeof(double) * n);
  d->labels = calloc(n, sizeof(int));
  if (!d->seed || !d->status || !d->total_steps || !d->steps_done || !d->best_acc || !d->final_acc || !d->majority ||
      !d->bow || !d->unk || !d->labels || results_metrics_alloc(d)) {
    rc = errf(e, "%s: out of memory", path);
    goto done;
  }
  sp = H5Dget_space(runs);
  hsize_t nrows = 0;
  if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &nrows, NULL) != 1 ||
      nrows != dims[0] || (hsize_t)d->nruns != nrows) {
    if (sp >= 0) H5Sclose(sp);
    rc = errf(e, "%s: /runs, /%s and /%s disagree on the number of runs: not a consistent results file", path,
              lpath, apath);
    goto done;
  }
  H5Sclose(sp);
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, STATUS_LEN);
  int bad = results_read_member(runs, "seed", H5T_NATIVE_INT, d->seed) || results_read_member(runs, "status", st, d->status) ||
            results_read_member(runs, "total_steps", H5T_NATIVE_LONG, d->total_steps) ||
            results_read_member(runs, "steps_done", H5T_NATIVE_LONG, d->steps_done) ||
            results_read_member(runs, "best_dev_accuracy", H5T_NATIVE_DOUBLE, d->best_acc) ||
            results_read_member(runs, "final_dev_accuracy", H5T_NATIVE_DOUBLE, d->final_acc);
  H5Tclose(st);
  if (!bad && results_read_member(runs, "majority_baseline", H5T_NATIVE_DOUBLE, d->majority))
    for (int i = 0; i < d->nruns; i++) d->majority[i] = 0.0; /* files from before the column existed */
  if (!bad && results_read_member(runs, "bow_baseline", H5T_NATIVE_DOUBLE, d->bow))
    for (int i = 0; i < d->nruns; i++) d->bow[i] = NAN;
  if (!bad && results_read_member(runs, "unk_rate", H5T_NATIVE_DOUBLE, d->unk))
    for (int i = 0; i < d->nruns; i++) d->unk[i] = NAN;
  if (!bad && results_read_member(runs, "labels", H5T_NATIVE_INT, d->labels))
    for (int i = 0; i < d->nruns; i++) d->labels[i] = 0;
  for (int i = 0; i < d->nruns; i++) d->status[i][STATUS_LEN - 1] = 0;
  for (int k = 0; k < NMETRICS && !bad; k++) bad = read_metric(f, d, k);
  if (bad) rc = h5fail(e, path, "reading the runs table and metrics");
  else rc = read_grid(runs, d, e, path);
  d->sweep_json = h5_read_str_attr(f, "sweep_config");
  d->version = h5_read_str_attr(f, "program_version"); /* NULL in old files */
  d->commit = h5_read_str_attr(f, "git_commit");
  d->written = h5_read_str_attr(f, "written");
  d->run_configs = d->nruns ? h5_read_str_array_attr(runs, "run_configs", d->nruns) : NULL;
  if (!rc && !(d->error = calloc(n, ERROR_LEN))) rc = errf(e, "%s: out of memory", path);
  if (!rc && d->nruns && has_member(runs, "error")) {
    hid_t et = H5Tcopy(H5T_C_S1);
    if (et < 0 || H5Tset_size(et, ERROR_LEN) < 0 || H5Tset_cset(et, H5T_CSET_UTF8) < 0 ||
        results_read_member(runs, "error", et, d->error))
      rc = h5fail(e, path, "reading /runs \"error\"");
    if (et >= 0) H5Tclose(et);
    for (int i = 0; i < d->nruns; i++) d->error[i][ERROR_LEN - 1] = 0;
  }
  if (!rc && read_provenance(runs, d)) rc = h5fail(e, path, "reading the provenance columns of /runs");
done:
  if (runs >= 0) H5Dclose(runs);
  if (loss >= 0) H5Dclose(loss);
  if (acc >= 0) H5Dclose(acc);
  H5Fclose(f);
  if (rc) results_data_free(d);
  return rc;
}

void results_data_free(ResultsData *d) {
  for (int r = 0; d->values && r < d->nruns; r++) {
    for (int c = 0; d->values[r] && c < RESULTS_MAX_COLS; c++) free(d->values[r][c]);
    free(d->values[r]);
  }
  free(d->values);
  free(d->seed); free(d->status); free(d->total_steps); free(d->steps_done);
  free(d->best_acc); free(d->final_acc); free(d->majority); free(d->bow); free(d->unk); free(d->labels);
  for (int k = 0; k < NMETRICS; k++) free(d->metric[k].f), free(d->metric[k].i);
  free(d->sweep_json);
  free(d->version);
  free(d->commit);
  free(d->written);
  for (int r = 0; d->run_configs && r < d->nruns; r++) free(d->run_configs[r]);
  free(d->run_configs);
  free(d->error);
  free(d->cpu); free(d->blas); free(d->libs); free(d->threads);
  free(d->host); free(d->rank); free(d->wall);
  memset(d, 0, sizeof *d);
}

/* ---- what a resume needs ---- */

/* The grid columns as stored: the members between "seed" and "status". */
static int read_columns(hid_t runs, ResultsLayout *lay) {
  hid_t ft = H5Dget_type(runs);
  int nm = ft >= 0 ? H5Tget_nmembers(ft) : -1;
  for (int i = 2; i < nm; i++) {
    char *name = H5Tget_member_name(ft, (unsigned)i);
    int stop = !name || strcmp(name, "status") == 0 || lay->ncols == RESULTS_MAX_COLS;
    if (!stop) {
      ResultsColumn *c = &lay->cols[lay->ncols++];
      hid_t mt = H5Tget_member_type(ft, (unsigned)i);
      H5T_class_t cls = H5Tget_class(mt);
      snprintf(c->name, sizeof c->name, "%s", name);
      c->type = cls == H5T_ENUM ? VT_BOOL : cls == H5T_INTEGER ? VT_I64 : cls == H5T_FLOAT ? VT_F64 : VT_STR;
      c->strsize = c->type == VT_STR ? (int)H5Tget_size(mt) : 0;
      H5Tclose(mt);
    }
    H5free_memory(name);
    if (stop) break;
  }
  if (ft >= 0) H5Tclose(ft);
  return nm < 0 ? -1 : 0;
}

typedef struct {
  char status[STATUS_LEN];
  int64_t steps_done, total_steps;
} StatusRow;

static int read_status(hid_t runs, ResultsInfo *info) {
  StatusRow *sr = calloc((size_t)(info->nruns ? info->nruns : 1), sizeof(StatusRow));
  hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(StatusRow)), st = H5Tcopy(H5T_C_S1);
  int ok = sr && mt >= 0 && st >= 0 && H5Tset_size(st, STATUS_LEN) >= 0 &&
           H5Tinsert(mt, "status", offsetof(StatusRow, status), st) >= 0 &&
           H5Tinsert(mt, "steps_done", offsetof(StatusRow, steps_done), H5T_NATIVE_INT64) >= 0 &&
           H5Tinsert(mt, "total_steps", offsetof(StatusRow, total_steps), H5T_NATIVE_INT64) >= 0 &&
           (info->nruns == 0 || H5Dread(runs, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, sr) >= 0);
  for (int i = 0; ok && i < info->nruns; i++) {
    memcpy(info->status[i], sr[i].status, STATUS_LEN);
    info->status[i][STATUS_LEN - 1] = 0;
    info->steps_done[i] = (long)sr[i].steps_done;
    info->total_steps[i] = (long)sr[i].total_steps;
  }
  free(sr);
  if (mt >= 0) H5Tclose(mt);
  if (st >= 0) H5Tclose(st);
  return ok ? 0 : -1;
}

static int read_slots(hid_t f, ResultsInfo *info) {
  if (H5Lexists(f, RESULTS_CHECKPOINTS, H5P_DEFAULT) <= 0) return 0;
  hid_t g = H5Gopen2(f, RESULTS_CHECKPOINTS, H5P_DEFAULT);
  H5G_info_t gi;
  int ok = g >= 0 && H5Gget_info(g, &gi) >= 0;
  if (g >= 0) H5Gclose(g);
  if (!ok) return -1;
  info->lay.nslots = (int)gi.nlinks;
  char first[64];
  results_slot_path(first, sizeof first, 0, SLOT_PARAMS);
  info->lay.slot_size = gi.nlinks ? (long)h5_dim(f, first, 1) : 0;
  info->slots = calloc((size_t)(gi.nlinks ? gi.nlinks : 1), sizeof(SlotState));
  ok = info->slots != NULL;
  int width = info->format_version >= 2 ? NSLOTSTATE : 8;
  for (int k = 0; ok && k < info->lay.nslots; k++) {
    char name[64];
    results_slot_path(name, sizeof name, k, SLOT_STATE);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    for (int i = 0; i < NSLOTSTATE; i++) info->slots[k].v[i] = NAN;
    ok = d >= 0 && h5_read_at(d, H5T_NATIVE_DOUBLE, -1, 0, width, info->slots[k].v) == 0;
    if (d >= 0) H5Dclose(d);
  }
  return ok ? 0 : -1;
}

static int read_format(hid_t f) {
  if (H5Aexists(f, "format_version") <= 0) return 1;
  int v = -1;
  hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
  if (a < 0 || H5Aread(a, H5T_NATIVE_INT, &v) < 0) v = -1;
  if (a >= 0) H5Aclose(a);
  return v;
}

int results_is_results_file(const char *path) {
  Err ignored;
  if (regular_or_absent(path, &ignored)) return 0;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (H5Fis_hdf5(path) <= 0) return 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  int yes = f >= 0 && H5Aexists(f, "sweep_config") > 0;
  if (f >= 0) H5Fclose(f);
  return yes;
}

int results_inspect(const char *path, ResultsInfo *info, Err *e) {
  memset(info, 0, sizeof *info);
  if (regular_or_absent(path, e)) return -1;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return h5fail(e, path, "cannot open (`bertsweep check` says more)");
  hid_t runs = H5Dopen2(f, RESULTS_RUNS, H5P_DEFAULT);
  info->sweep_json = h5_read_str_attr(f, "sweep_config");
  info->config_path = h5_read_str_attr(f, "config_path");
  info->format_version = read_format(f);
  if (runs < 0 || !info->sweep_json) {
    if (runs >= 0) H5Dclose(runs);
    H5Fclose(f);
    results_info_free(info);
    return errf(e, "%s: not a bertsweep results file (no /runs or sweep_config)", path);
  }
  info->nruns = (int)h5_dim(f, RESULTS_RUNS, 0);
  info->lay.nruns = info->nruns;
  info->lay.max_steps = (long)h5_dim(f, RESULTS_METRICS[DS_LOSS].path, 1);
  info->lay.max_evals = (int)h5_dim(f, RESULTS_METRICS[DS_ACC].path, 1);
  size_t n = (size_t)(info->nruns ? info->nruns : 1);
  info->run_configs = h5_read_str_array_attr(runs, "run_configs", info->nruns);
  info->status = calloc(n, sizeof *info->status);
  info->steps_done = calloc(n, sizeof(long));
  info->total_steps = calloc(n, sizeof(long));
  int ok = (info->run_configs || info->nruns == 0) && info->status && info->steps_done && info->total_steps &&
           read_columns(runs, &info->lay) == 0 && read_status(runs, info) == 0 && read_slots(f, info) == 0;
  info->seed = calloc(n, sizeof(int));
  ok = ok && info->seed && (info->nruns == 0 || results_read_member(runs, "seed", H5T_NATIVE_INT, info->seed) >= 0);
  if (ok) { /* the grid columns as text, read as the report reads them */
    ResultsData grid = {.nruns = info->nruns};
    Err ignored;
    ok = read_grid(runs, &grid, &ignored, path) == 0;
    info->values = grid.values;
  }
  if (ok && H5Lexists(f, RESULTS_FINAL, H5P_DEFAULT) > 0) info->lay.final_size = (long)h5_dim(f, RESULTS_FINAL, 1);
  H5Dclose(runs);
  H5Fclose(f);
  if (!ok) {
    results_info_free(info);
    return h5fail(e, path, "reading the runs table and checkpoint states (`bertsweep check` says more)");
  }
  return 0;
}

void results_info_free(ResultsInfo *info) {
  for (int r = 0; info->values && r < info->nruns; r++) {
    for (int c = 0; info->values[r] && c < RESULTS_MAX_COLS; c++) free(info->values[r][c]);
    free(info->values[r]);
  }
  free(info->values);
  free(info->seed);
  for (int i = 0; info->run_configs && i < info->nruns; i++) free(info->run_configs[i]);
  free(info->run_configs);
  free(info->status);
  free(info->steps_done);
  free(info->total_steps);
  free(info->slots);
  free(info->sweep_json);
  free(info->config_path);
  memset(info, 0, sizeof *info);
}

int results_read_final(const char *path, int row, float *dst, long n, Err *e) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return h5fail(e, path, "cannot open");
  int rc = 0;
  if (H5Lexists(f, RESULTS_FINAL, H5P_DEFAULT) <= 0) {
    rc = errf(e, "%s: no /final_weights (no run of the sweep set train.save_final_weights)", path);
  } else {
    hid_t d = H5Dopen2(f, RESULTS_FINAL, H5P_DEFAULT), fs = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = {0, 0}, start[2] = {(hsize_t)row, 0}, count[2] = {1, (hsize_t)n};
    if (fs < 0 || H5Sget_simple_extent_dims(fs, dims, NULL) != 2) rc = h5fail(e, path, "reading /final_weights");
    else if ((hsize_t)row >= dims[0] || dims[1] != (hsize_t)n)
      rc = errf(e, "%s: /final_weights is %llu x %llu; run %d with %ld parameters does not fit", path,
                (unsigned long long)dims[0], (unsigned long long)dims[1], row, n);
    else {
      hid_t ms = H5Screate_simple(2, count, NULL);
      if (ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
          H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, dst) < 0)
        rc = h5fail(e, path, "reading /final_weights");
      if (ms >= 0) H5Sclose(ms);
    }
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
  }
  H5Fclose(f);
  return rc;
}
