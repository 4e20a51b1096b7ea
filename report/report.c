#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "report/report.h"

static const char *const TARGET_NAME[NTARGETS] = {"steps_to_loss_target", "steps_to_acc_target"};

void report_defaults(ReportOptions *o) {
  memset(o, 0, sizeof *o);
  o->format = FMT_TABLE;
  o->a = (AnalysisOptions){.loss_target = NAN, .acc_target = NAN, .acc_fraction = 0.9, .smooth = 10, .bootstrap = 10000};
}

/* ---- the config's "report" section ---- */

int report_file_options(const ReportOptions *o, const ResultsData *d, const char *path, AnalysisOptions *out,
                        char *label, size_t label_size, Err *e) {
  *out = o->a;
  const char *slash = strrchr(path, '/');
  snprintf(label, label_size, "%s", slash ? slash + 1 : path);
  cJSON *root = d->sweep_json ? cJSON_Parse(d->sweep_json) : NULL;
  const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "report");
  int rc = 0;
  if (sec && !cJSON_IsObject(sec)) rc = errf(e, "%s: the sweep config's \"report\" must be an object", path);
  for (const cJSON *it = sec ? sec->child : NULL; it && !rc; it = it->next) {
    const char *k = it->string;
    if (strcmp(k, "label") == 0) {
      if (!cJSON_IsString(it)) rc = errf(e, "%s: \"report.label\" must be a string", path);
      else snprintf(label, label_size, "%s", it->valuestring);
      continue;
    }
    struct { const char *key; int flag; double *dst; double lo, hi; } NUM[] = {
        {"loss_target", SET_LOSS, &out->loss_target, 0, 1e9},
        {"acc_target", SET_ACC, &out->acc_target, 0, 1},
        {"acc_fraction", SET_FRACTION, &out->acc_fraction, 1e-9, 1},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof NUM / sizeof *NUM && !found; i++) {
      if (strcmp(k, NUM[i].key) != 0) continue;
      found = 1;
      if (!cJSON_IsNumber(it) || !(it->valuedouble >= NUM[i].lo && it->valuedouble <= NUM[i].hi))
        rc = errf(e, "%s: \"report.%s\" must be a number in [%g, %g]", path, k, NUM[i].lo, NUM[i].hi);
      else if (!(o->set & NUM[i].flag)) *NUM[i].dst = it->valuedouble;
    }
    if (found) continue;
    int *idst = strcmp(k, "smooth") == 0 ? &out->smooth : strcmp(k, "bootstrap") == 0 ? &out->bootstrap : NULL;
    int flag = idst == &out->smooth ? SET_SMOOTH : SET_BOOTSTRAP;
    if (!idst) rc = errf(e, "%s: unknown key \"report.%s\" (loss_target, acc_target, acc_fraction, smooth, "
                            "bootstrap, label)", path, k);
    else if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 1 || it->valuedouble > 1e6)
      rc = errf(e, "%s: \"report.%s\" must be a positive integer", path, k);
    else if (!(o->set & flag)) *idst = (int)it->valuedouble;
  }
  cJSON_Delete(root);
  return rc;
}

/* ---- numbers as text ---- */

static void fnum(char *out, size_t n, double x, int digits) {
  if (!isfinite(x)) snprintf(out, n, "-");
  else snprintf(out, n, "%.*f", digits, x);
}

static void fsigned(char *out, size_t n, double x, int digits) {
  if (!isfinite(x)) snprintf(out, n, "-");
  else snprintf(out, n, "%+.*f", digits, x);
}

static const char *value_of(const Analysis *A, int g, int col) { return A->d->values[A->g[g].first][col]; }

static void context(const Analysis *A, const Comparison *c, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; k < A->d->ncols && len < size; k++)
    if (k != c->col) len += (size_t)snprintf(out + len, size - len, "%s%s=%s", len ? ", " : "", A->d->colname[k], value_of(A, c->g1, k));
}

/* "KEY=V is faster", "... slower" or "no clear difference" (the second group against the first,
   at p < 0.05). */
static const char *word(char *out, size_t size, const char *who, double diff, double p, int lower_is_better,
                        const char *better, const char *worse) {
  if (!(p < 0.05) || !isfinite(diff) || diff == 0) snprintf(out, size, "no clear difference");
  else snprintf(out, size, "%s is %s", who, (diff < 0) == lower_is_better ? better : worse);
  return out;
}

typedef struct {
  char *buf;
  size_t len, cap;
} Text;

static void add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = (t->cap + (size_t)n + 1) * 2;
    char *b = realloc(t->buf, cap);
    if (!b) return;
    t->buf = b;
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

static void speed_text(Text *t, const Speed *s, const char *what, const char *vb) {
  char tg[32], lo[32], hi[32], d[32], w[400];
  fnum(tg, sizeof tg, s->target, 4);
  if (!isfinite(s->target)) {
    add(t, "%s: no common target (neither group improved on the baseline). ", what);
    return;
  }
  fsigned(d, sizeof d, s->diff, 0);
  fsigned(lo, sizeof lo, s->lo, 0);
  fsigned(hi, sizeof hi, s->hi, 0);
  add(t, "%s %s: median %s%.0f vs %s%.0f steps (Kaplan-Meier; never reached %d/%d vs %d/%d), paired difference %s "
         "[%s, %s] steps, p = %.3g: %s. ",
      what, tg, s->median_reached[0] ? "" : ">= ", s->median[0], s->median_reached[1] ? "" : ">= ", s->median[1],
      s->never[0], s->n[0], s->never[1], s->n[1], d, lo, hi, s->p,
      word(w, sizeof w, vb, s->diff, s->p, 1, "faster", "slower"));
}

static void stat_text(Text *t, const Analysis *A, const Comparison *c, int k, const char *what) {
  const Group *a = &A->g[c->g1], *b = &A->g[c->g2];
  const Paired *p = &c->stat[k];
  char m1[32], m2[32], d[32], lo[32], hi[32];
  int dg = STAT[k].digits;
  fnum(m1, sizeof m1, a->mean[k], dg);
  fnum(m2, sizeof m2, b->mean[k], dg);
  fsigned(d, sizeof d, p->diff, dg);
  fsigned(lo, sizeof lo, p->lo, dg);
  fsigned(hi, sizeof hi, p->hi, dg);
  add(t, "%s %s vs %s (difference %s [%s, %s], p = %.3g)", what, m1, m2, d, lo, hi, p->p);
}

/* One paragraph a user can paste: speed, accuracy, steadiness, failures. */
static char *verdict(const Analysis *A, const Comparison *c) {
  Text t = {0};
  const ResultsData *d = A->d;
  const Group *a = &A->g[c->g1], *b = &A->g[c->g2];
  const char *key = d->colname[c->col], *va = value_of(A, c->g1, c->col), *vb = value_of(A, c->g2, c->col);
  char ctx[1024], vbk[300];
  context(A, c, ctx, sizeof ctx);
  snprintf(vbk, sizeof vbk, "%s=%s", key, vb);
  add(&t, "%s %s vs %s%s%s%s, %d pairs of seeds. ", key, va, vb, ctx[0] ? " (" : "", ctx, ctx[0] ? ")" : "", c->pairs);
  char w[400];
  speed_text(&t, &c->speed[T_LOSS], "Training loss reaches", vbk);
  speed_text(&t, &c->speed[T_ACC], "Dev accuracy reaches", vbk);
  stat_text(&t, A, c, S_FINAL, "Final dev accuracy");
  add(&t, ": %s. ", word(w, sizeof w, vbk, c->stat[S_FINAL].diff, c->stat[S_FINAL].p, 0, "higher", "lower"));
  const Paired *p1 = &c->stat[S_LATE_STD], *p2 = &c->stat[S_ACC_OSC];
  int steadier = (p1->p < 0.05 && p1->diff < 0) || (p2->p < 0.05 && p2->diff < 0);
  int less = (p1->p < 0.05 && p1->diff > 0) || (p2->p < 0.05 && p2->diff > 0);
  if (c->learned_pairs < 2) {
    add(&t, "Steadiness not compared: %d pair(s) in which both runs learned (a run stuck at the majority class is "
            "flat, not steady). ", c->learned_pairs);
  } else {
    if (c->learned_pairs < c->pairs) add(&t, "Over the %d pairs in which both runs learned: ", c->learned_pairs);
    stat_text(&t, A, c, S_LATE_STD, c->learned_pairs < c->pairs ? "late training-loss std" : "Late training-loss std");
    add(&t, ", ");
    stat_text(&t, A, c, S_ACC_OSC, "dev-accuracy oscillation");
    if (steadier || less)
      add(&t, ": %s is %s. ", vbk, steadier && !less ? "steadier" : less && !steadier ? "less steady" : "steadier by one measure, less by the other");
    else
      add(&t, ": no clear difference in steadiness. ");
  }
  add(&t, "Failed runs %d/%d vs %d/%d", a->failed, a->finished, b->failed, b->finished);
  if (a->diverged || b->diverged) add(&t, " (diverged %d vs %d)", a->diverged, b->diverged);
  add(&t, ".");
  if (c->warning[0]) add(&t, " Warning: %s.", c->warning);
  return t.buf;
}

/* ---- formats ---- */

static void header(const Analysis *A, const char *label, const char *path, FILE *out, int md) {
  const ResultsData *d = A->d;
  int done = 0, diverged = 0;
  for (int r = 0; r < d->nruns; r++) {
    done += A->rs[r].done;
    diverged += A->rs[r].diverged;
  }
  const AnalysisOptions *o = &A->o;
  char lt[32], at[64];
  if (isnan(o->loss_target)) snprintf(lt, sizeof lt, "per comparison");
  else snprintf(lt, sizeof lt, "%g", o->loss_target);
  if (isnan(o->acc_target)) snprintf(at, sizeof at, "per comparison (fraction %g)", o->acc_fraction);
  else snprintf(at, sizeof at, "%g", o->acc_target);
  fprintf(out, "%s%s (%s): %d runs (%d done, %d diverged and counted as failed, %d unfinished and left out), %d groups\n",
          md ? "### " : "", label, path, d->nruns, done, diverged, d->nruns - done - diverged, A->ng);
  fprintf(out, "%sparameters: loss target %s (moving average of %d steps); accuracy target %s; failed = final "
               "accuracy <= majority-class baseline, or diverged; steadiness (late loss std, acc oscillation) counts runs that "
               "learned; 95%% intervals from %d bootstrap resamples; "
               "p: Wilcoxon signed-rank, paired by seed\n\n",
          md ? "" : "", lt, o->smooth, at, o->bootstrap);
}

static void group_table(const Analysis *A, FILE *out, int md) {
  int kw = 5;
  for (int i = 0; i < A->ng; i++) kw = (int)strlen(A->g[i].key) > kw ? (int)strlen(A->g[i].key) : kw;
  if (md) {
    fprintf(out, "| group | runs | unfinished | failed | diverged |");
    for (int k = 0; k < NSTATS; k++) fprintf(out, " %s mean ± std (median) |", STAT[k].head);
    fprintf(out, " majority class | bag-of-words |");
    fprintf(out, "\n|---|---|---|---|---|");
    for (int k = 0; k < NSTATS; k++) fprintf(out, "---|");
    fprintf(out, "---|---|");
  } else {
    fprintf(out, "%-*s runs unfin failed diverg", kw, "group");
    for (int k = 0; k < NSTATS; k++) fprintf(out, "  %-24s", STAT[k].head);
    fprintf(out, "  majority  bag-of-words");
  }
  fprintf(out, "\n");
  for (int i = 0; i < A->ng; i++) {
    const Group *g = &A->g[i];
    if (md) fprintf(out, "| %s | %d | %d | %d | %d |", g->key, g->n, g->unfinished, g->failed, g->diverged);
    else fprintf(out, "%-*s %4d %5d %6d %6d", kw, g->key, g->n, g->unfinished, g->failed, g->diverged);
    for (int k = 0; k < NSTATS; k++) {
      char m[32], s[32], me[32], cell[100];
      fnum(m, sizeof m, g->mean[k], STAT[k].digits);
      fnum(s, sizeof s, g->std[k], STAT[k].digits);
      fnum(me, sizeof me, g->median[k], STAT[k].digits);
      snprintf(cell, sizeof cell, "%s±%s (%s)", m, s, me);
      if (md) fprintf(out, " %s |", cell);
      else fprintf(out, "  %-24s", cell);
    }
    char bm[32], bb[32];
    fnum(bm, sizeof bm, g->majority, 3);
    fnum(bb, sizeof bb, g->bow, 3);
    if (md) fprintf(out, " %s | %s |", bm, bb);
    else fprintf(out, "  %-8s  %s", bm, bb);
    fprintf(out, "\n");
  }
}

static void write_text(const Analysis *A, const char *label, const char *path, FILE *out, int md) {
  header(A, label, path, out, md);
  group_table(A, out, md);
  if (!A->nc) return;
  fprintf(out, "\n%sVerdicts (second against first, paired by seed)\n\n", md ? "#### " : "");
  for (int i = 0; i < A->nc; i++) {
    char *v = verdict(A, &A->c[i]);
    fprintf(out, "%s%s\n\n", md ? "- " : "", v ? v : "(out of memory)");
    free(v);
  }
}

static cJSON *json_num(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static cJSON *json_file(const Analysis *A, const char *label, const char *path) {
  const ResultsData *d = A->d;
  cJSON *root = cJSON_CreateObject(), *par = cJSON_AddObjectToObject(root, "parameters");
  cJSON_AddStringToObject(root, "label", label);
  cJSON_AddStringToObject(root, "file", path);
  cJSON_AddNumberToObject(root, "runs", d->nruns);
  cJSON_AddItemToObject(par, "loss_target", json_num(A->o.loss_target));
  cJSON_AddItemToObject(par, "acc_target", json_num(A->o.acc_target));
  cJSON_AddNumberToObject(par, "acc_fraction", A->o.acc_fraction);
  cJSON_AddNumberToObject(par, "smooth", A->o.smooth);
  cJSON_AddNumberToObject(par, "bootstrap", A->o.bootstrap);
  cJSON *groups = cJSON_AddArrayToObject(root, "groups");
  for (int i = 0; i < A->ng; i++) {
    const Group *g = &A->g[i];
    cJSON *o = cJSON_CreateObject(), *vals = cJSON_AddObjectToObject(o, "values");
    cJSON_AddItemToArray(groups, o);
    cJSON_AddStringToObject(o, "group", g->key);
    for (int c = 0; c < d->ncols; c++) cJSON_AddStringToObject(vals, d->colname[c], d->values[g->first][c]);
    cJSON_AddNumberToObject(o, "runs", g->n);
    cJSON_AddNumberToObject(o, "unfinished", g->unfinished);
    cJSON_AddNumberToObject(o, "failed", g->failed);
    cJSON_AddNumberToObject(o, "diverged", g->diverged);
    cJSON_AddItemToObject(o, "majority_baseline", json_num(g->majority));
    cJSON_AddItemToObject(o, "bow_baseline", json_num(g->bow));
    for (int k = 0; k < NSTATS; k++) {
      cJSON *m = cJSON_AddObjectToObject(o, STAT[k].name);
      cJSON_AddItemToObject(m, "mean", json_num(g->mean[k]));
      cJSON_AddItemToObject(m, "std", json_num(g->std[k]));
      cJSON_AddItemToObject(m, "median", json_num(g->median[k]));
    }
  }
  cJSON *comps = cJSON_AddArrayToObject(root, "comparisons");
  for (int i = 0; i < A->nc; i++) {
    const Comparison *c = &A->c[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(comps, o);
    cJSON_AddStringToObject(o, "key", d->colname[c->col]);
    cJSON_AddStringToObject(o, "from", A->g[c->g1].key);
    cJSON_AddStringToObject(o, "to", A->g[c->g2].key);
    cJSON_AddNumberToObject(o, "pairs", c->pairs);
    cJSON_AddNumberToObject(o, "learned_pairs", c->learned_pairs);
    for (int w = 0; w < NTARGETS; w++) {
      const Speed *s = &c->speed[w];
      cJSON *m = cJSON_AddObjectToObject(o, TARGET_NAME[w]);
      cJSON_AddItemToObject(m, "target", json_num(s->target));
      cJSON_AddItemToObject(m, "km_median", cJSON_CreateDoubleArray(s->median, 2));
      cJSON_AddItemToObject(m, "median_reached", cJSON_CreateIntArray(s->median_reached, 2));
      cJSON_AddItemToObject(m, "never_reached", cJSON_CreateIntArray(s->never, 2));
      cJSON_AddItemToObject(m, "runs", cJSON_CreateIntArray(s->n, 2));
      cJSON_AddItemToObject(m, "median_difference", json_num(s->diff));
      cJSON *ci = cJSON_AddArrayToObject(m, "ci95");
      cJSON_AddItemToArray(ci, json_num(s->lo));
      cJSON_AddItemToArray(ci, json_num(s->hi));
      cJSON_AddItemToObject(m, "p_wilcoxon", json_num(s->p));
    }
    for (int k = 0; k < NSTATS; k++) {
      const Paired *p = &c->stat[k];
      cJSON *m = cJSON_AddObjectToObject(o, STAT[k].name);
      cJSON_AddItemToObject(m, "mean_difference", json_num(p->diff));
      cJSON *ci = cJSON_AddArrayToObject(m, "ci95");
      cJSON_AddItemToArray(ci, json_num(p->lo));
      cJSON_AddItemToArray(ci, json_num(p->hi));
      cJSON_AddItemToObject(m, "p_wilcoxon", json_num(p->p));
    }
    cJSON_AddItemToObject(o, "failed", cJSON_CreateIntArray((int[2]){A->g[c->g1].failed, A->g[c->g2].failed}, 2));
    char *v = verdict(A, c);
    cJSON_AddStringToObject(o, "verdict", v ? v : "");
    free(v);
    if (c->warning[0]) cJSON_AddStringToObject(o, "warning", c->warning);
  }
  return root;
}

static void csv_field(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

static void write_csv(const Analysis *A, const char *label, FILE *out, int first) {
  if (first) fprintf(out, "file,table,group,other,runs,unfinished,failed,statistic,value,low,high,p\n");
  for (int i = 0; i < A->ng; i++) {
    const Group *g = &A->g[i];
    for (int k = 0; k < NSTATS; k++) {
      csv_field(out, label);
      fprintf(out, ",group,");
      csv_field(out, g->key);
      fprintf(out, ",,%d,%d,%d,%s,%.10g,%.10g,%.10g,\n", g->n, g->unfinished, g->failed, STAT[k].name, g->mean[k],
              g->mean[k] - g->std[k], g->mean[k] + g->std[k]);
    }
  }
  for (int i = 0; i < A->nc; i++) {
    const Comparison *c = &A->c[i];
    for (int k = 0; k < NSTATS + NTARGETS; k++) {
      const char *name = k < NSTATS ? STAT[k].name : TARGET_NAME[k - NSTATS];
      double v = k < NSTATS ? c->stat[k].diff : c->speed[k - NSTATS].diff, lo = k < NSTATS ? c->stat[k].lo : c->speed[k - NSTATS].lo;
      double hi = k < NSTATS ? c->stat[k].hi : c->speed[k - NSTATS].hi, p = k < NSTATS ? c->stat[k].p : c->speed[k - NSTATS].p;
      csv_field(out, label);
      fprintf(out, ",comparison,");
      csv_field(out, A->g[c->g1].key);
      fputc(',', out);
      csv_field(out, A->g[c->g2].key);
      fprintf(out, ",%d,,,%s,%.10g,%.10g,%.10g,%.6g\n", c->pairs, name, v, lo, hi, p);
    }
  }
}

int report_write(const char *const *paths, int n, const ReportOptions *o, FILE *out, Err *e) {
  cJSON *all = o->format == FMT_JSON && n > 1 ? cJSON_CreateObject() : NULL;
  cJSON *files = all ? cJSON_AddArrayToObject(all, "files") : NULL;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    ResultsData d;
    if (results_load(paths[i], &d, e)) return -1;
    AnalysisOptions ao;
    char label[256];
    Analysis A;
    rc = report_file_options(o, &d, paths[i], &ao, label, sizeof label, e);
    if (!rc) rc = analysis_run(&A, &d, &ao, e);
    if (!rc) {
      if (o->format == FMT_JSON) {
        cJSON *j = json_file(&A, label, paths[i]);
        if (files) cJSON_AddItemToArray(files, j);
        else {
          char *text = cJSON_Print(j);
          if (text) fprintf(out, "%s\n", text);
          else rc = errf(e, "out of memory printing JSON");
          cJSON_free(text);
          cJSON_Delete(j);
        }
      } else if (o->format == FMT_CSV) {
        write_csv(&A, label, out, i == 0);
      } else {
        write_text(&A, label, paths[i], out, o->format == FMT_MARKDOWN);
      }
      analysis_free(&A);
    }
    results_data_free(&d);
  }
  if (all && !rc) {
    char *text = cJSON_Print(all);
    if (text) fprintf(out, "%s\n", text);
    cJSON_free(text);
  }
  cJSON_Delete(all);
  return rc;
}
