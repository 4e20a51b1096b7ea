#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hdf5_hl.h>
#include "io/fileutil.h"
#include "io/results.h"

static herr_t first_error(unsigned n, const H5E_error2_t *err, void *data) {
  if (n == 0) snprintf((char *)data, 512, "%s (%s)", err->desc, err->func_name);
  return 0;
}

void h5_error_message(char *out, size_t size) {
  char buf[512] = "unknown HDF5 error";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, buf);
  snprintf(out, size, "%s", buf);
}

static int h5err(Err *e, const char *fmt, const char *what) {
  char msg[512];
  h5_error_message(msg, sizeof msg);
  char ctx[1024];
  snprintf(ctx, sizeof ctx, fmt, what);
  return errf(e, "%s: %s", ctx, msg);
}

static hid_t vlen_str(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) return -1;
  return t;
}

/* Variable-length UTF-8 string attributes: h5py reads them as str. */
static int attr_strs(hid_t obj, const char *name, const char *const *vals, int n, int scalar) {
  hid_t t = vlen_str();
  hsize_t dim = (hsize_t)n;
  hid_t sp = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
  hid_t a = t >= 0 && sp >= 0 ? H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
  int rc = a >= 0 && H5Awrite(a, t, vals) >= 0 ? 0 : -1;
  if (a >= 0) H5Aclose(a);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  return rc;
}

static int attr_str(hid_t obj, const char *name, const char *value) { return attr_strs(obj, name, &value, 1, 1); }

static int describe(hid_t d, const char *units, const char *meaning) {
  return attr_str(d, "units", units) || attr_str(d, "long_name", meaning);
}

/* ---- the /runs row type ---- */

static hid_t col_type(const ResultsColumn *c) {
  hid_t t;
  signed char v0 = 0, v1 = 1;
  switch (c->type) {
  case COL_BOOL: /* the enum h5py maps to numpy bool */
    t = H5Tenum_create(H5T_NATIVE_INT8);
    if (t >= 0 && (H5Tenum_insert(t, "FALSE", &v0) < 0 || H5Tenum_insert(t, "TRUE", &v1) < 0)) return -1;
    return t;
  case COL_INT: return H5Tcopy(H5T_NATIVE_INT64);
  case COL_FLOAT: return H5Tcopy(H5T_NATIVE_DOUBLE);
  default:
    t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, (size_t)c->strsize) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) return -1;
    return t;
  }
}

static size_t col_size(const ResultsColumn *c) {
  return c->type == COL_BOOL ? 1 : c->type == COL_STR ? (size_t)c->strsize : 8;
}

/* Fixed fields after the grid columns, in order. */
#define STATUS_LEN 8
enum { F_STATUS, F_STEPS_DONE, F_TOTAL, F_BEST_ACC, F_BEST_STEP, F_FINAL_ACC, F_FINAL_LOSS, F_MAJORITY, F_WALL, F_RANK,
       NFIXED };
static const char *const FIXED_NAMES[NFIXED] = {"status", "steps_done", "total_steps", "best_dev_accuracy", "best_step",
                                                "final_dev_accuracy", "final_train_loss", "majority_baseline", "wall_seconds",
                                                "rank"};
static const size_t FIXED_SIZE[NFIXED] = {STATUS_LEN, 8, 8, 8, 8, 8, 8, 8, 8, 4};

static size_t fixed_off(const Results *r, int f) {
  size_t off = r->col_off[r->lay.ncols];
  for (int i = 0; i < f; i++) off += FIXED_SIZE[i];
  return off;
}

static hid_t build_row_type(Results *r) {
  size_t off = 8; /* run_id, seed */
  for (int c = 0; c < r->lay.ncols; c++) {
    r->col_off[c] = off;
    off += col_size(&r->lay.cols[c]);
  }
  r->col_off[r->lay.ncols] = off;
  for (int f = 0; f < NFIXED; f++) off += FIXED_SIZE[f];
  r->row_size = off;
  hid_t t = H5Tcreate(H5T_COMPOUND, off);
  if (t < 0) return -1;
  int bad = H5Tinsert(t, "run_id", 0, H5T_NATIVE_INT32) < 0 || H5Tinsert(t, "seed", 4, H5T_NATIVE_INT32) < 0;
  for (int c = 0; c < r->lay.ncols && !bad; c++) {
    hid_t ct = col_type(&r->lay.cols[c]);
    bad = ct < 0 || H5Tinsert(t, r->lay.cols[c].name, r->col_off[c], ct) < 0;
    if (ct >= 0) H5Tclose(ct);
  }
  hid_t st = H5Tcopy(H5T_C_S1);
  bad |= st < 0 || H5Tset_size(st, STATUS_LEN) < 0;
  hid_t ftypes[NFIXED] = {st, H5T_NATIVE_INT64, H5T_NATIVE_INT64, H5T_NATIVE_DOUBLE, H5T_NATIVE_INT64,
                          H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, H5T_NATIVE_INT32};
  for (int f = 0; f < NFIXED && !bad; f++) bad = H5Tinsert(t, FIXED_NAMES[f], fixed_off(r, f), ftypes[f]) < 0;
  if (st >= 0) H5Tclose(st);
  if (bad) { H5Tclose(t); return -1; }
  return t;
}

static void put(unsigned char *row, size_t off, const void *v, size_t n) { memcpy(row + off, v, n); }

/* Fills the row bytes of one run (grid values only when given). */
static void fill_row(Results *r, const RunRow *x) {
  unsigned char *row = r->rows + (size_t)x->run_id * r->row_size;
  int32_t id = x->run_id, seed = x->seed, rank = x->rank;
  int64_t sd = x->steps_done, tot = x->total_steps, bs = x->best_step;
  char status[STATUS_LEN] = {0};
  snprintf(status, sizeof status, "%s", x->status);
  put(row, 0, &id, 4);
  put(row, 4, &seed, 4);
  for (int c = 0; x->values && c < r->lay.ncols; c++) {
    const ResultsColumn *col = &r->lay.cols[c];
    const char *v = x->values[c];
    if (col->type == COL_BOOL) { signed char b = strcmp(v, "true") == 0; put(row, r->col_off[c], &b, 1); }
    else if (col->type == COL_INT) { int64_t i = strtoll(v, NULL, 10); put(row, r->col_off[c], &i, 8); }
    else if (col->type == COL_FLOAT) { double d = strtod(v, NULL); put(row, r->col_off[c], &d, 8); }
    else { /* JSON string: strip the quotes (grid strings are plain text) */
      char *s = (char *)row + r->col_off[c];
      memset(s, 0, (size_t)col->strsize);
      snprintf(s, (size_t)col->strsize, "%.*s", (int)strlen(v) - 2, v + 1);
    }
  }
  put(row, fixed_off(r, F_STATUS), status, STATUS_LEN);
  put(row, fixed_off(r, F_STEPS_DONE), &sd, 8);
  put(row, fixed_off(r, F_TOTAL), &tot, 8);
  put(row, fixed_off(r, F_BEST_ACC), &x->best_acc, 8);
  put(row, fixed_off(r, F_BEST_STEP), &bs, 8);
  put(row, fixed_off(r, F_FINAL_ACC), &x->final_acc, 8);
  put(row, fixed_off(r, F_FINAL_LOSS), &x->final_loss, 8);
  put(row, fixed_off(r, F_MAJORITY), &x->majority, 8);
  put(row, fixed_off(r, F_WALL), &x->wall_seconds, 8);
  put(row, fixed_off(r, F_RANK), &rank, 4);
}

/* ---- datasets ---- */

static hid_t make_2d(hid_t loc, const char *name, hid_t type, hsize_t rows, hsize_t cols, const void *fill) {
  hsize_t dims[2] = {rows, cols ? cols : 1}, maxd[2] = {H5S_UNLIMITED, H5S_UNLIMITED}, chunk[2] = {1, cols ? cols : 1};
  hid_t sp = H5Screate_simple(2, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 2, chunk) >= 0 && H5Pset_fill_value(dcpl, type, fill) >= 0 &&
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) >= 0)
    d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  return d;
}

static hid_t make_1d(hid_t loc, const char *name, hid_t type, hsize_t n) {
  hsize_t dims[1] = {n ? n : 1}, maxd[1] = {H5S_UNLIMITED}, chunk[1] = {n ? (n < 4096 ? n : 4096) : 1};
  hid_t sp = H5Screate_simple(1, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, chunk) >= 0 && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0)
    d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  return d;
}

/* Writes (or reads) n elements at [row, col0 ..] of a 2-D dataset (or [col0 ..] when row < 0). */
static int transfer_at(hid_t d, hid_t type, long row, long col0, long n, void *buf, int write) {
  hid_t fs = H5Dget_space(d);
  hsize_t start2[2] = {(hsize_t)row, (hsize_t)col0}, count2[2] = {1, (hsize_t)n};
  hsize_t start1[1] = {(hsize_t)col0}, count1[1] = {(hsize_t)n};
  int ok = fs >= 0 && (row >= 0 ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, start2, NULL, count2, NULL)
                                : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start1, NULL, count1, NULL)) >= 0;
  hsize_t mn = (hsize_t)n;
  hid_t ms = H5Screate_simple(1, &mn, NULL);
  ok = ok && ms >= 0 &&
       (write ? H5Dwrite(d, type, ms, fs, H5P_DEFAULT, buf) : H5Dread(d, type, ms, fs, H5P_DEFAULT, buf)) >= 0;
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return ok ? 0 : -1;
}

static int write_at(hid_t d, hid_t type, long row, long col0, long n, const void *buf) {
  return transfer_at(d, type, row, col0, n, (void *)buf, 1);
}

static int read_at(hid_t d, hid_t type, long row, long col0, long n, void *buf) {
  return transfer_at(d, type, row, col0, n, buf, 0);
}

static const char *const DSET_NAMES[] = {"train/loss", "train/lr", "train/grad_norm", "eval/accuracy",
                                         "eval/loss", "eval/macro_f1", "eval/step"};

static hid_t *dset_slot(Results *r, int i) {
  hid_t *slots[] = {&r->loss, &r->lr, &r->gnorm, &r->acc, &r->eloss, &r->f1, &r->estep};
  return slots[i];
}

static hid_t make_contig(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims) {
  hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0)
    d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  return d;
}

/* Creates slots [from, to) of /checkpoints (collective); rank 0 marks them empty. */
static int create_slots(hid_t f, int from, int to, long size, int rank, Err *e) {
  hid_t g = from == 0 ? H5Gcreate2(f, "checkpoints", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                      : H5Gopen2(f, "checkpoints", H5P_DEFAULT);
  if (g < 0) return h5err(e, "%s", "creating /checkpoints");
  int bad = 0;
  for (int k = from; k < to && !bad; k++) {
    char name[32];
    snprintf(name, sizeof name, "slot_%d", k);
    hid_t sg = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d2[2] = {2, (hsize_t)(size > 0 ? size : 1)}, d1[1] = {8};
    hid_t p = make_contig(sg, "params", H5T_NATIVE_FLOAT, 2, d2), m = make_contig(sg, "adam_m", H5T_NATIVE_FLOAT, 2, d2);
    hid_t v = make_contig(sg, "adam_v", H5T_NATIVE_FLOAT, 2, d2), st = make_contig(sg, "state", H5T_NATIVE_DOUBLE, 1, d1);
    bad = sg < 0 || p < 0 || m < 0 || v < 0 || st < 0;
    if (!bad && rank == 0) {
      double empty[8] = {SLOT_EMPTY, 0, 0, 0, 0, 0, 0, 0};
      bad = write_at(st, H5T_NATIVE_DOUBLE, -1, 0, 8, empty) < 0;
    }
    if (!bad && k == from && from == 0)
      bad = attr_str(g, "long_name", "resume state of running runs: parameters and Adam moments in two halves "
                                     "(the state's 'half' names the valid one), written every checkpoint_every steps");
    hid_t ids[5] = {st, v, m, p, sg};
    for (int i = 0; i < 5; i++)
      if (ids[i] >= 0) (i == 4 ? H5Gclose : H5Dclose)(ids[i]);
  }
  H5Gclose(g);
  return bad ? h5err(e, "%s", "creating checkpoint slots") : 0;
}

static int open_slots(Results *r, Err *e) {
  int n = r->lay.nslots;
  r->slot_params = calloc((size_t)(n ? n : 1), sizeof(hid_t));
  r->slot_m = calloc((size_t)(n ? n : 1), sizeof(hid_t));
  r->slot_v = calloc((size_t)(n ? n : 1), sizeof(hid_t));
  r->slot_state = calloc((size_t)(n ? n : 1), sizeof(hid_t));
  if (!r->slot_params || !r->slot_m || !r->slot_v || !r->slot_state) return errf(e, "out of memory");
  for (int k = 0; k < n; k++) {
    char name[64];
    hid_t *dst[4] = {&r->slot_params[k], &r->slot_m[k], &r->slot_v[k], &r->slot_state[k]};
    const char *leaf[4] = {"params", "adam_m", "adam_v", "state"};
    for (int i = 0; i < 4; i++) {
      snprintf(name, sizeof name, "checkpoints/slot_%d/%s", k, leaf[i]);
      if ((*dst[i] = H5Dopen2(r->file, name, H5P_DEFAULT)) < 0) return h5err(e, "opening %s", name);
    }
  }
  return 0;
}

static void close_slots(Results *r) {
  for (int k = 0; k < r->lay.nslots; k++) {
    hid_t ids[4] = {r->slot_params ? r->slot_params[k] : 0, r->slot_m ? r->slot_m[k] : 0,
                    r->slot_v ? r->slot_v[k] : 0, r->slot_state ? r->slot_state[k] : 0};
    for (int i = 0; i < 4; i++)
      if (ids[i] > 0) H5Dclose(ids[i]);
  }
  free(r->slot_params);
  free(r->slot_m);
  free(r->slot_v);
  free(r->slot_state);
  r->slot_params = r->slot_m = r->slot_v = r->slot_state = NULL;
}

/* /final_weights [runs, n]: one chunk per run, written only by runs that ask. */
static int create_final(hid_t f, hsize_t runs, long n, const char *layout, Err *e) {
  hsize_t dims[2] = {runs, (hsize_t)n}, maxd[2] = {H5S_UNLIMITED, (hsize_t)n}, chunk[2] = {1, (hsize_t)n};
  hid_t sp = H5Screate_simple(2, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 2, chunk) >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0)
    d = H5Dcreate2(f, "final_weights", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  int bad = d < 0 || attr_str(d, "tensors", layout ? layout : "[]") ||
            describe(d, "1", "final parameters of each run that set train.save_final_weights (others: undefined)");
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (d >= 0) H5Dclose(d);
  return bad ? h5err(e, "%s", "creating /final_weights") : 0;
}

static int create_layout(Results *r, hid_t f, const char *const *run_configs,
                         const char *sweep_json, const char *config_path, int rank, Err *e) {
  const ResultsLayout *L = &r->lay;
  float nanf_ = NAN;
  int64_t minus1 = -1;
  hid_t g1 = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g2 = H5Gcreate2(f, "eval", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g1 < 0 || g2 < 0) return h5err(e, "%s", "creating groups");
  H5Gclose(g1);
  H5Gclose(g2);
  for (int i = 0; i < 7; i++) {
    int is_eval = i >= 3;
    hid_t type = i == 6 ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
    hid_t d = make_2d(f, DSET_NAMES[i], type, (hsize_t)L->nruns, is_eval ? (hsize_t)L->max_evals : (hsize_t)L->max_steps,
                      i == 6 ? (const void *)&minus1 : (const void *)&nanf_);
    if (d < 0) return h5err(e, "creating /%s", DSET_NAMES[i]);
    *dset_slot(r, i) = d;
  }
  static const char *const UNITS[7][2] = {
      {"nats", "mean cross-entropy of the training batch at each step (before the update)"},
      {"1", "learning rate used by the update of each step"},
      {"1", "global L2 norm of the gradient before clipping"},
      {"1", "dev-set accuracy at each evaluation point"},
      {"nats", "mean dev-set cross-entropy at each evaluation point"},
      {"1", "dev-set macro-F1 at each evaluation point"},
      {"steps", "number of updates done when each evaluation ran"}};
  for (int i = 0; i < 7; i++)
    if (describe(*dset_slot(r, i), UNITS[i][0], UNITS[i][1])) return h5err(e, "attributes of /%s", DSET_NAMES[i]);
  /* coordinates: 1-based step numbers, evaluation index, run ids */
  hid_t st = make_1d(f, "train/step", H5T_NATIVE_INT64, (hsize_t)L->max_steps);
  hid_t ei = make_1d(f, "eval/index", H5T_NATIVE_INT64, (hsize_t)L->max_evals);
  hid_t rid = make_1d(f, "run", H5T_NATIVE_INT64, (hsize_t)L->nruns);
  r->runs = make_1d(f, "runs", r->run_type, (hsize_t)L->nruns);
  if (st < 0 || ei < 0 || rid < 0 || r->runs < 0) return h5err(e, "%s", "creating /runs and coordinates");
  int bad = 0;
  if (rank == 0) { /* raw data of the coordinates and the initial table: rank 0 alone */
    long n = L->max_steps > L->nruns ? L->max_steps : L->nruns;
    n = n > L->max_evals ? n : L->max_evals;
    int64_t *v = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!v) return errf(e, "out of memory");
    for (long i = 0; i < n; i++) v[i] = i + 1;
    bad |= write_at(st, H5T_NATIVE_INT64, -1, 0, L->max_steps, v);
    for (long i = 0; i < n; i++) v[i] = i;
    bad |= write_at(ei, H5T_NATIVE_INT64, -1, 0, L->max_evals, v);
    bad |= write_at(rid, H5T_NATIVE_INT64, -1, 0, L->nruns, v);
    free(v);
    bad |= write_at(r->runs, r->run_type, -1, 0, L->nruns, r->rows);
  }
  bad |= describe(st, "steps", "number of updates done") || describe(ei, "1", "evaluation index") ||
         describe(rid, "1", "run id (row of /runs)");
  H5Dclose(st);
  H5Dclose(ei);
  H5Dclose(rid);
  if (bad) return h5err(e, "%s", "writing coordinates");
  char created[64], ver[64];
  time_t now = time(NULL);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  snprintf(ver, sizeof ver, "bertsweep %s", BERTSWEEP_VERSION);
  const char *statuses = "pending: not started; running: started, not finished; done: finished; "
                         "failed: stopped by an error";
  if (attr_str(f, "program_version", ver) || attr_str(f, "sweep_config", sweep_json) ||
      attr_str(f, "config_path", config_path) || attr_str(f, "created", created) ||
      attr_strs(r->runs, "run_configs", run_configs, L->nruns, 0) || attr_str(r->runs, "status_meanings", statuses))
    return h5err(e, "%s", "writing attributes");
  if (L->final_size > 0 && create_final(f, (hsize_t)L->nruns, L->final_size, L->final_layout, e)) return -1;
  return L->slot_size > 0 ? create_slots(f, 0, L->nslots, L->slot_size, rank, e) : 0;
}

static void close_handles(Results *r) {
  close_slots(r);
  if (r->final > 0) H5Dclose(r->final);
  r->final = -1;
  for (int i = 0; i < 7; i++)
    if (*dset_slot(r, i) > 0) H5Dclose(*dset_slot(r, i));
  if (r->runs > 0) H5Dclose(r->runs);
  if (r->file > 0) H5Fclose(r->file);
  for (int i = 0; i < 7; i++) *dset_slot(r, i) = -1;
  r->runs = r->file = -1;
}

static hid_t mpio_fapl(MPI_Comm comm) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 ||
      H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0)
    return -1;
  return fapl;
}

/* 1 when every rank passed ok, else 0 (so collective sequences stop together). */
static int all_ok(MPI_Comm comm, int ok) {
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  return all;
}

static int open_handles(Results *r, const char *path, MPI_Comm comm, Err *e) {
  hid_t fapl = mpio_fapl(comm);
  r->file = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDWR, fapl) : -1;
  if (fapl >= 0) H5Pclose(fapl);
  if (r->file < 0) return h5err(e, "%s: cannot open for writing", path);
  r->runs = H5Dopen2(r->file, "runs", H5P_DEFAULT);
  int bad = r->runs < 0;
  for (int i = 0; i < 7; i++) bad |= (*dset_slot(r, i) = H5Dopen2(r->file, DSET_NAMES[i], H5P_DEFAULT)) < 0;
  if (bad) return h5err(e, "%s: opening datasets", path);
  if (r->lay.final_size > 0 && (r->final = H5Dopen2(r->file, "final_weights", H5P_DEFAULT)) < 0)
    return h5err(e, "%s: opening /final_weights", path);
  return r->lay.slot_size > 0 ? open_slots(r, e) : 0;
}

/* No handles open yet (-1 everywhere), the layout copied, HDF5's own error printing off. */
static void results_init(Results *r, const ResultsLayout *lay) {
  memset(r, 0, sizeof *r);
  r->file = r->runs = r->final = -1;
  for (int i = 0; i < 7; i++) *dset_slot(r, i) = -1;
  r->lay = *lay;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

int results_create(Results *r, const char *path, MPI_Comm comm, const ResultsLayout *lay, const RunRow *rows,
                   const char *const *run_configs, const char *sweep_json, const char *config_path, Err *e) {
  results_init(r, lay);
  int rank;
  MPI_Comm_rank(comm, &rank);
  r->run_type = build_row_type(r);
  r->rows = calloc((size_t)lay->nruns, r->row_size);
  if (r->run_type < 0 || !r->rows) return errf(e, "%s: cannot build the /runs table type", path);
  for (int i = 0; i < lay->nruns; i++) fill_row(r, &rows[i]);
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.partial", path);
  int exists = rank == 0 ? path_exists(path) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
  if (exists) return errf(e, "%s: already exists (not overwritten)", path);
  hid_t fapl = mpio_fapl(comm);
  hid_t f = fapl >= 0 ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
  if (fapl >= 0) H5Pclose(fapl);
  if (!all_ok(comm, f >= 0)) {
    if (f >= 0) H5Fclose(f);
    return f < 0 ? h5err(e, "%s: cannot create", tmp) : errf(e, "%s: another rank could not create it", tmp);
  }
  r->file = f;
  int rc = create_layout(r, f, run_configs, sweep_json, config_path, rank, e);
  int ok = all_ok(comm, rc == 0);
  close_handles(r);
  if (!ok) {
    if (rank == 0) remove(tmp);
    return rc ? -1 : errf(e, "%s: another rank failed creating the layout", tmp);
  }
  MPI_Barrier(comm);
  int renamed = rank == 0 ? rename(tmp, path) == 0 : 1;
  MPI_Bcast(&renamed, 1, MPI_INT, 0, comm);
  if (!renamed) return errf(e, "%s: cannot rename into place", path);
  return all_ok(comm, open_handles(r, path, comm, e) == 0) ? 0 : -1;
}

int results_close(Results *r, Err *e) {
  close_handles(r);
  if (r->run_type > 0) H5Tclose(r->run_type);
  r->run_type = -1;
  free(r->rows);
  r->rows = NULL;
  return 0;
}

int results_write_steps(Results *r, int run, long step0, int n, const float *loss, const float *lr,
                        const float *gnorm, Err *e) {
  if (write_at(r->loss, H5T_NATIVE_FLOAT, run, step0, n, loss) || write_at(r->lr, H5T_NATIVE_FLOAT, run, step0, n, lr) ||
      write_at(r->gnorm, H5T_NATIVE_FLOAT, run, step0, n, gnorm))
    return h5err(e, "writing train metrics of run %s", "");
  return 0;
}

int results_write_evals(Results *r, int run, int idx0, int n, const long *step, const float *acc,
                        const float *loss, const float *f1, Err *e) {
  int64_t st[64];
  for (int i = 0; i < n && i < 64; i++) st[i] = step[i];
  if (n > 64 || write_at(r->estep, H5T_NATIVE_INT64, run, idx0, n, st) ||
      write_at(r->acc, H5T_NATIVE_FLOAT, run, idx0, n, acc) || write_at(r->eloss, H5T_NATIVE_FLOAT, run, idx0, n, loss) ||
      write_at(r->f1, H5T_NATIVE_FLOAT, run, idx0, n, f1))
    return h5err(e, "writing eval metrics of run %s", "");
  return 0;
}

int results_write_row(Results *r, const RunRow *row, Err *e) {
  fill_row(r, row);
  if (write_at(r->runs, r->run_type, -1, row->run_id, 1, r->rows + (size_t)row->run_id * r->row_size))
    return h5err(e, "writing /runs row %s", "");
  return 0;
}

int results_attach_scales(const char *path, Err *e) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return h5err(e, "%s: cannot reopen to attach dimension scales", path);
  hid_t run = H5Dopen2(f, "run", H5P_DEFAULT), step = H5Dopen2(f, "train/step", H5P_DEFAULT);
  hid_t idx = H5Dopen2(f, "eval/index", H5P_DEFAULT);
  int bad = run < 0 || step < 0 || idx < 0;
  bad = bad || H5DSset_scale(run, "run") < 0 || H5DSset_scale(step, "step") < 0 || H5DSset_scale(idx, "eval") < 0;
  for (int i = 0; i < 7 && !bad; i++) {
    hid_t d = H5Dopen2(f, DSET_NAMES[i], H5P_DEFAULT);
    bad = d < 0 || H5DSattach_scale(d, run, 0) < 0 || H5DSattach_scale(d, i < 3 ? step : idx, 1) < 0;
    if (d >= 0) H5Dclose(d);
  }
  hid_t runs = H5Dopen2(f, "runs", H5P_DEFAULT);
  bad = bad || runs < 0 || H5DSattach_scale(runs, run, 0) < 0;
  if (runs >= 0) H5Dclose(runs);
  if (run >= 0) H5Dclose(run);
  if (step >= 0) H5Dclose(step);
  if (idx >= 0) H5Dclose(idx);
  if (bad) { H5Fclose(f); return h5err(e, "%s: attaching dimension scales", path); }
  return H5Fclose(f) < 0 ? h5err(e, "%s: closing", path) : 0;
}

/* ---- checkpoints ---- */


int results_ckpt_write_data(Results *r, int slot, int half, const float *params, const float *m, const float *v,
                            long n, Err *e) {
  if (slot < 0 || slot >= r->lay.nslots || n > r->lay.slot_size) return errf(e, "checkpoint slot %d out of range", slot);
  if (write_at(r->slot_params[slot], H5T_NATIVE_FLOAT, half, 0, n, params) ||
      write_at(r->slot_m[slot], H5T_NATIVE_FLOAT, half, 0, n, m) ||
      write_at(r->slot_v[slot], H5T_NATIVE_FLOAT, half, 0, n, v))
    return h5err(e, "writing checkpoint slot %s", "");
  return 0;
}

int results_ckpt_write_state(Results *r, int slot, const SlotState *st, Err *e) {
  if (write_at(r->slot_state[slot], H5T_NATIVE_DOUBLE, -1, 0, 8, st)) return h5err(e, "writing checkpoint state%s", "");
  return 0;
}

int results_ckpt_state(Results *r, int slot, SlotState *st, Err *e) {
  if (slot < 0 || slot >= r->lay.nslots) return errf(e, "checkpoint slot %d out of range", slot);
  if (read_at(r->slot_state[slot], H5T_NATIVE_DOUBLE, -1, 0, 8, st)) return h5err(e, "reading checkpoint state%s", "");
  return 0;
}


int results_ckpt_read(Results *r, int slot, float *params, float *m, float *v, long n, SlotState *st, Err *e) {
  if (results_ckpt_state(r, slot, st, e)) return -1;
  int h = (int)st->half;
  if (h < 0 || h > 1 || n > r->lay.slot_size) return errf(e, "checkpoint slot %d: corrupt state", slot);
  if (read_at(r->slot_params[slot], H5T_NATIVE_FLOAT, h, 0, n, params) ||
      read_at(r->slot_m[slot], H5T_NATIVE_FLOAT, h, 0, n, m) || read_at(r->slot_v[slot], H5T_NATIVE_FLOAT, h, 0, n, v))
    return h5err(e, "reading checkpoint slot %s", "");
  return 0;
}

int results_write_final(Results *r, int row, const float *params, long n, Err *e) {
  if (r->final <= 0 || n > r->lay.final_size) return errf(e, "no room for final weights of run %d", row);
  return write_at(r->final, H5T_NATIVE_FLOAT, row, 0, n, params) ? h5err(e, "writing final weights%s", "") : 0;
}

int results_slot_clear(Results *r, int slot, Err *e) {
  double empty[8] = {SLOT_EMPTY, 0, 0, 0, 0, 0, 0, 0};
  if (slot < 0 || slot >= r->lay.nslots) return 0;
  if (write_at(r->slot_state[slot], H5T_NATIVE_DOUBLE, -1, 0, 8, empty)) return h5err(e, "clearing checkpoint slot%s", "");
  return 0;
}

/* ---- inspecting and reopening an existing file ---- */

static char *read_str_attr(hid_t obj, const char *name) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t t = vlen_str();
  char *v = NULL, *out = NULL;
  if (H5Aread(a, t, &v) >= 0 && v) {
    out = strdup(v);
    H5free_memory(v);
  }
  H5Tclose(t);
  H5Aclose(a);
  return out;
}

static char **read_str_array_attr(hid_t obj, const char *name, int n) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t sp = H5Aget_space(a), t = vlen_str();
  char **v = calloc((size_t)(n ? n : 1), sizeof(char *)), **out = calloc((size_t)(n ? n : 1), sizeof(char *));
  int ok = v && out && H5Sget_simple_extent_npoints(sp) == n && H5Aread(a, t, v) >= 0;
  for (int i = 0; ok && i < n; i++) ok = (out[i] = strdup(v[i] ? v[i] : "")) != NULL;
  if (v && H5Sget_simple_extent_npoints(sp) == n) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, v);
  free(v);
  H5Sclose(sp);
  H5Tclose(t);
  H5Aclose(a);
  if (!ok) {
    for (int i = 0; out && i < n; i++) free(out[i]);
    free(out);
    return NULL;
  }
  return out;
}

static hsize_t dim_of(hid_t f, const char *name, int which) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hsize_t dims[2] = {0, 0};
  if (d >= 0) {
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
  }
  return dims[which];
}

typedef struct {
  char status[8];
  int64_t steps_done;
} StatusRow;

int results_inspect(const char *path, ResultsInfo *info, Err *e) {
  memset(info, 0, sizeof *info);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return h5err(e, "%s: cannot open", path);
  hid_t runs = H5Dopen2(f, "runs", H5P_DEFAULT);
  info->sweep_json = read_str_attr(f, "sweep_config");
  if (runs < 0 || !info->sweep_json) {
    if (runs >= 0) H5Dclose(runs);
    H5Fclose(f);
    return errf(e, "%s: not a bertsweep results file (no /runs or sweep_config)", path);
  }
  info->nruns = (int)dim_of(f, "runs", 0);
  info->lay.nruns = info->nruns;
  info->lay.max_steps = (long)dim_of(f, "train/loss", 1);
  info->lay.max_evals = (int)dim_of(f, "eval/accuracy", 1);
  info->run_configs = read_str_array_attr(runs, "run_configs", info->nruns);
  info->status = calloc((size_t)(info->nruns ? info->nruns : 1), sizeof *info->status);
  info->steps_done = calloc((size_t)(info->nruns ? info->nruns : 1), sizeof(long));
  StatusRow *sr = calloc((size_t)(info->nruns ? info->nruns : 1), sizeof(StatusRow));
  hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(StatusRow)), st = H5Tcopy(H5T_C_S1);
  int ok = info->run_configs && info->status && info->steps_done && sr && mt >= 0 && st >= 0 &&
           H5Tset_size(st, 8) >= 0 && H5Tinsert(mt, "status", 0, st) >= 0 &&
           H5Tinsert(mt, "steps_done", 8, H5T_NATIVE_INT64) >= 0 &&
           H5Dread(runs, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, sr) >= 0;
  for (int i = 0; ok && i < info->nruns; i++) {
    memcpy(info->status[i], sr[i].status, 8);
    info->status[i][7] = 0;
    info->steps_done[i] = (long)sr[i].steps_done;
  }
  free(sr);
  if (mt >= 0) H5Tclose(mt);
  if (st >= 0) H5Tclose(st);
  H5Dclose(runs);
  hid_t g = ok ? H5Gopen2(f, "checkpoints", H5P_DEFAULT) : -1;
  if (g >= 0) {
    H5G_info_t gi;
    ok = H5Gget_info(g, &gi) >= 0;
    info->lay.nslots = (int)gi.nlinks;
    info->lay.slot_size = (long)dim_of(f, "checkpoints/slot_0/params", 1);
    info->slots = calloc((size_t)(gi.nlinks ? gi.nlinks : 1), sizeof(SlotState));
    ok = ok && info->slots;
    for (int k = 0; ok && k < info->lay.nslots; k++) {
      char name[64];
      snprintf(name, sizeof name, "checkpoints/slot_%d/state", k);
      hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
      ok = d >= 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &info->slots[k]) >= 0;
      if (d >= 0) H5Dclose(d);
    }
    H5Gclose(g);
  }
  H5Fclose(f);
  if (!ok) {
    results_info_free(info);
    return h5err(e, "%s: reading the runs table and checkpoint states", path);
  }
  return 0;
}

void results_info_free(ResultsInfo *info) {
  for (int i = 0; info->run_configs && i < info->nruns; i++) free(info->run_configs[i]);
  free(info->run_configs);
  free(info->status);
  free(info->steps_done);
  free(info->slots);
  free(info->sweep_json);
  memset(info, 0, sizeof *info);
}

static int replace_attr(hid_t obj, const char *name, const char *const *vals, int n, int scalar) {
  if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) return -1;
  return attr_strs(obj, name, vals, n, scalar);
}

static int extend(hid_t d, int rank, hsize_t a, hsize_t b) {
  hsize_t dims[2] = {a, b};
  return H5Dset_extent(d, dims) < 0 ? -1 : 0;
  (void)rank;
}

/* Grows every dataset to the new layout (collective) and writes the new rows (rank 0). */
static int grow(Results *r, hsize_t old_runs, hsize_t old_steps, hsize_t old_evals, int old_slots,
                const char *const *run_configs, const char *sweep_json, int rank, Err *e) {
  const ResultsLayout *L = &r->lay;
  hsize_t nr = (hsize_t)L->nruns, ns = (hsize_t)L->max_steps, ne = (hsize_t)L->max_evals;
  ns = ns > old_steps ? ns : old_steps;
  ne = ne > old_evals ? ne : old_evals;
  r->lay.max_steps = (long)ns;
  r->lay.max_evals = (int)ne;
  int bad = 0;
  if (nr > old_runs || ns > old_steps || ne > old_evals) {
    for (int i = 0; i < 7 && !bad; i++) bad = extend(*dset_slot(r, i), 2, nr, i < 3 ? ns : ne);
    hid_t run = H5Dopen2(r->file, "run", H5P_DEFAULT), step = H5Dopen2(r->file, "train/step", H5P_DEFAULT);
    hid_t idx = H5Dopen2(r->file, "eval/index", H5P_DEFAULT);
    bad = bad || run < 0 || step < 0 || idx < 0 || extend(r->runs, 1, nr, 0) || extend(run, 1, nr, 0) ||
          extend(step, 1, ns, 0) || extend(idx, 1, ne, 0);
    if (!bad && rank == 0) {
      hsize_t n = nr > ns ? nr : ns;
      n = n > ne ? n : ne;
      int64_t *v = malloc(sizeof(int64_t) * n);
      bad = !v;
      for (hsize_t i = 0; v && i < n; i++) v[i] = (int64_t)i + 1;
      bad = bad || write_at(step, H5T_NATIVE_INT64, -1, 0, (long)ns, v);
      for (hsize_t i = 0; v && i < n; i++) v[i] = (int64_t)i;
      bad = bad || write_at(idx, H5T_NATIVE_INT64, -1, 0, (long)ne, v) || write_at(run, H5T_NATIVE_INT64, -1, 0, (long)nr, v);
      free(v);
      if (!bad && nr > old_runs)
        bad = write_at(r->runs, r->run_type, -1, (long)old_runs, (long)(nr - old_runs), r->rows + old_runs * r->row_size);
    }
    hid_t ids[3] = {run, step, idx};
    for (int i = 0; i < 3; i++)
      if (ids[i] >= 0) H5Dclose(ids[i]);
    if (bad) return h5err(e, "%s", "growing the results file");
  }
  if (replace_attr(r->runs, "run_configs", run_configs, L->nruns, 0) ||
      replace_attr(r->file, "sweep_config", &sweep_json, 1, 1))
    return h5err(e, "%s", "updating the sweep attributes");
  if (L->slot_size > 0 && L->nslots > old_slots && create_slots(r->file, old_slots, L->nslots, L->slot_size, rank, e))
    return -1;
  return 0;
}

int results_open(Results *r, const char *path, MPI_Comm comm, const ResultsLayout *lay, const RunRow *rows,
                 const char *const *run_configs, const char *sweep_json, Err *e) {
  results_init(r, lay);
  int rank;
  MPI_Comm_rank(comm, &rank);
  ResultsInfo old;
  if (results_inspect(path, &old, e)) return -1;
  r->run_type = build_row_type(r);
  r->rows = calloc((size_t)lay->nruns, r->row_size);
  int old_slots = old.lay.nslots;
  hsize_t old_runs = (hsize_t)old.nruns, old_steps = (hsize_t)old.lay.max_steps, old_evals = (hsize_t)old.lay.max_evals;
  if (old.lay.slot_size > 0) r->lay.slot_size = old.lay.slot_size > lay->slot_size ? old.lay.slot_size : lay->slot_size;
  if (old.lay.slot_size > 0 && lay->slot_size > old.lay.slot_size) {
    results_info_free(&old);
    return errf(e, "%s: the models of the new runs need larger checkpoint slots than the file has", path);
  }
  results_info_free(&old);
  if (r->run_type < 0 || !r->rows) return errf(e, "%s: cannot build the /runs table type", path);
  if (old_slots > r->lay.nslots) r->lay.nslots = old_slots;
  for (int i = (int)old_runs; i < lay->nruns; i++) fill_row(r, &rows[i]);
  hid_t fapl = mpio_fapl(comm);
  r->file = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDWR, fapl) : -1;
  if (fapl >= 0) H5Pclose(fapl);
  if (!all_ok(comm, r->file >= 0)) return h5err(e, "%s: cannot open for writing", path);
  r->runs = H5Dopen2(r->file, "runs", H5P_DEFAULT);
  int bad = r->runs < 0 || (old_runs && H5Dread(r->runs, r->run_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->rows) < 0);
  for (int i = 0; i < 7; i++) bad |= (*dset_slot(r, i) = H5Dopen2(r->file, DSET_NAMES[i], H5P_DEFAULT)) < 0;
  if (!all_ok(comm, !bad)) return h5err(e, "%s: opening datasets", path);
  int rc = grow(r, old_runs, old_steps, old_evals, old_slots, run_configs, sweep_json, rank, e);
  if (!all_ok(comm, rc == 0)) return rc ? -1 : errf(e, "%s: another rank failed growing the file", path);
  rc = r->lay.slot_size > 0 ? open_slots(r, e) : 0;
  if (!rc && r->lay.final_size > 0) {
    r->final = H5Lexists(r->file, "final_weights", H5P_DEFAULT) > 0 ? H5Dopen2(r->file, "final_weights", H5P_DEFAULT)
                                                                   : -1;
    if (r->final < 0) rc = create_final(r->file, (hsize_t)r->lay.nruns, r->lay.final_size, r->lay.final_layout, e);
    if (!rc && r->final < 0 && (r->final = H5Dopen2(r->file, "final_weights", H5P_DEFAULT)) < 0)
      rc = h5err(e, "%s: opening /final_weights", path);
    if (!rc && extend(r->final, 2, (hsize_t)r->lay.nruns, (hsize_t)r->lay.final_size)) rc = h5err(e, "%s: growing /final_weights", path);
  }
  return all_ok(comm, rc == 0) ? 0 : -1;
}
