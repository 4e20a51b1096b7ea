/* Writing a whole results file: at the start of a sweep, when a resume grows it, when a
   finished sweep drops its checkpoints, and when `check --salvage` copies a damaged one.
   The file is made as PATH.partial, flushed, and renamed over PATH in one step. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <hdf5_hl.h>
#include <zlib.h>
#include "io/fileutil.h"
#include "io/results.h"
#include "src/fault.h"

#define COPY_BLOCK (1L << 22) /* floats per read when copying checkpoints (16 MB) */

typedef struct {
  const char *path, *tmp;
  const ResultsLayout *lay;
  hid_t f, old;            /* the new file; the old one or -1 */
  hid_t run_type;
  RowShape shape;
  unsigned char *rows;     /* [nruns * shape.size] */
  unsigned char *lost;     /* [nruns]: tolerant copy could not read the row */
  hid_t metric[NMETRICS], coord[NCOORDS], runs, final;
} Build;

static int describe(hid_t d, const char *units, const char *meaning) {
  return h5_attr_str(d, "units", units) || h5_attr_str(d, "long_name", meaning);
}

static hsize_t shape_len(const ResultsLayout *L, ShapeRule s, int which) {
  hsize_t run = (hsize_t)L->nruns, step = (hsize_t)L->max_steps, ev = (hsize_t)L->max_evals;
  switch (s) {
  case SHAPE_RUN_STEP: return which ? step : run;
  case SHAPE_RUN_EVAL: return which ? ev : run;
  case SHAPE_STEP: return step;
  case SHAPE_EVAL: return ev;
  default: return run;
  }
}

/* Chunked (one run per chunk), allocated now and filled with the fill value: later writes
   are raw data into existing chunks. An empty dimension is stored as 1 (never read). */
static hid_t make_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *fill) {
  hsize_t d[2], chunk[2];
  for (int i = 0; i < rank; i++) d[i] = dims[i] ? dims[i] : 1;
  chunk[0] = rank == 2 ? 1 : (d[0] < 4096 ? d[0] : 4096);
  chunk[1] = rank == 2 ? d[1] : 0;
  hid_t sp = H5Screate_simple(rank, d, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), ds = -1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0 &&
      (!fill || (H5Pset_fill_value(dcpl, type, fill) >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) >= 0)))
    ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  return ds;
}

/* Contiguous, allocated now, never filled (checkpoint data is always written before read). */
static hid_t make_contig(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims) {
  hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0)
    d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  return d;
}

/* ---- /runs ---- */

static int build_rows(Build *b, const RunRow *rows, const ResultsSource *src, Err *e) {
  const ResultsLayout *L = b->lay;
  int nold = src && src->path ? src->nrows : 0;
  for (int i = 0; i < L->nruns; i++)
    if (rows && (i >= nold || src->tolerant)) results_fill_row(L, &b->shape, b->rows + (size_t)i * b->shape.size, &rows[i]);
  if (!nold) return 0;
  /* HDF5 converts the old compound member by member (by name): int to float, shorter to
     longer strings; the old file's values are kept exactly as written, and a column the old
     file lacks (added since, e.g. unk_rate) keeps the fill value written here first */
  RunRow blank = results_row_pending(0, 0, 0, NULL);
  for (int i = 0; i < nold && !src->tolerant; i++) results_fill_row(L, &b->shape, b->rows + (size_t)i * b->shape.size, &blank);
  hid_t d = H5Dopen2(b->old, RESULTS_RUNS, H5P_DEFAULT);
  if (d < 0 && !src->tolerant) return h5err(e, "%s: opening /runs", src->path);
  if (!src->tolerant) {
    int bad = h5_read_at(d, b->run_type, -1, 0, nold, b->rows);
    H5Dclose(d);
    return bad ? h5err(e, "%s: reading /runs", src->path) : 0;
  }
  unsigned char *tmp = malloc(b->shape.size);
  if (!tmp) { if (d >= 0) H5Dclose(d); return errf(e, "out of memory"); }
  for (int i = 0; i < nold; i++) {
    memcpy(tmp, b->rows + (size_t)i * b->shape.size, b->shape.size);
    if (d < 0 || h5_read_at(d, b->run_type, -1, i, 1, tmp)) b->lost[i] = 1;
    else memcpy(b->rows + (size_t)i * b->shape.size, tmp, b->shape.size);
  }
  free(tmp);
  if (d >= 0) H5Dclose(d);
  return 0;
}

static int create_runs(Build *b, const char *const *run_configs, Err *e) {
  hsize_t n = (hsize_t)b->lay->nruns;
  if ((b->runs = make_dataset(b->f, RESULTS_RUNS, b->run_type, 1, &n, NULL)) < 0) return h5err(e, "%s: creating /runs", b->tmp);
  if (b->lay->nruns && h5_write_at(b->runs, b->run_type, -1, 0, b->lay->nruns, b->rows))
    return h5err(e, "%s: writing /runs", b->tmp);
  cJSON *desc = cJSON_CreateObject();
  cJSON_AddStringToObject(desc, "run_id", "row number");
  cJSON_AddStringToObject(desc, "seed", "the run's seed (train.seed)");
  for (int c = 0; c < b->lay->ncols; c++) cJSON_AddStringToObject(desc, b->lay->cols[c].name, "the run's value of this grid key");
  for (int f = 0; f < NFIXED; f++) cJSON_AddStringToObject(desc, RESULTS_FIXED[f].name, RESULTS_FIXED[f].description);
  char *dtext = cJSON_PrintUnformatted(desc), statuses[256] = "";
  cJSON_Delete(desc);
  for (int s = 0; s < NRUN_STATUS; s++)
    snprintf(statuses + strlen(statuses), sizeof statuses - strlen(statuses), "%s%s", s ? ", " : "", RUN_STATUS_NAME[s]);
  int bad = !dtext || h5_attr_str(b->runs, "column_descriptions", dtext) || h5_attr_str(b->runs, "statuses", statuses) ||
            h5_attr_str(b->runs, "long_name", "one row per run: its grid values, seed, status and summary") ||
            (b->lay->nruns && h5_attr_strs(b->runs, "run_configs", run_configs, b->lay->nruns, 0));
  cJSON_free(dtext);
  return bad ? h5err(e, "%s: attributes of /runs", b->tmp) : 0;
}

/* ---- metrics and coordinates ---- */

/* Copies the old rows' metrics, a row at a time; tolerant: a row with any unreadable metric
   is lost (left at the fill values). */
static int copy_metrics(Build *b, const ResultsSource *src, Err *e) {
  hid_t od[NMETRICS];
  long cols[NMETRICS];
  void *buf[NMETRICS] = {0};
  int rc = 0;
  for (int i = 0; i < NMETRICS; i++) {
    const DatasetSpec *ds = &RESULTS_METRICS[i];
    od[i] = H5Dopen2(b->old, ds->path, H5P_DEFAULT);
    cols[i] = (long)h5_dim(b->old, ds->path, 1);
    if (cols[i] > (long)shape_len(b->lay, ds->shape, 1)) cols[i] = (long)shape_len(b->lay, ds->shape, 1);
    buf[i] = malloc((size_t)(cols[i] ? cols[i] : 1) * 8);
    if (!buf[i]) rc = errf(e, "out of memory");
    else if (od[i] < 0 && !src->tolerant) rc = h5err(e, "%s: opening /%s", src->path, ds->path);
  }
  for (long r = 0; !rc && r < src->nrows; r++) {
    int bad = b->lost[r];
    for (int i = 0; i < NMETRICS && !bad; i++)
      bad = od[i] < 0 || (cols[i] > 0 && h5_read_at(od[i], h5_native(RESULTS_METRICS[i].type), r, 0, cols[i], buf[i]));
    if (bad && !src->tolerant) rc = h5err(e, "%s: reading the metrics of run %ld", src->path, r);
    if (bad) {
      b->lost[r] = 1;
      continue;
    }
    for (int i = 0; i < NMETRICS && !rc; i++)
      if (cols[i] > 0 && h5_write_at(b->metric[i], h5_native(RESULTS_METRICS[i].type), r, 0, cols[i], buf[i]))
        rc = h5err(e, "%s: writing /%s", b->tmp, RESULTS_METRICS[i].path);
  }
  for (int i = 0; i < NMETRICS; i++) {
    free(buf[i]);
    if (od[i] >= 0) H5Dclose(od[i]);
  }
  return rc;
}

static int create_metrics(Build *b, const ResultsSource *src, Err *e) {
  hid_t g1 = H5Gcreate2(b->f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g2 = H5Gcreate2(b->f, "eval", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g1 >= 0) H5Gclose(g1);
  if (g2 >= 0) H5Gclose(g2);
  if (g1 < 0 || g2 < 0) return h5err(e, "%s: creating groups", b->tmp);
  for (int i = 0; i < NMETRICS; i++) {
    const DatasetSpec *ds = &RESULTS_METRICS[i];
    hsize_t dims[2] = {shape_len(b->lay, ds->shape, 0), shape_len(b->lay, ds->shape, 1)};
    float ff = (float)ds->fill;
    int64_t fi = (int64_t)ds->fill;
    hid_t t = h5_native(ds->type);
    b->metric[i] = make_dataset(b->f, ds->path, t, 2, dims, ds->type == VT_I64 ? (const void *)&fi : (const void *)&ff);
    if (b->metric[i] < 0 || describe(b->metric[i], ds->units, ds->description))
      return h5err(e, "%s: creating /%s", b->tmp, ds->path);
  }
  return src && src->path && src->nrows ? copy_metrics(b, src, e) : 0;
}

static int create_coords(Build *b, Err *e) {
  long n = b->lay->max_steps > b->lay->nruns ? b->lay->max_steps : b->lay->nruns;
  n = n > b->lay->max_evals ? n : b->lay->max_evals;
  int64_t *v = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  if (!v) return errf(e, "out of memory");
  int bad = 0;
  for (int c = 0; c < NCOORDS && !bad; c++) {
    const DatasetSpec *ds = &RESULTS_COORDS[c];
    hsize_t len = shape_len(b->lay, ds->shape, 0);
    for (long i = 0; i < n; i++) v[i] = c == CO_STEP ? i + 1 : i;
    b->coord[c] = make_dataset(b->f, ds->path, H5T_NATIVE_INT64, 1, &len, NULL);
    bad = b->coord[c] < 0 || (len && h5_write_at(b->coord[c], H5T_NATIVE_INT64, -1, 0, (long)len, v)) ||
          describe(b->coord[c], ds->units, ds->description) || H5DSset_scale(b->coord[c], RESULTS_DIM_NAME[c]) < 0;
  }
  free(v);
  return bad ? h5err(e, "%s: creating the coordinates", b->tmp) : 0;
}

/* Dimension scales from the start: xarray/h5netcdf read the file at any moment. */
static int attach_scales(Build *b, Err *e) {
  int bad = H5DSattach_scale(b->runs, b->coord[CO_RUN], 0) < 0;
  for (int i = 0; i < NMETRICS && !bad; i++) {
    int ev = RESULTS_METRICS[i].shape == SHAPE_RUN_EVAL;
    bad = H5DSattach_scale(b->metric[i], b->coord[CO_RUN], 0) < 0 ||
          H5DSattach_scale(b->metric[i], b->coord[ev ? CO_EVAL : CO_STEP], 1) < 0;
  }
  if (!bad && b->final >= 0) bad = H5DSattach_scale(b->final, b->coord[CO_RUN], 0) < 0;
  return bad ? h5err(e, "%s: attaching dimension scales", b->tmp) : 0;
}

/* ---- the runs' coordinates in train/ and eval/ ---- */

/* Member m of /runs (run_id, seed, then the grid columns) as a dataset along /run in group g. */
static int run_coord(Build *b, hid_t g, const char *group, unsigned m, Err *e) {
  char *name = H5Tget_member_name(b->run_type, m);
  hid_t t = H5Tget_member_type(b->run_type, m);
  size_t off = H5Tget_member_offset(b->run_type, m), sz = t >= 0 ? H5Tget_size(t) : 0;
  long n = b->lay->nruns;
  unsigned char *v = name && sz ? malloc(sz * (size_t)(n ? n : 1)) : NULL;
  hid_t d = -1;
  int bad = !v;
  for (long r = 0; !bad && r < n; r++) memcpy(v + (size_t)r * sz, b->rows + (size_t)r * b->shape.size + off, sz);
  if (!bad) {
    hsize_t len = (hsize_t)n;
    char what[300];
    snprintf(what, sizeof what, m == 0 ? "run id (row of /runs)" : m == 1 ? "the run's seed (train.seed)" : "the run's value of the grid key %s", name);
    d = make_dataset(g, name, t, 1, &len, NULL);
    bad = d < 0 || (n && h5_write_at(d, t, -1, 0, n, v)) || describe(d, "1", what) ||
          (H5Tget_class(t) == H5T_STRING && h5_attr_str(d, "_Encoding", "utf-8")) || /* xarray decodes to str */
          H5DSattach_scale(d, b->coord[CO_RUN], 0) < 0;
  }
  if (bad) h5err(e, "%s: creating /%s/%s", b->tmp, group, name ? name : "seed");
  if (d >= 0) H5Dclose(d);
  if (t >= 0) H5Tclose(t);
  free(v);
  H5free_memory(name);
  return bad ? -1 : 0;
}

/* Each metric group gets the runs' ids, seeds and grid values along /run, and each metric
   names them in its `coordinates` attribute (CF): xarray opens train/ or eval/ with run_id,
   seed and every grid key as coordinates of `run`, no join with /runs needed. */
static int create_run_coords(Build *b, Err *e) {
  static const char *const GROUP[2] = {"train", "eval"};
  unsigned ncoord = 2 + (unsigned)b->lay->ncols; /* /runs' first members: run_id, seed, grid columns */
  size_t len = 16;
  for (int c = 0; c < b->lay->ncols; c++) len += strlen(b->lay->cols[c].name) + 1;
  char *names = malloc(len);
  if (!names) return errf(e, "out of memory");
  snprintf(names, len, "run_id seed");
  for (int c = 0; c < b->lay->ncols; c++) strcat(strcat(names, " "), b->lay->cols[c].name);
  int rc = 0;
  for (int k = 0; k < 2 && !rc; k++) {
    hid_t g = H5Gopen2(b->f, GROUP[k], H5P_DEFAULT);
    if (g < 0) rc = h5err(e, "%s: opening /%s", b->tmp, GROUP[k]);
    for (unsigned m = 0; !rc && m < ncoord; m++) rc = run_coord(b, g, GROUP[k], m, e);
    if (g >= 0) H5Gclose(g);
  }
  for (int i = 0; i < NMETRICS && !rc; i++)
    if (h5_attr_str(b->metric[i], "coordinates", names)) rc = h5err(e, "%s: /%s coordinates", b->tmp, RESULTS_METRICS[i].path);
  free(names);
  return rc;
}

/* ---- checkpoints and final weights ---- */

static int copy_slot_half(hid_t from, hid_t to, int half, long n, float *buf) {
  for (long o = 0; o < n; o += COPY_BLOCK) {
    long k = n - o < COPY_BLOCK ? n - o : COPY_BLOCK;
    if (h5_read_at(from, H5T_NATIVE_FLOAT, half, o, k, buf) || h5_write_at(to, H5T_NATIVE_FLOAT, half, o, k, buf)) return -1;
  }
  return 0;
}

/* Copies old slot k into the new slot's datasets (the valid half and the state). */
static int copy_slot(Build *b, int k, hid_t *dst, const ResultsSource *src, Err *e) {
  hid_t od[NSLOT_DATASETS];
  char name[64];
  int bad = 0;
  for (int i = 0; i < NSLOT_DATASETS; i++) {
    results_slot_path(name, sizeof name, k, i);
    od[i] = H5Dopen2(b->old, name, H5P_DEFAULT);
    bad |= od[i] < 0;
  }
  SlotState st = {{SLOT_EMPTY}};
  bad = bad || h5_read_at(od[SLOT_STATE], H5T_NATIVE_DOUBLE, -1, 0, NSLOTSTATE, st.v);
  /* a state from a file someone else wrote: every double checked before it becomes an integer */
  long n = st.v[SS_NFLOATS] > 0 && st.v[SS_NFLOATS] <= (double)b->lay->slot_size ? (long)st.v[SS_NFLOATS] : 0;
  int half = st.v[SS_HALF] == 1 ? 1 : 0, row = results_slot_row(&st, src->nrows);
  bad = bad || (st.v[SS_HALF] != 0 && st.v[SS_HALF] != 1);
  if (!bad && src->tolerant && row >= 0 && row < src->nrows && b->lost[row]) { /* its run starts over */
    SlotState empty = {{SLOT_EMPTY}};
    bad = h5_write_at(dst[SLOT_STATE], H5T_NATIVE_DOUBLE, -1, 0, NSLOTSTATE, empty.v);
    for (int i = 0; i < NSLOT_DATASETS; i++) H5Dclose(od[i]);
    return bad ? h5err(e, "%s: clearing checkpoint slot %d", b->tmp, k) : 0;
  }
  float *buf = bad ? NULL : malloc(sizeof(float) * COPY_BLOCK);
  bad = bad || !buf || (half != 0 && half != 1) || n <= 0 || n > b->lay->slot_size;
  for (int i = SLOT_PARAMS; i <= SLOT_ADAM_V && !bad; i++) bad = copy_slot_half(od[i], dst[i], half, n, buf);
  bad = bad || h5_write_at(dst[SLOT_STATE], H5T_NATIVE_DOUBLE, -1, 0, NSLOTSTATE, st.v);
  free(buf);
  for (int i = 0; i < NSLOT_DATASETS; i++)
    if (od[i] >= 0) H5Dclose(od[i]);
  return bad ? h5err(e, "%s: copying checkpoint slot %d", src->path, k) : 0;
}

static int create_slots(Build *b, const ResultsSource *src, Err *e) {
  hid_t g = H5Gcreate2(b->f, RESULTS_CHECKPOINTS, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0 || h5_attr_str(g, "long_name", "resume state of unfinished runs: parameters and Adam moments in two halves "
                                           "(the state's 'half' names the valid one)"))
    return h5err(e, "%s: creating /" RESULTS_CHECKPOINTS, b->tmp);
  int rc = 0;
  for (int k = 0; k < b->lay->nslots && !rc; k++) {
    char name[64];
    results_slot_path(name, sizeof name, k, -1);
    hid_t sg = H5Gcreate2(b->f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d2[2] = {2, (hsize_t)(b->lay->slot_size > 0 ? b->lay->slot_size : 1)}, d1[1] = {NSLOTSTATE};
    hid_t ds[NSLOT_DATASETS];
    int bad = sg < 0;
    for (int i = 0; i < NSLOT_DATASETS; i++) {
      ds[i] = i == SLOT_STATE ? make_contig(sg, SLOT_DATASETS[i], H5T_NATIVE_DOUBLE, 1, d1)
                              : make_contig(sg, SLOT_DATASETS[i], H5T_NATIVE_FLOAT, 2, d2);
      bad |= ds[i] < 0;
    }
    SlotState empty = {{SLOT_EMPTY}};
    int from = src && src->slot_src ? src->slot_src[k] : -1;
    if (bad) rc = h5err(e, "%s: creating checkpoint slot %d", b->tmp, k);
    else if (from >= 0) rc = copy_slot(b, from, ds, src, e);
    else if (h5_write_at(ds[SLOT_STATE], H5T_NATIVE_DOUBLE, -1, 0, NSLOTSTATE, empty.v)) rc = h5err(e, "%s: slot %d", b->tmp, k);
    for (int i = 0; i < NSLOT_DATASETS; i++)
      if (ds[i] >= 0) H5Dclose(ds[i]);
    if (sg >= 0) H5Gclose(sg);
  }
  H5Gclose(g);
  return rc;
}

/* /final_weights' second dimension, "parameter": a dimension without values, stored as netCDF-4
   stores one (a scale named "This is a netCDF dimension but not a netCDF variable." and its
   length, never written, so it takes no space), which h5netcdf and xarray read as a plain
   dimension: the root group opens in xarray with final weights in it. */
static int parameter_dim(Build *b, Err *e) {
  hsize_t n = (hsize_t)b->lay->final_size, chunk = n < 65536 ? n : 65536;
  char name[80];
  snprintf(name, sizeof name, "This is a netCDF dimension but not a netCDF variable. %10llu", (unsigned long long)n);
  hid_t sp = H5Screate_simple(1, &n, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0 && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_INCR) >= 0 &&
      H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0)
    d = H5Dcreate2(b->f, "parameter", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  int bad = d < 0 || H5DSset_scale(d, name) < 0 || H5DSattach_scale(b->final, d, 1) < 0;
  if (d >= 0) H5Dclose(d);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  return bad ? h5err(e, "%s: creating the dimension /parameter", b->tmp) : 0;
}

static int create_final(Build *b, const ResultsSource *src, Err *e) {
  const ResultsLayout *L = b->lay;
  hsize_t dims[2] = {(hsize_t)(L->nruns ? L->nruns : 1), (hsize_t)L->final_size}, chunk[2] = {1, (hsize_t)L->final_size};
  hid_t sp = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 2, chunk) >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0)
    b->final = H5Dcreate2(b->f, RESULTS_FINAL, H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (b->final < 0 || h5_attr_str(b->final, "tensors", L->final_layout ? L->final_layout : "[]") || parameter_dim(b, e) ||
      describe(b->final, "1", FINAL_WEIGHTS_MEANING))
    return h5err(e, "%s: creating /final_weights", b->tmp);
  if (!src || !src->path || H5Lexists(b->old, RESULTS_FINAL, H5P_DEFAULT) <= 0) return 0;
  long n = (long)h5_dim(b->old, RESULTS_FINAL, 1);
  hid_t od = H5Dopen2(b->old, RESULTS_FINAL, H5P_DEFAULT);
  float *buf = n > 0 && n <= L->final_size ? malloc(sizeof(float) * (size_t)n) : NULL;
  int rc = od >= 0 && buf ? 0 : h5err(e, "%s: opening /final_weights", src->path);
  for (int r = 0; !rc && r < src->nrows; r++) {
    const char *status = (const char *)b->rows + (size_t)r * b->shape.size + b->shape.col_off[L->ncols];
    if (b->lost[r] || run_status_parse(status) != RUN_DONE) continue;
    if (h5_read_at(od, H5T_NATIVE_FLOAT, r, 0, n, buf)) {
      if (src->tolerant) b->lost[r] = 1;
      else rc = h5err(e, "%s: reading final weights of run %d", src->path, r);
    } else if (h5_write_at(b->final, H5T_NATIVE_FLOAT, r, 0, n, buf)) {
      rc = h5err(e, "%s: writing final weights", b->tmp);
    }
  }
  free(buf);
  if (od >= 0) H5Dclose(od);
  return rc;
}

/* ---- the file ---- */

static int file_attrs(Build *b, const char *sweep_json, const char *config_path, Err *e) {
  char now[64], ver[64], *created = b->old >= 0 ? h5_read_str_attr(b->old, "created") : NULL;
  time_t t = time(NULL);
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  snprintf(ver, sizeof ver, "bertsweep %s", BERTSWEEP_VERSION);
  int fv = RESULTS_FORMAT_VERSION;
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = sp >= 0 ? H5Acreate2(b->f, "format_version", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
  int bad = a < 0 || H5Awrite(a, H5T_NATIVE_INT, &fv) < 0;
  if (a >= 0) H5Aclose(a);
  if (sp >= 0) H5Sclose(sp);
  char crc[16];
  snprintf(crc, sizeof crc, "%08lx", (unsigned long)crc32(0L, (const Bytef *)sweep_json, (uInt)strlen(sweep_json)));
  bad = bad || h5_attr_str(b->f, "program_version", ver) || h5_attr_str(b->f, "sweep_config", sweep_json) ||
        h5_attr_str(b->f, "git_commit", BERTSWEEP_COMMIT) || h5_attr_str(b->f, "sweep_config_crc32", crc) ||
        h5_attr_str(b->f, "config_path", config_path ? config_path : "") ||
        h5_attr_str(b->f, "created", created ? created : now) || h5_attr_str(b->f, "written", now);
  free(created);
  return bad ? h5err(e, "%s: writing attributes", b->tmp) : 0;
}

static int fill_file(Build *b, const RunRow *rows, const char *const *run_configs, const char *sweep_json,
                     const char *config_path, const ResultsSource *src, Err *e) {
  int copying = src && src->path;
  if (build_rows(b, rows, src, e) || create_metrics(b, src, e)) return -1;
  for (int r = 0; src && src->tolerant && r < src->nrows; r++)
    if (b->lost[r]) results_fill_row(b->lay, &b->shape, b->rows + (size_t)r * b->shape.size, &rows[r]);
  fault_kill("killbuild", 1, copying);
  if (create_runs(b, run_configs, e) || create_coords(b, e)) return -1;
  if (b->lay->final_size > 0 && create_final(b, src, e)) return -1;
  if (attach_scales(b, e) || create_run_coords(b, e) || file_attrs(b, sweep_json, config_path, e)) return -1;
  fault_kill("killbuild", 2, copying);
  return b->lay->slot_size > 0 || b->lay->nslots == 0 ? create_slots(b, src, e) : 0;
}

static void close_build(Build *b) {
  for (int i = 0; i < NMETRICS; i++)
    if (b->metric[i] >= 0) H5Dclose(b->metric[i]);
  for (int i = 0; i < NCOORDS; i++)
    if (b->coord[i] >= 0) H5Dclose(b->coord[i]);
  if (b->runs >= 0) H5Dclose(b->runs);
  if (b->final >= 0) H5Dclose(b->final);
  if (b->run_type >= 0) H5Tclose(b->run_type);
  if (b->old >= 0) H5Fclose(b->old);
  free(b->rows);
  free(b->lost);
}

/* Reserves the file's blocks (so a full disk stops the sweep here, not mid-checkpoint),
   flushes it, renames it into place and flushes the directory entry. */
static int commit_file(const char *tmp, const char *path, int copying, Err *e) {
  int fd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errf(e, "%s: cannot reopen: %s", tmp, strerror(errno));
  struct stat st;
  int rc = fstat(fd, &st) == 0 ? 0 : errf(e, "%s: %s", tmp, strerror(errno));
  if (!rc && st.st_size > 0 && fallocate(fd, 0, 0, st.st_size) != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
    rc = errf(e, "%s: reserving %.1f MB for the results file: %s", tmp, (double)st.st_size / 1e6, strerror(errno));
  if (!rc && fsync(fd) != 0) rc = errf(e, "%s: flushing to disk: %s", tmp, strerror(errno));
  close(fd);
  fault_kill("killbuild", 3, copying);
  if (!rc && rename(tmp, path) != 0) rc = errf(e, "%s: cannot rename into place: %s", path, strerror(errno));
  if (rc) return rc;
  fault_kill("killbuild", 4, copying);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

double results_slot_bytes(long nparams) { return 3.0 * 2.0 * (double)nparams * 4.0 + 8.0 * NSLOTSTATE; }

double results_layout_bytes(const ResultsLayout *L) {
  RowShape shape;
  hid_t rt = results_row_type(L, &shape);
  if (rt >= 0) H5Tclose(rt);
  double runs = L->nruns, bytes = runs * (double)(rt >= 0 ? shape.size : 0);
  for (int i = 0; i < NMETRICS; i++) {
    const DatasetSpec *ds = &RESULTS_METRICS[i];
    bytes += runs * (ds->shape == SHAPE_RUN_STEP ? (double)L->max_steps : (double)L->max_evals) *
             (double)VALUE_TYPE_SIZE[ds->type];
  }
  bytes += 8.0 * ((double)L->max_steps + L->max_evals + runs); /* coordinates */
  bytes += (double)L->nslots * results_slot_bytes(L->slot_size);
  bytes += runs * (double)L->final_size * 4.0; /* final weights */
  return bytes;
}

/* A full disk found before HDF5 writes a byte: HDF5 cannot close a file it could not flush,
   and its shutdown then crashes (exit 139, no message), where this says why (exit 4). */
static int space_for(const char *path, double bytes, Err *e) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  struct statvfs fs;
  if (statvfs(dirname(dir), &fs) != 0) return 0; /* cannot tell: let the writes say */
  double avail = (double)fs.f_bavail * (double)fs.f_frsize, need = bytes * 1.05 + 262144.0; /* + metadata */
  if (avail >= need) return 0;
  errf(e, "%s: %s: the results file needs about %.1f MB, %.1f MB are free there", path, strerror(ENOSPC), need / 1e6,
       avail / 1e6);
  e->disk = 1;
  return -1;
}

int results_build(const char *path, const ResultsLayout *lay, const RunRow *rows, const char *const *run_configs,
                  const char *sweep_json, const char *config_path, const ResultsSource *src, Err *e) {
  char tmp[4200];
  results_sidecar(tmp, sizeof tmp, path, SIDE_PARTIAL);
  if (regular_or_absent(path, e) || (src && src->path && regular_or_absent(src->path, e))) return -1;
  if (space_for(path, results_layout_bytes(lay), e)) return -1;
  Build b = {.path = path, .tmp = tmp, .lay = lay, .f = -1, .old = -1, .runs = -1, .final = -1};
  for (int i = 0; i < NMETRICS; i++) b.metric[i] = -1;
  for (int i = 0; i < NCOORDS; i++) b.coord[i] = -1;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  b.run_type = results_row_type(lay, &b.shape);
  b.rows = calloc((size_t)(lay->nruns ? lay->nruns : 1), b.shape.size);
  b.lost = calloc((size_t)(lay->nruns ? lay->nruns : 1), 1);
  if (b.run_type < 0 || !b.rows || !b.lost) {
    close_build(&b);
    return errf(e, "%s: cannot build the /runs table type", path);
  }
  if (src && src->path && (b.old = H5Fopen(src->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
    close_build(&b);
    return h5err(e, "%s: cannot open", src->path);
  }
  /* a leftover from a killed build (we hold the lock): remove it, never follow a link there */
  if (unlink(tmp) != 0 && errno != ENOENT) {
    close_build(&b);
    return errf(e, "%s: cannot remove a leftover: %s", tmp, strerror(errno));
  }
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) >= 0)
    b.f = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
  int rc = b.f < 0 ? h5err(e, "%s: cannot create", tmp) : 0; /* before any other call clears HDF5's error stack */
  if (fapl >= 0) H5Pclose(fapl);
  if (!rc) rc = fill_file(&b, rows, run_configs, sweep_json, config_path, src, e);
  if (src && src->lost) {
    *src->lost = 0;
    for (int r = 0; r < src->nrows; r++) *src->lost += b.lost[r];
  }
  close_build(&b);
  if (b.f >= 0 && H5Fclose(b.f) < 0 && !rc) rc = h5err(e, "%s: writing", tmp);
  if (!rc) rc = commit_file(tmp, path, src && src->path, e);
  if (rc) unlink(tmp);
  return rc;
}
