#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <hdf5_hl.h>
#include "io/fileutil.h"
#include "io/results_check.h"
#include "io/results_read.h"

typedef struct {
  const char *path;
  FILE *out;
  hid_t f;
  ResultsInfo info;
  CheckSummary *sum;
  unsigned char *bad_row; /* [nruns] */
} Checker;

static void problem(Checker *c, int row, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(Checker *c, int row, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (row >= 0) {
    fprintf(c->out, "  damaged: run %d: %s\n", row, msg);
    if (c->bad_row) c->bad_row[row] = 1;
  } else {
    fprintf(c->out, "  damaged: %s\n", msg);
  }
  c->sum->problems++;
}

/* Every metric row readable; written steps consistent with the row's status. The learning
   rate is finite at every step a run did, so it tells written steps from never-written ones. */
static void check_metrics(Checker *c) {
  const ResultsInfo *in = &c->info;
  for (int i = 0; i < NMETRICS; i++) {
    const DatasetSpec *ds = &RESULTS_METRICS[i];
    hid_t d = H5Dopen2(c->f, ds->path, H5P_DEFAULT);
    long cols = ds->shape == SHAPE_RUN_STEP ? in->lay.max_steps : in->lay.max_evals;
    double *buf = malloc(sizeof(double) * (size_t)(cols ? cols : 1));
    if (d < 0 || !buf) {
      problem(c, -1, "/%s cannot be opened", ds->path);
      free(buf);
      if (d >= 0) H5Dclose(d);
      continue;
    }
    for (int r = 0; r < in->nruns; r++) {
      if (cols && h5_read_at(d, H5T_NATIVE_DOUBLE, r, 0, cols, buf)) {
        problem(c, r, "/%s cannot be read", ds->path);
        continue;
      }
      if (i != DS_LR) continue;
      long written = 0, steps = in->steps_done[r];
      for (long k = 0; k < cols; k++) written += !isnan(buf[k]);
      const char *st = in->status[r];
      const int pending = run_status_parse(st) == RUN_PENDING || run_status_parse(st) == RUN_FAILED; /* never trained */
      if (pending && written) problem(c, r, "%s, but %ld steps are recorded", st, written);
      if (!pending && (steps < 0 || steps > cols || steps > in->total_steps[r]))
        problem(c, r, "steps_done %ld is out of range", steps);
      else if (!pending)
        for (long k = 0; k < steps; k++)
          if (isnan(buf[k])) {
            problem(c, r, "%s after %ld steps, but step %ld was never recorded", st, steps, k + 1);
            break;
          }
    }
    free(buf);
    H5Dclose(d);
  }
}

static void check_coords(Checker *c) {
  for (int i = 0; i < NCOORDS; i++) {
    hid_t d = H5Dopen2(c->f, RESULTS_COORDS[i].path, H5P_DEFAULT);
    if (d < 0) problem(c, -1, "/%s cannot be opened", RESULTS_COORDS[i].path);
    else if (H5DSis_scale(d) <= 0) problem(c, -1, "/%s is not a dimension scale", RESULTS_COORDS[i].path);
    if (d >= 0) H5Dclose(d);
  }
}

/* The run coordinates in /train and /eval (run_id, seed, grid columns), where present (files
   before them have none): equal to their /runs columns, else xarray readers are misled. */
static void check_run_coords(Checker *c) {
  static const char *const GROUP[] = {"train", "eval"};
  const ResultsInfo *in = &c->info;
  hid_t runs = H5Dopen2(c->f, RESULTS_RUNS, H5P_DEFAULT);
  for (int g = 0; runs >= 0 && g < 2; g++) {
    if (H5Lexists(c->f, GROUP[g], H5P_DEFAULT) <= 0) continue;
    int present = 0; /* a file with coordinates has all of them: each metric's "coordinates" names them */
    for (int m = -2; m < in->lay.ncols; m++) {
      char path[300];
      snprintf(path, sizeof path, "%s/%s", GROUP[g], m == -2 ? "run_id" : m == -1 ? "seed" : in->lay.cols[m].name);
      present += H5Lexists(c->f, path, H5P_DEFAULT) > 0;
    }
    for (int m = -2; m < in->lay.ncols; m++) {
      const char *name = m == -2 ? "run_id" : m == -1 ? "seed" : in->lay.cols[m].name;
      char path[300];
      snprintf(path, sizeof path, "%s/%s", GROUP[g], name);
      if (H5Lexists(c->f, path, H5P_DEFAULT) <= 0) {
        if (present) problem(c, -1, "/%s is missing (the group's other run coordinates are there: salvage rewrites it)", path);
        continue;
      }
      hid_t d = H5Dopen2(c->f, path, H5P_DEFAULT), ft = d >= 0 ? H5Dget_type(d) : -1;
      hid_t t = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : -1;
      size_t sz = t >= 0 ? H5Tget_size(t) : 0, n = (size_t)(in->nruns ? in->nruns : 1);
      unsigned char *a = sz ? calloc(n, sz) : NULL, *b = sz ? calloc(n, sz) : NULL;
      int bad = !a || !b || h5_dim(c->f, path, 0) != (hsize_t)in->nruns ||
                (in->nruns && (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) < 0 || results_read_member(runs, name, t, b)));
      if (bad) problem(c, -1, "/%s cannot be read as /runs' %s", path, name);
      for (int r = 0; !bad && r < in->nruns; r++)
        if (memcmp(a + (size_t)r * sz, b + (size_t)r * sz, sz) != 0) {
          problem(c, -1, "/%s of run %d differs from its /runs %s (a copy: salvage rewrites it)", path, r, name);
          break;
        }
      free(a);
      free(b);
      if (t >= 0) H5Tclose(t);
      if (ft >= 0) H5Tclose(ft);
      if (d >= 0) H5Dclose(d);
    }
  }
  if (runs >= 0) H5Dclose(runs);
}

/* A live checkpoint: fits its row, and its data matches its checksum. */
static int verify_slot(Checker *c, int k, const SlotState *st, int quiet) {
  const ResultsInfo *in = &c->info;
  const double *v = st->v;
  int row = results_slot_row(st, in->nruns);
  long n = v[SS_NFLOATS] > 0 && v[SS_NFLOATS] <= (double)in->lay.slot_size ? (long)v[SS_NFLOATS] : 0;
  int fits = row >= 0 && v[SS_STEP] == floor(v[SS_STEP]) && v[SS_STEP] > 0 &&
             v[SS_STEP] <= (double)in->total_steps[row] && (v[SS_HALF] == 0 || v[SS_HALF] == 1) && n > 0 &&
             v[SS_NFLOATS] == (double)n;
  if (!fits) {
    if (!quiet) problem(c, -1, "checkpoint slot %d: its state does not fit the file (run %g, step %g)", k, v[SS_RUN], v[SS_STEP]);
    return 0;
  }
  if (!quiet && v[SS_STEP] > (double)in->steps_done[row])
    problem(c, row, "its checkpoint is at step %.0f, past the %ld steps its row records", v[SS_STEP], in->steps_done[row]);
  float *data = malloc(sizeof(float) * (size_t)n * 3);
  int ok = data != NULL;
  for (int i = SLOT_PARAMS; ok && i <= SLOT_ADAM_V; i++) {
    char name[64];
    results_slot_path(name, sizeof name, k, i);
    hid_t d = H5Dopen2(c->f, name, H5P_DEFAULT);
    ok = d >= 0 && h5_read_at(d, H5T_NATIVE_FLOAT, (long)v[SS_HALF], 0, n, data + (size_t)i * (size_t)n) == 0;
    if (d >= 0) H5Dclose(d);
  }
  ok = ok && results_ckpt_crc(data, data + n, data + 2 * n, n) == v[SS_CRC];
  free(data);
  if (!ok && !quiet) problem(c, row, "its checkpoint (slot %d, step %.0f) cannot be read or fails its checksum", k, v[SS_STEP]);
  return ok;
}

static void check_slots(Checker *c) {
  const ResultsInfo *in = &c->info;
  for (int k = 0; k < in->lay.nslots; k++) {
    const SlotState *st = &in->slots[k];
    if (st->v[SS_RUN] == SLOT_EMPTY) continue; /* anything else names a run, or is damage */
    int row = results_slot_row(st, in->nruns);
    if (row >= 0 && run_status_parse(in->status[row]) == RUN_DONE) continue; /* freed as the run ended */
    if (verify_slot(c, k, st, 0)) c->sum->checkpoints++;
  }
}

static void check_final(Checker *c) {
  if (H5Lexists(c->f, RESULTS_FINAL, H5P_DEFAULT) <= 0) return;
  hid_t d = H5Dopen2(c->f, RESULTS_FINAL, H5P_DEFAULT);
  long n = c->info.lay.final_size;
  float *buf = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int r = 0; d >= 0 && buf && r < c->info.nruns; r++)
    if (run_status_parse(c->info.status[r]) == RUN_DONE && h5_read_at(d, H5T_NATIVE_FLOAT, r, 0, n, buf))
      problem(c, r, "its final weights cannot be read");
  if (d < 0) problem(c, -1, "/final_weights cannot be opened");
  free(buf);
  if (d >= 0) H5Dclose(d);
}

static int open_checker(Checker *c, const char *path, FILE *out, CheckSummary *sum, Err *e) {
  memset(c, 0, sizeof *c);
  memset(sum, 0, sizeof *sum);
  c->path = path;
  c->out = out;
  c->sum = sum;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  struct stat st;
  if (stat(path, &st) != 0) return errf(e, "%s: no such file", path);
  if (regular_or_absent(path, e)) return -1; /* HDF5 would block on a FIFO */
  if ((c->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) return h5err(e, "%s: damaged: cannot be opened as HDF5", path);
  if (results_inspect(path, &c->info, e)) {
    H5Fclose(c->f);
    return -1;
  }
  c->bad_row = calloc((size_t)(c->info.nruns ? c->info.nruns : 1), 1);
  return c->bad_row ? 0 : errf(e, "out of memory");
}

static void close_checker(Checker *c) {
  results_info_free(&c->info);
  free(c->bad_row);
  if (c->f >= 0) H5Fclose(c->f);
}

int results_check(const char *path, FILE *out, CheckSummary *sum, Err *e) {
  Checker c;
  if (open_checker(&c, path, out, sum, e)) return -1;
  ResultsInfo *in = &c.info;
  fprintf(out, "%s: format %d, %d runs, up to %ld steps and %d evaluations, %d checkpoint slots\n", path,
          in->format_version, in->nruns, in->lay.max_steps, in->lay.max_evals, in->lay.nslots);
  if (in->format_version != RESULTS_FORMAT_VERSION)
    problem(&c, -1, "format %d: written by an older bertsweep (this one reads and resumes format %d; --salvage converts)",
            in->format_version, RESULTS_FORMAT_VERSION);
  sum->nruns = in->nruns;
  for (int r = 0; r < in->nruns; r++) {
    int s = run_status_parse(in->status[r]);
    if (s < 0) problem(&c, r, "unknown status \"%s\"", in->status[r]);
    else sum->count[s]++;
    if (!in->run_configs[r][0]) problem(&c, r, "no run config");
  }
  check_coords(&c);
  check_run_coords(&c);
  check_metrics(&c);
  if (in->format_version == RESULTS_FORMAT_VERSION) check_slots(&c);
  check_final(&c);
  fprintf(out, "%s: runs:", path);
  for (int s = 0; s < NRUN_STATUS; s++)
    if (sum->count[s]) fprintf(out, " %d %s", sum->count[s], RUN_STATUS_NAME[s]);
  fprintf(out, "; %d live checkpoint%s verified; %s\n", sum->checkpoints, sum->checkpoints == 1 ? "" : "s",
          sum->problems ? "DAMAGED" : "no damage found");
  close_checker(&c);
  return sum->problems;
}

/* ---- salvage ---- */

/* The value of a dotted key in a run config, as compact JSON ("null" when absent). */
static char *config_value(const char *config_json, const char *key) {
  cJSON *root = cJSON_Parse(config_json);
  const cJSON *it = root;
  char part[128];
  for (const char *p = key; it && *p;) {
    size_t n = strcspn(p, ".");
    snprintf(part, sizeof part, "%.*s", (int)n, p);
    it = cJSON_GetObjectItemCaseSensitive(it, part);
    p += n + (p[n] == '.');
  }
  char *v = it ? cJSON_PrintUnformatted(it) : strdup("null");
  cJSON_Delete(root);
  return v;
}

int results_salvage(const char *path, const char *out_path, FILE *out, Err *e) {
  Checker c;
  CheckSummary sum;
  FILE *quiet = fopen("/dev/null", "w");
  if (!quiet) return errf(e, "/dev/null: cannot open");
  int rc = open_checker(&c, path, quiet, &sum, e);
  if (rc) {
    fclose(quiet);
    return errctx(e, "cannot salvage");
  }
  ResultsInfo *in = &c.info;
  int n = in->nruns, ncols = in->lay.ncols;
  RunRow *rows = calloc((size_t)(n ? n : 1), sizeof(RunRow));
  char **vals = calloc((size_t)(n ? n : 1) * (size_t)(ncols ? ncols : 1), sizeof(char *));
  int *slot_src = malloc(sizeof(int) * (size_t)(in->lay.nslots ? in->lay.nslots : 1)), kept = 0;
  if (!rows || !vals || !slot_src) rc = errf(e, "out of memory");
  for (int r = 0; !rc && r < n; r++) { /* what a lost row becomes: pending, its values from its run config */
    char *seed = config_value(in->run_configs[r], "train.seed");
    for (int k = 0; k < ncols; k++) vals[(size_t)r * (size_t)ncols + (size_t)k] = config_value(in->run_configs[r], in->lay.cols[k].name);
    rows[r] = results_row_pending(r, seed ? atoi(seed) : 0, in->total_steps[r],
                                  (const char *const *)vals + (size_t)r * (size_t)ncols);
    free(seed);
  }
  for (int k = 0; !rc && in->format_version == RESULTS_FORMAT_VERSION && k < in->lay.nslots; k++) {
    const SlotState *st = &in->slots[k];
    int row = results_slot_row(st, n);
    if (row >= 0 && run_status_parse(in->status[row]) != RUN_DONE && verify_slot(&c, k, st, 1))
      slot_src[kept++] = k;
  }
  ResultsLayout lay = in->lay;
  lay.nslots = kept;
  if (!kept) lay.slot_size = 0;
  /* final weights of done runs are copied (results_build: a done row whose weights cannot be
     read becomes pending, to be run again) */
  int lost = 0;
  ResultsSource src = {.path = path, .nrows = n, .slot_src = slot_src, .tolerant = 1, .lost = &lost};
  char *sweep_json = in->sweep_json, *config_path = in->config_path;
  if (!rc) rc = results_build(out_path, &lay, rows, (const char *const *)in->run_configs, sweep_json, config_path, &src, e);
  ResultsInfo now;
  if (!rc && results_inspect(out_path, &now, e) == 0) {
    kept = 0;
    for (int k = 0; k < now.lay.nslots; k++) kept += now.slots[k].v[SS_RUN] >= 0;
    results_info_free(&now);
    fprintf(out, "%s -> %s: %d runs copied, %d unreadable (now pending), %d checkpoint%s kept\n", path, out_path,
            n - lost, lost, kept, kept == 1 ? "" : "s");
  }
  for (size_t i = 0; vals && i < (size_t)n * (size_t)ncols; i++) free(vals[i]);
  free(vals);
  free(rows);
  free(slot_src);
  close_checker(&c);
  fclose(quiet);
  return rc;
}
