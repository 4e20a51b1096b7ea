/* The results file while a sweep runs: parallel raw-data writes into a file made by
   results_build (io/results_build.c). Nothing here changes HDF5 metadata. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "io/fileutil.h"
#include <cjson/cJSON.h>
#include "io/results_mpi.h"

/* ---- the /runs row type ---- */

static hid_t col_type(const ResultsColumn *c) {
  hid_t t;
  signed char v0 = 0, v1 = 1;
  switch (c->type) {
  case VT_BOOL: /* the enum h5py maps to numpy bool */
    t = H5Tenum_create(H5T_NATIVE_INT8);
    if (t >= 0 && (H5Tenum_insert(t, "FALSE", &v0) < 0 || H5Tenum_insert(t, "TRUE", &v1) < 0)) return -1;
    return t;
  case VT_I64: return H5Tcopy(H5T_NATIVE_INT64);
  case VT_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
  default:
    t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, (size_t)c->strsize) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) return -1;
    return t;
  }
}

static size_t col_size(const ResultsColumn *c) {
  return c->type == VT_BOOL ? 1 : c->type == VT_STR ? (size_t)c->strsize : 8;
}

static size_t fixed_size(int f) {
  return RESULTS_FIXED[f].type == VT_STR ? (size_t)RESULTS_FIXED[f].size : VALUE_TYPE_SIZE[RESULTS_FIXED[f].type];
}

static size_t fixed_off(const ResultsLayout *lay, const RowShape *rs, int f) {
  size_t off = rs->col_off[lay->ncols];
  for (int i = 0; i < f; i++) off += fixed_size(i);
  return off;
}

static hid_t fixed_type(int f) {
  if (RESULTS_FIXED[f].type != VT_STR) return H5Tcopy(h5_native(RESULTS_FIXED[f].type));
  hid_t st = H5Tcopy(H5T_C_S1); /* status stays ASCII: files of format 1 convert */
  if (st >= 0 && (H5Tset_size(st, (size_t)RESULTS_FIXED[f].size) < 0 ||
                  (f != F_STATUS && H5Tset_cset(st, H5T_CSET_UTF8) < 0)))
    return -1;
  return st;
}

hid_t results_row_type(const ResultsLayout *lay, RowShape *rs) {
  size_t off = 8; /* run_id, seed */
  for (int c = 0; c < lay->ncols; c++) {
    rs->col_off[c] = off;
    off += col_size(&lay->cols[c]);
  }
  rs->col_off[lay->ncols] = off;
  for (int f = 0; f < NFIXED; f++) off += fixed_size(f);
  rs->size = off;
  hid_t t = H5Tcreate(H5T_COMPOUND, off);
  if (t < 0) return -1;
  int bad = H5Tinsert(t, "run_id", 0, H5T_NATIVE_INT32) < 0 || H5Tinsert(t, "seed", 4, H5T_NATIVE_INT32) < 0;
  for (int c = 0; c < lay->ncols && !bad; c++) {
    hid_t ct = col_type(&lay->cols[c]);
    bad = ct < 0 || H5Tinsert(t, lay->cols[c].name, rs->col_off[c], ct) < 0;
    if (ct >= 0) H5Tclose(ct);
  }
  for (int f = 0; f < NFIXED && !bad; f++) {
    hid_t ft = fixed_type(f);
    bad = ft < 0 || H5Tinsert(t, RESULTS_FIXED[f].name, fixed_off(lay, rs, f), ft) < 0;
    if (ft >= 0) H5Tclose(ft);
  }
  if (bad) { H5Tclose(t); return -1; }
  return t;
}

static void put(unsigned char *row, size_t off, const void *v, size_t n) { memcpy(row + off, v, n); }

static void put_value(unsigned char *row, const ResultsColumn *col, size_t off, const char *v) {
  if (col->type == VT_BOOL) { signed char b = strcmp(v, "true") == 0; put(row, off, &b, 1); }
  else if (col->type == VT_I64) { int64_t i = strtoll(v, NULL, 10); put(row, off, &i, 8); }
  else if (col->type == VT_F64) { double d = strtod(v, NULL); put(row, off, &d, 8); }
  else { /* a JSON string: its text, unescaped (d"/a1 is stored as d"/a1, not d\"/a) */
    char *s = (char *)row + off;
    memset(s, 0, (size_t)col->strsize);
    cJSON *j = cJSON_Parse(v);
    snprintf(s, (size_t)col->strsize, "%s", cJSON_IsString(j) ? j->valuestring : v);
    cJSON_Delete(j);
  }
}

/* The fixed columns start at off: status, steps_done, ... rank (RESULTS_FIXED). */
static void fill_fixed(unsigned char *row, size_t off, const RunRow *x) {
  int32_t rank = x->rank, threads = x->threads, labels = x->labels;
  int64_t sd = x->steps_done, tot = x->total_steps, bs = x->best_step;
  const void *src[NFIXED] = {
      [F_STATUS] = RUN_STATUS_NAME[x->status], [F_STEPS_DONE] = &sd, [F_TOTAL] = &tot, [F_BEST_ACC] = &x->best_acc,
      [F_BEST_STEP] = &bs, [F_FINAL_ACC] = &x->final_acc, [F_FINAL_LOSS] = &x->final_loss,
      [F_MAJORITY] = &x->majority, [F_BOW] = &x->bow, [F_LABELS] = &labels, [F_INIT] = x->initialised, [F_UNK] = &x->unk_rate, [F_WALL] = &x->wall_seconds, [F_RANK] = &rank, [F_HOST] = x->host,
      [F_CPU] = x->cpu, [F_BLAS] = x->blas, [F_THREADS] = &threads, [F_LIBS] = x->libs, [F_STARTED] = &x->started,
      [F_FINISHED] = &x->finished, [F_ERROR] = x->error};
  for (int f = 0; f < NFIXED; f++) {
    size_t n = fixed_size(f);
    if (RESULTS_FIXED[f].type == VT_STR) { /* NUL-padded, cut to fit */
      memset(row + off, 0, n);
      if (src[f]) snprintf((char *)row + off, n, "%s", (const char *)src[f]);
    } else {
      put(row, off, src[f], n);
    }
    off += n;
  }
}

RunRow results_row_pending(int run_id, int seed, long total_steps, const char *const *values) {
  return (RunRow){.run_id = run_id, .seed = seed, .rank = -1, .values = values, .total_steps = total_steps,
                  .best_step = -1, .status = RUN_PENDING, .best_acc = NAN, .final_acc = NAN, .final_loss = NAN,
                  .majority = NAN, .bow = NAN, .unk_rate = NAN, .started = NAN, .finished = NAN};
}

void results_fill_row(const ResultsLayout *lay, const RowShape *rs, unsigned char *row, const RunRow *x) {
  int32_t id = x->run_id, seed = x->seed;
  put(row, 0, &id, 4);
  put(row, 4, &seed, 4);
  for (int c = 0; x->values && c < lay->ncols; c++) put_value(row, &lay->cols[c], rs->col_off[c], x->values[c]);
  fill_fixed(row, rs->col_off[lay->ncols], x);
}

/* ---- opening for raw-data writes ---- */

static hid_t mpio_fapl(MPI_Comm comm) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) return -1;
  return fapl;
}

/* 1 when every rank passed ok, else 0 (so collective sequences stop together). */
static int all_ok(MPI_Comm comm, int ok) {
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  return all;
}

static hsize_t dim_of(hid_t d, int which) {
  hsize_t dims[2] = {0, 0};
  hid_t sp = H5Dget_space(d);
  if (sp >= 0) {
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
  }
  return dims[which];
}

static int open_slots(Results *r, Err *e) {
  size_t n = (size_t)(r->lay.nslots ? r->lay.nslots : 1);
  r->slot_params = calloc(n, sizeof(hid_t));
  r->slot_m = calloc(n, sizeof(hid_t));
  r->slot_v = calloc(n, sizeof(hid_t));
  r->slot_state = calloc(n, sizeof(hid_t));
  if (!r->slot_params || !r->slot_m || !r->slot_v || !r->slot_state) return errf(e, "out of memory");
  for (int k = 0; k < r->lay.nslots; k++) {
    char name[64];
    hid_t *dst[NSLOT_DATASETS] = {[SLOT_PARAMS] = &r->slot_params[k], [SLOT_ADAM_M] = &r->slot_m[k],
                                  [SLOT_ADAM_V] = &r->slot_v[k], [SLOT_STATE] = &r->slot_state[k]};
    for (int i = 0; i < NSLOT_DATASETS; i++) {
      results_slot_path(name, sizeof name, k, i);
      if ((*dst[i] = H5Dopen2(r->file, name, H5P_DEFAULT)) < 0) return h5err(e, "%s: opening %s", r->path, name);
    }
  }
  if (r->lay.nslots > 0) r->lay.slot_size = (long)dim_of(r->slot_params[0], 1);
  return 0;
}

static void close_slots(Results *r) {
  hid_t *sets[4] = {r->slot_params, r->slot_m, r->slot_v, r->slot_state};
  for (int i = 0; i < 4; i++) {
    for (int k = 0; sets[i] && k < r->lay.nslots; k++)
      if (sets[i][k] > 0) H5Dclose(sets[i][k]);
    free(sets[i]);
  }
  r->slot_params = r->slot_m = r->slot_v = r->slot_state = NULL;
}

static int count_slots(hid_t file) {
  if (H5Lexists(file, RESULTS_CHECKPOINTS, H5P_DEFAULT) <= 0) return 0;
  hid_t g = H5Gopen2(file, RESULTS_CHECKPOINTS, H5P_DEFAULT);
  H5G_info_t gi;
  int n = g >= 0 && H5Gget_info(g, &gi) >= 0 ? (int)gi.nlinks : -1;
  if (g >= 0) H5Gclose(g);
  return n;
}

static int open_handles(Results *r, Err *e) {
  r->runs = H5Dopen2(r->file, RESULTS_RUNS, H5P_DEFAULT);
  int bad = r->runs < 0;
  for (int i = 0; i < NMETRICS; i++) bad |= (r->metric[i] = H5Dopen2(r->file, RESULTS_METRICS[i].path, H5P_DEFAULT)) < 0;
  if (bad) return h5err(e, "%s: opening datasets", r->path);
  r->run_type = H5Dget_type(r->runs);
  r->shape.size = r->run_type >= 0 ? H5Tget_size(r->run_type) : 0;
  r->row = malloc(r->shape.size ? r->shape.size : 1);
  if (r->run_type < 0 || !r->row) return errf(e, "%s: reading the /runs row type", r->path);
  r->lay.nruns = (int)dim_of(r->runs, 0);
  r->lay.max_steps = (long)dim_of(r->metric[DS_LOSS], 1);
  r->lay.max_evals = (int)dim_of(r->metric[DS_ACC], 1);
  if ((r->lay.nslots = count_slots(r->file)) < 0) return h5err(e, "%s: reading /checkpoints", r->path);
  if (open_slots(r, e)) return -1;
  if (H5Lexists(r->file, RESULTS_FINAL, H5P_DEFAULT) > 0) {
    if ((r->final = H5Dopen2(r->file, RESULTS_FINAL, H5P_DEFAULT)) < 0)
      return h5err(e, "%s: opening /final_weights", r->path);
    r->lay.final_size = (long)dim_of(r->final, 1);
  }
  return 0;
}

int results_open(Results *r, const char *path, MPI_Comm comm, Err *e) {
  memset(r, 0, sizeof *r);
  r->file = r->runs = r->run_type = r->final = -1;
  for (int i = 0; i < NMETRICS; i++) r->metric[i] = -1;
  snprintf(r->path, sizeof r->path, "%s", path);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  Err fifo;
  r->sync_fd = open_regular(path, O_RDONLY, 0, &fifo);
  hid_t fapl = mpio_fapl(comm);
  r->file = fapl >= 0 && r->sync_fd >= 0 ? H5Fopen(path, H5F_ACC_RDWR, fapl) : -1;
  int rc = r->sync_fd < 0 ? errf(e, "%s: cannot open: %s", path, strerror(errno))
           : r->file < 0  ? h5err(e, "%s: cannot open for writing", path)
                          : 0;
  if (fapl >= 0) H5Pclose(fapl);
  if (!rc) rc = open_handles(r, e);
  if (all_ok(comm, rc == 0)) return 0;
  Err ignore;
  results_close(r, &ignore);
  return rc ? -1 : errf(e, "%s: another rank could not open it", path);
}

int results_close(Results *r, Err *e) {
  close_slots(r);
  int bad = 0;
  if (r->final > 0) H5Dclose(r->final);
  for (int i = 0; i < NMETRICS; i++)
    if (r->metric[i] > 0) H5Dclose(r->metric[i]);
  if (r->runs > 0) H5Dclose(r->runs);
  if (r->run_type > 0) H5Tclose(r->run_type);
  if (r->file > 0) bad = H5Fclose(r->file) < 0;
  if (r->sync_fd >= 0) close(r->sync_fd);
  free(r->row);
  r->row = NULL;
  r->file = r->runs = r->run_type = r->final = r->sync_fd = -1;
  return bad ? h5err(e, "%s: closing", r->path) : 0;
}

int results_sync(Results *r, Err *e) {
  if (fdatasync(r->sync_fd) != 0) return errf(e, "%s: flushing to disk: %s", r->path, strerror(errno));
  return 0;
}

/* ---- raw-data writes ---- */

int results_write_metrics(Results *r, ShapeRule shape, int run, long idx0, int n, const double *const *vals, Err *e) {
  enum { MAXN = 256 };
  union {
    float f[MAXN];
    int64_t i[MAXN];
  } buf;
  if (n > MAXN) return errf(e, "%s: internal: %d values in one write", r->path, n);
  for (int k = 0; k < NMETRICS; k++) {
    const DatasetSpec *ds = &RESULTS_METRICS[k];
    if (ds->shape != shape) continue;
    for (int t = 0; t < n; t++) {
      if (ds->type == VT_I64) buf.i[t] = (int64_t)vals[k][t];
      else buf.f[t] = (float)vals[k][t];
    }
    if (h5_write_at(r->metric[k], h5_native(ds->type), run, idx0, n, &buf))
      return h5err(e, "%s: writing /%s of run %d", r->path, ds->path, run);
  }
  return 0;
}

int results_write_row(Results *r, const RunRow *row, Err *e) {
  if (row->run_id < 0 || row->run_id >= r->lay.nruns) return errf(e, "%s: internal: row %d out of range", r->path, row->run_id);
  /* the grid values are in the file already: read the row, update its fixed columns */
  if (h5_read_at(r->runs, r->run_type, -1, row->run_id, 1, r->row))
    return h5err(e, "%s: reading /runs row %d", r->path, row->run_id);
  size_t tail = r->shape.size;
  for (int f = 0; f < NFIXED; f++) tail -= fixed_size(f);
  fill_fixed(r->row, tail, row);
  if (h5_write_at(r->runs, r->run_type, -1, row->run_id, 1, r->row))
    return h5err(e, "%s: writing /runs row %d", r->path, row->run_id);
  return 0;
}

int results_row_provenance(Results *r, int row, int *threads, char *blas, size_t blas_size, Err *e) {
  if (row < 0 || row >= r->lay.nruns) return errf(e, "%s: internal: row %d out of range", r->path, row);
  if (h5_read_at(r->runs, r->run_type, -1, row, 1, r->row)) return h5err(e, "%s: reading /runs row %d", r->path, row);
  size_t base = r->shape.size;
  for (int f = 0; f < NFIXED; f++) base -= fixed_size(f);
  size_t off = base;
  for (int f = 0; f < F_THREADS; f++) off += fixed_size(f);
  int32_t t;
  memcpy(&t, r->row + off, 4);
  *threads = t;
  off = base;
  for (int f = 0; f < F_BLAS; f++) off += fixed_size(f);
  snprintf(blas, blas_size, "%.*s", (int)fixed_size(F_BLAS), (const char *)r->row + off);
  return 0;
}

int results_write_final(Results *r, int row, const float *params, long n, Err *e) {
  if (r->final <= 0 || n > r->lay.final_size) return errf(e, "%s: no room for final weights of run %d", r->path, row);
  if (h5_write_at(r->final, H5T_NATIVE_FLOAT, row, 0, n, params))
    return h5err(e, "%s: writing final weights of run %d", r->path, row);
  return 0;
}

/* ---- checkpoints ---- */

int results_slot_row(const SlotState *st, int nruns) {
  const double v = st->v[SS_RUN];
  return v >= 0 && v < (double)nruns && v == floor(v) ? (int)v : -1;
}

double results_ckpt_crc(const float *params, const float *m, const float *v, long n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const float *sets[3] = {params, m, v};
  for (int s = 0; s < 3; s++) {
    const Bytef *p = (const Bytef *)sets[s];
    size_t left = (size_t)n * sizeof(float);
    while (left) { /* crc32 takes a uInt length */
      uInt k = left > (1u << 30) ? (1u << 30) : (uInt)left;
      crc = crc32(crc, p, k);
      p += k;
      left -= k;
    }
  }
  return (double)crc;
}

int results_slot_state_fits(const SlotState *st, long row, long total_steps, long nparams) {
  const double *v = st->v;
  double step = v[SS_STEP], t = v[SS_OPT_T];
  return v[SS_RUN] == (double)row && step == floor(step) && step > 0 && step <= (double)total_steps && t == floor(t) &&
         t >= 0 && t <= step && (v[SS_HALF] == 0 || v[SS_HALF] == 1) && v[SS_NFLOATS] == (double)nparams &&
         v[SS_BEST_STEP] == floor(v[SS_BEST_STEP]) && v[SS_BEST_STEP] >= -1 && v[SS_BEST_STEP] <= step &&
         isfinite(v[SS_WALL]) && v[SS_WALL] >= 0 && v[SS_CRC] == floor(v[SS_CRC]) && v[SS_CRC] >= 0 &&
         v[SS_CRC] <= 4294967295.0 && (v[SS_EVAL_PENDING] == 0 || v[SS_EVAL_PENDING] == 1);
}

static int slot_ok(Results *r, int slot, long n, Err *e) {
  if (slot < 0 || slot >= r->lay.nslots || n > r->lay.slot_size)
    return errf(e, "%s: internal: checkpoint slot %d (%ld floats) out of range", r->path, slot, n);
  return 0;
}

int results_ckpt_write_data(Results *r, int slot, int half, const float *params, const float *m, const float *v,
                            long n, Err *e) {
  if (slot_ok(r, slot, n, e)) return -1;
  const float *src[3] = {params, m, v};
  hid_t dst[3] = {r->slot_params[slot], r->slot_m[slot], r->slot_v[slot]};
  for (int i = 0; i < 3; i++)
    if (h5_write_at(dst[i], H5T_NATIVE_FLOAT, half, 0, n, src[i]))
      return h5err(e, "%s: writing checkpoint slot %d", r->path, slot);
  return results_sync(r, e);
}

int results_ckpt_commit(Results *r, int slot, const SlotState *st, Err *e) {
  if (slot_ok(r, slot, 0, e)) return -1;
  if (h5_write_at(r->slot_state[slot], H5T_NATIVE_DOUBLE, -1, 0, NSLOTSTATE, st->v))
    return h5err(e, "%s: writing the state of checkpoint slot %d", r->path, slot);
  return results_sync(r, e);
}

int results_ckpt_state(Results *r, int slot, SlotState *st, Err *e) {
  if (slot_ok(r, slot, 0, e)) return -1;
  if (h5_read_at(r->slot_state[slot], H5T_NATIVE_DOUBLE, -1, 0, NSLOTSTATE, st->v))
    return h5err(e, "%s: reading the state of checkpoint slot %d", r->path, slot);
  return 0;
}

int results_ckpt_read(Results *r, int slot, float *params, float *m, float *v, long n, const SlotState *st, Err *e) {
  if (slot_ok(r, slot, n, e)) return -1;
  int h = (int)st->v[SS_HALF];
  if ((h != 0 && h != 1) || st->v[SS_NFLOATS] != (double)n)
    return errf(e, "%s: checkpoint slot %d: state does not match the run's model", r->path, slot);
  float *dst[3] = {params, m, v};
  hid_t src[3] = {r->slot_params[slot], r->slot_m[slot], r->slot_v[slot]};
  for (int i = 0; i < 3; i++)
    if (h5_read_at(src[i], H5T_NATIVE_FLOAT, h, 0, n, dst[i]))
      return h5err(e, "%s: reading checkpoint slot %d", r->path, slot);
  if (results_ckpt_crc(params, m, v, n) != st->v[SS_CRC]) {
    errf(e, "%s: checkpoint slot %d: data does not match its checksum", r->path, slot);
    return 1;
  }
  return 0;
}

int results_slot_clear(Results *r, int slot, Err *e) {
  SlotState empty = {{SLOT_EMPTY}};
  if (slot < 0 || slot >= r->lay.nslots) return 0;
  return results_ckpt_commit(r, slot, &empty, e);
}
