#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/results_read.h"

static int h5fail(Err *e, const char *path, const char *what) {
  char msg[512];
  h5_error_message(msg, sizeof msg);
  return errf(e, "%s: %s: %s", path, what, msg);
}

/* Reads one member of the /runs compound into buf (one element of mtype per run). */
static int read_member(hid_t runs, const char *name, hid_t mtype, void *buf) {
  size_t sz = H5Tget_size(mtype);
  hid_t ct = H5Tcreate(H5T_COMPOUND, sz);
  int ok = ct >= 0 && H5Tinsert(ct, name, 0, mtype) >= 0 && H5Dread(runs, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
  if (ct >= 0) H5Tclose(ct);
  return ok ? 0 : -1;
}

static int read_2d(hid_t f, const char *name, hid_t type, void *buf) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  int ok = d >= 0 && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
  if (d >= 0) H5Dclose(d);
  return ok ? 0 : -1;
}

/* The grid columns: the members between "seed" and "status", as text. */
static int read_grid(hid_t runs, ResultsData *d, Err *e, const char *path) {
  hid_t ft = H5Dget_type(runs);
  int nm = H5Tget_nmembers(ft), bad = ft < 0 || nm < 0;
  d->values = calloc((size_t)(d->nruns ? d->nruns : 1), sizeof(char **));
  for (int r = 0; d->values && r < d->nruns; r++) d->values[r] = calloc(RESULTS_MAX_COLS, sizeof(char *));
  void *buf = malloc((size_t)(d->nruns ? d->nruns : 1) * 256);
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
    size_t sz = H5Tget_size(mt);
    hid_t native = cls == H5T_FLOAT ? H5Tcopy(H5T_NATIVE_DOUBLE) : cls == H5T_INTEGER ? H5Tcopy(H5T_NATIVE_INT64)
                                                                                        : H5Tcopy(mt);
    bad = sz > 255 || read_member(runs, name, native, buf) < 0;
    for (int r = 0; r < d->nruns && !bad; r++) {
      char text[300];
      if (cls == H5T_FLOAT) snprintf(text, sizeof text, "%g", ((double *)buf)[r]);
      else if (cls == H5T_INTEGER) snprintf(text, sizeof text, "%lld", (long long)((int64_t *)buf)[r]);
      else if (cls == H5T_ENUM) snprintf(text, sizeof text, "%s", ((signed char *)buf)[r] ? "true" : "false");
      else snprintf(text, sizeof text, "%.*s", (int)sz, (char *)buf + (size_t)r * sz);
      bad = !(d->values[r][d->ncols] = strdup(text));
    }
    H5Tclose(native);
    H5Tclose(mt);
    H5free_memory(name);
    d->ncols++;
  }
  free(buf);
  if (ft >= 0) H5Tclose(ft);
  return bad ? h5fail(e, path, "reading the grid columns of /runs") : 0;
}

int results_load(const char *path, ResultsData *d, Err *e) {
  memset(d, 0, sizeof *d);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return h5fail(e, path, "cannot open (a sweep writing it now? set HDF5_USE_FILE_LOCKING=FALSE)");
  hid_t runs = H5Dopen2(f, "runs", H5P_DEFAULT), loss = H5Dopen2(f, "train/loss", H5P_DEFAULT);
  hid_t acc = H5Dopen2(f, "eval/accuracy", H5P_DEFAULT);
  int rc = 0;
  if (runs < 0 || loss < 0 || acc < 0) {
    rc = errf(e, "%s: not a bertsweep results file (no /runs, /train/loss or /eval/accuracy)", path);
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
  d->status = calloc(n, 8);
  d->total_steps = malloc(sizeof(long) * n);
  d->steps_done = malloc(sizeof(long) * n);
  d->best_acc = malloc(sizeof(double) * n);
  d->final_acc = malloc(sizeof(double) * n);
  d->majority = malloc(sizeof(double) * n);
  d->loss = malloc(sizeof(float) * n * (size_t)(d->max_steps ? d->max_steps : 1));
  d->acc = malloc(sizeof(float) * n * (size_t)(d->max_evals ? d->max_evals : 1));
  d->estep = malloc(sizeof(long) * n * (size_t)(d->max_evals ? d->max_evals : 1));
  if (!d->seed || !d->status || !d->total_steps || !d->steps_done || !d->best_acc || !d->final_acc || !d->majority ||
      !d->loss || !d->acc || !d->estep) {
    rc = errf(e, "%s: out of memory", path);
    goto done;
  }
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, 8);
  int bad = read_member(runs, "seed", H5T_NATIVE_INT, d->seed) || read_member(runs, "status", st, d->status) ||
            read_member(runs, "total_steps", H5T_NATIVE_LONG, d->total_steps) ||
            read_member(runs, "steps_done", H5T_NATIVE_LONG, d->steps_done) ||
            read_member(runs, "best_dev_accuracy", H5T_NATIVE_DOUBLE, d->best_acc) ||
            read_member(runs, "final_dev_accuracy", H5T_NATIVE_DOUBLE, d->final_acc);
  H5Tclose(st);
  if (!bad && read_member(runs, "majority_baseline", H5T_NATIVE_DOUBLE, d->majority))
    for (int i = 0; i < d->nruns; i++) d->majority[i] = 0.0; /* files from before the column existed */
  for (int i = 0; i < d->nruns; i++) d->status[i][7] = 0;
  bad = bad || (d->nruns && d->max_steps && read_2d(f, "train/loss", H5T_NATIVE_FLOAT, d->loss)) ||
        (d->nruns && d->max_evals && (read_2d(f, "eval/accuracy", H5T_NATIVE_FLOAT, d->acc) ||
                                      read_2d(f, "eval/step", H5T_NATIVE_LONG, d->estep)));
  if (bad) rc = h5fail(e, path, "reading the runs table and metrics");
  else rc = read_grid(runs, d, e, path);
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
  free(d->best_acc); free(d->final_acc); free(d->majority);
  free(d->loss); free(d->acc); free(d->estep);
  memset(d, 0, sizeof *d);
}
