#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "report/emit.h"
#include "report/html.h"
#include "report_page.h" /* REPORT_PAGE: report/page.html, generated at build time */

/* "[v,v,null,...]" with 4 significant digits: the page's curves are for the eye. */
static char *number_array(const float *v, long n, long stride, Err *e) {
  size_t cap = 16 + (size_t)n * 14, len = 1;
  char *s = malloc(cap);
  if (!s) {
    errf(e, "out of memory");
    return NULL;
  }
  s[0] = '[';
  for (long i = 0; i < n; i++) {
    const float x = v[i * stride];
    len += (size_t)snprintf(s + len, cap - len, "%s", i ? "," : "");
    len += isfinite(x) ? (size_t)snprintf(s + len, cap - len, "%.4g", (double)x) : (size_t)snprintf(s + len, cap - len, "null");
  }
  snprintf(s + len, cap - len, "]");
  return s;
}

static int add_raw(cJSON *obj, const char *name, char *text) {
  if (!text) return -1;
  cJSON *raw = cJSON_CreateRaw(text);
  free(text);
  return raw && cJSON_AddItemToObject(obj, name, raw) ? 0 : -1;
}

/* Run r's metric k (a per-step one) in bins of `every` steps: each bin's mean of its finite values. */
static void step_curve(const ResultsData *d, int k, int r, long every, float *bins, long nbins) {
  const float *y = results_row_f(d, k, r);
  for (long b = 0; b < nbins; b++) {
    double sum = 0;
    long n = 0;
    for (long i = b * every; i < (b + 1) * every && i < d->max_steps; i++)
      if (isfinite(y[i])) sum += y[i], n++;
    bins[b] = n ? (float)(sum / (double)n) : NAN;
  }
}

/* Run r's metric k (a per-evaluation one) in bins of `every` evaluations: each bin's mean over
   the evaluations that ran (NaN where a bin has none). */
static void eval_curve(const ResultsData *d, int k, int r, int every, float *bins, int nbins) {
  const float *y = results_row_f(d, k, r);
  const long *st = results_row_i(d, DS_ESTEP, r);
  for (int b = 0; b < nbins; b++) {
    double sum = 0;
    int n = 0;
    for (int i = b * every; i < (b + 1) * every && i < d->max_evals; i++)
      if (st[i] >= 0 && isfinite(y[i])) sum += y[i], n++;
    bins[b] = n ? (float)(sum / n) : NAN;
  }
}

/* The mean step of each bin's evaluations (-1 where a bin has none): the x of eval curves. */
static void eval_steps(const ResultsData *d, int r, int every, double *step, int nbins) {
  const long *st = results_row_i(d, DS_ESTEP, r);
  for (int b = 0; b < nbins; b++) {
    double ss = 0;
    int n = 0;
    for (int i = b * every; i < (b + 1) * every && i < d->max_evals; i++)
      if (st[i] >= 0) ss += (double)st[i], n++;
    step[b] = n ? ss / n : -1;
  }
}

static cJSON *json_text_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }
static cJSON *json_number_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static cJSON *run_row(const ResultsData *d, int r) {
  cJSON *o = cJSON_CreateObject(), *vals = cJSON_AddObjectToObject(o, "values");
  cJSON_AddNumberToObject(o, "run", r);
  cJSON_AddNumberToObject(o, "seed", d->seed[r]);
  for (int c = 0; c < d->ncols; c++) cJSON_AddStringToObject(vals, d->colname[c], d->values[r][c]);
  cJSON_AddStringToObject(o, "status", d->status[r]);
  cJSON_AddStringToObject(o, "error", d->error ? d->error[r] : "");
  cJSON_AddNumberToObject(o, "steps_done", (double)d->steps_done[r]);
  cJSON_AddNumberToObject(o, "total_steps", (double)d->total_steps[r]);
  cJSON_AddItemToObject(o, "best_acc", json_number_or_null(d->best_acc[r]));
  cJSON_AddItemToObject(o, "final_acc", json_number_or_null(d->final_acc[r]));
  cJSON_AddItemToObject(o, "majority", json_number_or_null(d->majority[r]));
  cJSON_AddItemToObject(o, "bow", json_number_or_null(d->bow[r]));
  cJSON_AddItemToObject(o, "unk_rate", json_number_or_null(d->unk[r]));
  cJSON_AddItemToObject(o, "labels", d->labels[r] > 0 ? cJSON_CreateNumber(d->labels[r]) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "host", d->host ? cJSON_CreateString(d->host[r]) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "rank", d->rank ? cJSON_CreateNumber(d->rank[r]) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "wall_seconds", d->wall ? json_number_or_null(d->wall[r]) : cJSON_CreateNull());
  return o;
}

/* The distinct values of a per-run text column, as an array. */
static cJSON *distinct(const char *base, size_t stride, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int r = 0; base && r < n; r++) {
    const char *s = base + (size_t)r * stride;
    int seen = 0;
    for (int q = 0; q < r && !seen; q++) seen = !strcmp(s, base + (size_t)q * stride);
    if (!seen && s[0]) cJSON_AddItemToArray(a, cJSON_CreateString(s));
  }
  return a;
}

static cJSON *provenance(const ResultsData *d) {
  cJSON *p = cJSON_CreateObject();
  cJSON_AddItemToObject(p, "program_version", json_text_or_null(d->version));
  cJSON_AddItemToObject(p, "git_commit", json_text_or_null(d->commit));
  cJSON_AddItemToObject(p, "written", json_text_or_null(d->written));
  cJSON_AddItemToObject(p, "hosts", distinct(d->host ? d->host[0] : NULL, sizeof d->host[0], d->nruns));
  cJSON_AddItemToObject(p, "cpus", distinct(d->cpu ? d->cpu[0] : NULL, sizeof d->cpu[0], d->nruns));
  cJSON_AddItemToObject(p, "blas", distinct(d->blas ? d->blas[0] : NULL, sizeof d->blas[0], d->nruns));
  cJSON_AddItemToObject(p, "libraries", distinct(d->libs ? d->libs[0] : NULL, sizeof d->libs[0], d->nruns));
  cJSON *th = cJSON_AddArrayToObject(p, "threads");
  for (int r = 0; d->threads && r < d->nruns; r++) {
    int seen = 0;
    for (int q = 0; q < r && !seen; q++) seen = d->threads[q] == d->threads[r];
    if (!seen) cJSON_AddItemToArray(th, cJSON_CreateNumber(d->threads[r]));
  }
  cJSON_AddStringToObject(p, "sweep_config", d->sweep_json ? d->sweep_json : "");
  return p;
}

static cJSON *schema(void) {
  cJSON *a = cJSON_CreateArray();
  for (int k = 0; k < NMETRICS; k++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", RESULTS_METRICS[k].path);
    cJSON_AddStringToObject(o, "shape", RESULTS_METRICS[k].shape == SHAPE_RUN_STEP ? "step" : "eval");
    cJSON_AddStringToObject(o, "units", RESULTS_METRICS[k].units);
    cJSON_AddStringToObject(o, "description", RESULTS_METRICS[k].description);
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

static cJSON *file_data(const ResultsData *d, const char *label, const char *path, Err *e) {
  cJSON *f = cJSON_CreateObject(), *cols = cJSON_AddArrayToObject(f, "columns"), *runs = cJSON_AddArrayToObject(f, "runs");
  cJSON_AddStringToObject(f, "label", label);
  cJSON_AddStringToObject(f, "file", path);
  for (int c = 0; c < d->ncols; c++) cJSON_AddItemToArray(cols, cJSON_CreateString(d->colname[c]));
  const long every = d->max_steps > HTML_POINTS ? (d->max_steps + HTML_POINTS - 1) / HTML_POINTS : 1;
  const long nbins = d->max_steps ? (d->max_steps + every - 1) / every : 0;
  cJSON_AddNumberToObject(f, "steps_every", (double)every);
  const int eevery = d->max_evals > HTML_POINTS ? (d->max_evals + HTML_POINTS - 1) / HTML_POINTS : 1;
  const int nebins = d->max_evals ? (d->max_evals + eevery - 1) / eevery : 0;
  cJSON_AddNumberToObject(f, "evals_every", (double)eevery);
  float *bins = malloc(sizeof(float) * (size_t)(nbins + nebins + 1));
  double *steps = malloc(sizeof(double) * (size_t)(nebins + 1));
  int bad = !bins || !steps;
  for (int r = 0; r < d->nruns && !bad; r++) {
    cJSON *row = run_row(d, r), *curves = cJSON_AddObjectToObject(row, "curves");
    cJSON_AddItemToArray(runs, row);
    for (int k = 0; k < NMETRICS && !bad; k++) { /* every recorded metric but the x of eval curves */
      if (!d->metric[k].present || RESULTS_METRICS[k].type != VT_F32) continue;
      int per_step = RESULTS_METRICS[k].shape == SHAPE_RUN_STEP;
      if (per_step) step_curve(d, k, r, every, bins, nbins);
      else eval_curve(d, k, r, eevery, bins, nebins);
      bad = add_raw(curves, RESULTS_METRICS[k].path, number_array(bins, per_step ? nbins : nebins, 1, e));
    }
    eval_steps(d, r, eevery, steps, nebins);
    cJSON *st = cJSON_AddArrayToObject(row, "eval_step");
    for (int k = 0; k < nebins && !bad; k++)
      cJSON_AddItemToArray(st, steps[k] >= 0 ? cJSON_CreateNumber(steps[k]) : cJSON_CreateNull());
  }
  free(bins);
  free(steps);
  cJSON_AddItemToObject(f, "provenance", provenance(d));
  if (bad) {
    cJSON_Delete(f);
    if (!e->msg[0]) errf(e, "out of memory writing the page");
    return NULL;
  }
  return f;
}

/* JSON inside <script>: "</" would end the element; "<!--" could open a comment. */
static void write_script_safe(FILE *out, const char *s) {
  for (; *s; s++) {
    if (s[0] == '<' && (s[1] == '/' || s[1] == '!')) fputs("\\u003c", out);
    else fputc(*s, out);
  }
}

/* The page for the report's files and their report (the JSON tree of `--format json`, embedded
   as it is). refresh > 0: the sweep is running; the page reloads itself every refresh seconds. */
static int html_write(FILE *out, const Report *r, const cJSON *report, Err *e) {
  cJSON *root = cJSON_CreateObject(), *files = cJSON_AddArrayToObject(root, "files");
  char now[64];
  time_t t = time(NULL);
  strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
  cJSON_AddStringToObject(root, "generated", now);
  cJSON_AddNumberToObject(root, "refresh", r->refresh > 0 ? r->refresh : 0);
  cJSON_AddItemToObject(root, "schema", schema());
  int bad = !report || !cJSON_AddItemReferenceToObject(root, "report", (cJSON *)report);
  for (int i = 0; i < r->n && !bad; i++) {
    const Section *s = &r->secs[i];
    cJSON *f = file_data(&s->d, s->label, s->path, e);
    bad = !f || !cJSON_AddItemToArray(files, f);
  }
  char *text = bad ? NULL : cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text) return e->msg[0] ? -1 : errf(e, "out of memory writing the page");
  const char *page = (const char *)REPORT_PAGE, *mark = strstr(page, "@DATA@");
  if (!mark) {
    cJSON_free(text);
    return errf(e, "internal: the page template has no @DATA@");
  }
  fwrite(page, 1, (size_t)(mark - page), out);
  write_script_safe(out, text);
  fputs(mark + 6, out);
  cJSON_free(text);
  return ferror(out) ? errf(e, "writing the page failed") : 0;
}

int emit_html(const Report *r, FILE *out, Err *e) {
  cJSON *report = report_json(r);
  int rc = html_write(out, r, report, e);
  cJSON_Delete(report);
  return rc;
}
