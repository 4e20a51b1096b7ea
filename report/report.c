#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "report/report.h"
#include "src/stats.h"

/* The per-run statistics the report computes, one row each: the name in CSV/JSON/Markdown
   and the short column head of the table. */
enum { M_BEST, M_FINAL, M_LOSS_STEPS, M_ACC_STEPS, M_AUC, M_LATE_STD, NREPORT_METRICS };
static const struct {
  const char *name, *head;
} METRIC[] = {
    [M_BEST] = {"best_dev_accuracy", "best acc"},
    [M_FINAL] = {"final_dev_accuracy", "final acc"},
    [M_LOSS_STEPS] = {"steps_to_loss_threshold", "steps->loss"},
    [M_ACC_STEPS] = {"steps_to_acc_fraction", "steps->acc"},
    [M_AUC] = {"train_loss_auc", "loss AUC"},
    [M_LATE_STD] = {"late_loss_std", "late std"},
};
_Static_assert(sizeof METRIC / sizeof *METRIC == NREPORT_METRICS, "one METRIC row per report statistic");

typedef struct {
  double m[NREPORT_METRICS];
  int failed, done, diverged, loss_never;
} RunM;

typedef struct {
  char key[1024];
  int first;    /* a run of the group, for its grid values */
  int n, *runs; /* done runs */
  int unfinished, failed, diverged; /* failed includes diverged */
  double mean[NREPORT_METRICS], std[NREPORT_METRICS], median[NREPORT_METRICS];
  int loss_never;
} Group;

typedef struct {
  int col, g1, g2, n;
  double mean[NREPORT_METRICS], lo[NREPORT_METRICS], hi[NREPORT_METRICS], p[NREPORT_METRICS];
} Comparison;

typedef struct {
  const ResultsData *d;
  const ReportOptions *o;
  double threshold;
  RunM *rm;
  int ng, nc;
  Group *g;
  Comparison *c;
} Report;

static const float *loss_of(const ResultsData *d, int r) { return d->loss + (size_t)r * d->max_steps; }

static double mean_range(const float *y, long a, long b) {
  double s = 0;
  for (long i = a; i < b; i++) s += y[i];
  return b > a ? s / (double)(b - a) : NAN;
}

static double default_threshold(const ResultsData *d) {
  double s0 = 0, s1 = 0;
  int n = 0;
  for (int r = 0; r < d->nruns; r++) {
    if (strcmp(d->status[r], "done") != 0 || d->steps_done[r] < 2) continue;
    long T = d->steps_done[r], k0 = T / 20 > 1 ? T / 20 : 1, k1 = T / 10 > 1 ? T / 10 : 1;
    double a = mean_range(loss_of(d, r), 0, k0), b = mean_range(loss_of(d, r), T - k1, T);
    if (!isfinite(a) || !isfinite(b)) continue;
    s0 += a;
    s1 += b;
    n++;
  }
  return n ? 0.5 * (s0 + s1) / n : NAN;
}

static void run_metrics(Report *R, int r) {
  const ResultsData *d = R->d;
  RunM *m = &R->rm[r];
  for (int k = 0; k < NREPORT_METRICS; k++) m->m[k] = NAN;
  m->done = strcmp(d->status[r], "done") == 0;
  m->diverged = strcmp(d->status[r], "diverged") == 0;
  if (!m->done) return;
  long T = d->steps_done[r]; /* less than total_steps when early stopping ended the run */
  const float *y = loss_of(d, r);
  m->m[M_BEST] = d->best_acc[r];
  m->m[M_FINAL] = d->final_acc[r];
  m->failed = d->final_acc[r] <= d->majority[r] + 1e-9;
  long s = stats_first_below(y, T, R->o->smooth, R->threshold);
  m->loss_never = s < 0;
  m->m[M_LOSS_STEPS] = s < 0 ? (double)T : (double)s; /* censored at the last step */
  m->m[M_AUC] = mean_range(y, 0, T);
  long k = T / 5 > 1 ? T / 5 : 1;
  double late[4096], *lp = k <= 4096 ? late : malloc(sizeof(double) * (size_t)k);
  if (lp) {
    for (long i = 0; i < k; i++) lp[i] = y[T - k + i];
    m->m[M_LATE_STD] = stats_std(lp, (int)k);
    if (lp != late) free(lp);
  }
}

static void group_key(const ResultsData *d, int r, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int c = 0; c < d->ncols && len < size; c++)
    len += (size_t)snprintf(out + len, size - len, "%s%s=%s", c ? " " : "", d->colname[c], d->values[r][c]);
  if (d->ncols == 0) snprintf(out, size, "all runs");
}

/* Steps to reach acc_fraction of the group's mean final accuracy, per run (needs the group). */
static void acc_steps(Report *R, Group *g) {
  const ResultsData *d = R->d;
  double target = R->o->acc_fraction * g->mean[M_FINAL];
  for (int i = 0; i < g->n; i++) {
    int r = g->runs[i];
    const float *a = d->acc + (size_t)r * d->max_evals;
    const long *st = d->estep + (size_t)r * d->max_evals;
    double v = (double)d->steps_done[r];
    for (int k = 0; k < d->max_evals && st[k] >= 0; k++)
      if (a[k] >= target) { v = (double)st[k]; break; }
    R->rm[r].m[M_ACC_STEPS] = v;
  }
}

static void summarize(Report *R, Group *g) {
  double *x = malloc(sizeof(double) * (size_t)(g->n ? g->n : 1));
  for (int pass = 0; pass < 2 && x; pass++) {
    if (pass == 1) acc_steps(R, g);
    for (int k = 0; k < NREPORT_METRICS; k++) {
      if ((pass == 0) == (k == M_ACC_STEPS)) continue;
      for (int i = 0; i < g->n; i++) x[i] = R->rm[g->runs[i]].m[k];
      g->mean[k] = stats_mean(x, g->n);
      g->std[k] = stats_std(x, g->n);
      g->median[k] = stats_median(x, g->n);
    }
  }
  free(x);
}

static int build_groups(Report *R, Err *e) {
  const ResultsData *d = R->d;
  R->g = calloc((size_t)(d->nruns ? d->nruns : 1), sizeof(Group));
  R->rm = calloc((size_t)(d->nruns ? d->nruns : 1), sizeof(RunM));
  if (!R->g || !R->rm) return errf(e, "out of memory");
  for (int r = 0; r < d->nruns; r++) {
    run_metrics(R, r);
    char key[1024];
    group_key(d, r, key, sizeof key);
    Group *g = NULL;
    for (int i = 0; i < R->ng && !g; i++)
      if (strcmp(R->g[i].key, key) == 0) g = &R->g[i];
    if (!g) {
      g = &R->g[R->ng++];
      snprintf(g->key, sizeof g->key, "%s", key);
      g->first = r;
      g->runs = malloc(sizeof(int) * (size_t)d->nruns);
      if (!g->runs) return errf(e, "out of memory");
    }
    if (R->rm[r].diverged) { g->failed++; g->diverged++; continue; }
    if (!R->rm[r].done) { g->unfinished++; continue; }
    g->runs[g->n++] = r;
    g->failed += R->rm[r].failed;
    g->loss_never += R->rm[r].loss_never;
  }
  for (int i = 0; i < R->ng; i++) summarize(R, &R->g[i]);
  return 0;
}

/* Groups g1, g2 differ exactly in column c. */
static int differ_only_in(const ResultsData *d, const Group *a, const Group *b, int c) {
  for (int k = 0; k < d->ncols; k++) {
    int same = strcmp(d->values[a->first][k], d->values[b->first][k]) == 0;
    if ((k == c) == same) return 0;
  }
  return 1;
}

static void compare(Report *R, Comparison *cp) {
  const ResultsData *d = R->d;
  const Group *a = &R->g[cp->g1], *b = &R->g[cp->g2];
  int cap = a->n < b->n ? a->n : b->n;
  double *diff = malloc(sizeof(double) * (size_t)(cap ? cap : 1));
  int *pa = malloc(sizeof(int) * (size_t)(cap ? cap : 1)), *pb = malloc(sizeof(int) * (size_t)(cap ? cap : 1));
  cp->n = 0;
  for (int i = 0; diff && pa && pb && i < a->n; i++)
    for (int j = 0; j < b->n; j++)
      if (d->seed[a->runs[i]] == d->seed[b->runs[j]] && cp->n < cap) {
        pa[cp->n] = a->runs[i];
        pb[cp->n++] = b->runs[j];
        break;
      }
  for (int k = 0; k < NREPORT_METRICS; k++) {
    for (int i = 0; i < cp->n; i++) diff[i] = R->rm[pb[i]].m[k] - R->rm[pa[i]].m[k];
    cp->mean[k] = stats_mean(diff, cp->n);
    stats_bootstrap_ci(diff, cp->n, R->o->bootstrap, 0.95, 12345 + (uint64_t)k, &cp->lo[k], &cp->hi[k]);
    cp->p[k] = cp->n ? stats_wilcoxon(diff, cp->n) : NAN;
  }
  free(diff);
  free(pa);
  free(pb);
}

static int build_comparisons(Report *R, Err *e) {
  const ResultsData *d = R->d;
  R->c = calloc((size_t)(R->ng * R->ng + 1), sizeof(Comparison));
  if (!R->c) return errf(e, "out of memory");
  for (int c = 0; c < d->ncols; c++)
    for (int i = 0; i < R->ng; i++)
      for (int j = i + 1; j < R->ng; j++)
        if (differ_only_in(d, &R->g[i], &R->g[j], c)) {
          Comparison *cp = &R->c[R->nc++];
          cp->col = c;
          cp->g1 = i;
          cp->g2 = j;
          compare(R, cp);
        }
  return 0;
}

/* ---- output ---- */

static void fnum(char *out, size_t n, double x, int digits) {
  if (isnan(x)) snprintf(out, n, digits < 0 ? "null" : "-");
  else snprintf(out, n, "%.*f", digits < 0 ? 6 : digits, x);
}

static int digits_of(int k) { return k == M_BEST || k == M_FINAL ? 4 : k == M_AUC || k == M_LATE_STD ? 4 : 1; }

static void others(const ResultsData *d, const Group *g, int col, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; k < d->ncols && len < size; k++)
    if (k != col) len += (size_t)snprintf(out + len, size - len, "%s%s=%s", len ? " " : "", d->colname[k], d->values[g->first][k]);
}

static void write_table(const Report *R, const char *path, FILE *out, int md) {
  const ResultsData *d = R->d;
  int done = 0, diverged = 0;
  for (int r = 0; r < d->nruns; r++) {
    done += R->rm[r].done;
    diverged += R->rm[r].diverged;
  }
  const char *sep = md ? " | " : "  ";
  int kw = 5;
  for (int i = 0; i < R->ng; i++) kw = (int)strlen(R->g[i].key) > kw ? (int)strlen(R->g[i].key) : kw;
  fprintf(out, "%s%s: %d runs (%d done, %d diverged and counted as failed, %d unfinished and left out), %d groups\n",
          md ? "### " : "", path, d->nruns, done, diverged, d->nruns - done - diverged, R->ng);
  fprintf(out, "%sloss threshold %.4f (moving average of %d steps); accuracy target %.0f%% of the group's mean final "
               "accuracy; failed = final accuracy <= majority-class baseline\n\n",
          md ? "" : "", R->threshold, R->o->smooth, 100 * R->o->acc_fraction);
  if (md) {
    fprintf(out, "| group | runs | unfinished | failed |");
    for (int k = 0; k < NREPORT_METRICS; k++) fprintf(out, " %s mean ± std (median) |", METRIC[k].head);
    fprintf(out, "\n|---|---|---|---|");
    for (int k = 0; k < NREPORT_METRICS; k++) fprintf(out, "---|");
    fprintf(out, "\n");
  } else {
    fprintf(out, "%-*s runs unfin failed", kw, "group");
    for (int k = 0; k < NREPORT_METRICS; k++) fprintf(out, "  %-24s", METRIC[k].head);
    fprintf(out, "\n");
  }
  for (int i = 0; i < R->ng; i++) {
    const Group *g = &R->g[i];
    if (md) fprintf(out, "| %s | %d | %d | %d |", g->key, g->n, g->unfinished, g->failed);
    else fprintf(out, "%-*s %4d %5d %6d", kw, g->key, g->n, g->unfinished, g->failed);
    for (int k = 0; k < NREPORT_METRICS; k++) {
      char m[32], s[32], me[32], cell[100];
      fnum(m, sizeof m, g->mean[k], digits_of(k));
      fnum(s, sizeof s, g->std[k], digits_of(k));
      fnum(me, sizeof me, g->median[k], digits_of(k));
      snprintf(cell, sizeof cell, "%s±%s (%s)", m, s, me);
      if (md) fprintf(out, " %s |", cell);
      else fprintf(out, "  %-24s", cell);
    }
    fprintf(out, "\n");
  }
  if (!R->nc) return;
  fprintf(out, "\n%sPaired comparisons (matched by seed; difference = second - first; 95%% bootstrap CI; Wilcoxon "
               "signed-rank p)\n\n", md ? "#### " : "");
  for (int i = 0; i < R->nc; i++) {
    const Comparison *c = &R->c[i];
    char ctx[1024];
    others(d, &R->g[c->g1], c->col, ctx, sizeof ctx);
    fprintf(out, "%s%s: %s -> %s%s%s%s, %d pairs\n", md ? "**" : "", d->colname[c->col], d->values[R->g[c->g1].first][c->col],
            d->values[R->g[c->g2].first][c->col], ctx[0] ? " (" : "", ctx, ctx[0] ? ")" : "", c->n);
    if (md) fprintf(out, "%s\n\n| metric | mean difference | 95%% CI | p |\n|---|---|---|---|\n", "**");
    for (int k = 0; k < NREPORT_METRICS; k++) {
      char m[32], lo[32], hi[32];
      fnum(m, sizeof m, c->mean[k], digits_of(k) + 1);
      fnum(lo, sizeof lo, c->lo[k], digits_of(k) + 1);
      fnum(hi, sizeof hi, c->hi[k], digits_of(k) + 1);
      if (md) fprintf(out, "| %s | %s | [%s, %s] | %.3g |\n", METRIC[k].name, m, lo, hi, c->p[k]);
      else fprintf(out, "    %-26s%s%10s%s[%s, %s]%sp = %.3g%s\n", METRIC[k].name, sep, m, sep, lo, hi, sep, c->p[k],
                   c->p[k] < 0.05 ? "  *" : "");
    }
    fprintf(out, "\n");
  }
}

/* cJSON prints NaN and infinities as null. */
static void add_stats(cJSON *o, const char *name, const char *const keys[3], const double v[3]) {
  cJSON *m = cJSON_AddObjectToObject(o, name);
  for (int i = 0; i < 3; i++) cJSON_AddNumberToObject(m, keys[i], v[i]);
}

static int write_json(const Report *R, const char *path, FILE *out) {
  static const char *const GK[3] = {"mean", "std", "median"};
  const ResultsData *d = R->d;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "file", path);
  cJSON_AddNumberToObject(root, "runs", d->nruns);
  cJSON_AddNumberToObject(root, "loss_threshold", R->threshold);
  cJSON *groups = cJSON_AddArrayToObject(root, "groups");
  for (int i = 0; i < R->ng; i++) {
    const Group *g = &R->g[i];
    cJSON *o = cJSON_CreateObject(), *vals = cJSON_AddObjectToObject(o, "values");
    cJSON_AddItemToArray(groups, o);
    cJSON_AddStringToObject(o, "group", g->key);
    for (int c = 0; c < d->ncols; c++) cJSON_AddStringToObject(vals, d->colname[c], d->values[g->first][c]);
    cJSON_AddNumberToObject(o, "runs", g->n);
    cJSON_AddNumberToObject(o, "unfinished", g->unfinished);
    cJSON_AddNumberToObject(o, "failed", g->failed);
    cJSON_AddNumberToObject(o, "diverged", g->diverged);
    cJSON_AddNumberToObject(o, "never_reached_loss_threshold", g->loss_never);
    for (int k = 0; k < NREPORT_METRICS; k++) add_stats(o, METRIC[k].name, GK, (double[3]){g->mean[k], g->std[k], g->median[k]});
  }
  cJSON *comps = cJSON_AddArrayToObject(root, "comparisons");
  for (int i = 0; i < R->nc; i++) {
    const Comparison *c = &R->c[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(comps, o);
    cJSON_AddStringToObject(o, "key", d->colname[c->col]);
    cJSON_AddStringToObject(o, "from", R->g[c->g1].key);
    cJSON_AddStringToObject(o, "to", R->g[c->g2].key);
    cJSON_AddNumberToObject(o, "pairs", c->n);
    for (int k = 0; k < NREPORT_METRICS; k++) {
      cJSON *m = cJSON_AddObjectToObject(o, METRIC[k].name);
      cJSON_AddNumberToObject(m, "mean_difference", c->mean[k]);
      cJSON_AddItemToObject(m, "ci95", cJSON_CreateDoubleArray((double[2]){c->lo[k], c->hi[k]}, 2));
      cJSON_AddNumberToObject(m, "p_wilcoxon", c->p[k]);
    }
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return -1;
  fprintf(out, "%s\n", text);
  cJSON_free(text);
  return 0;
}

static void write_csv(const Report *R, FILE *out) {
  fprintf(out, "table,group,other,runs,unfinished,failed,metric,mean,std_or_ci_low,median_or_ci_high,p\n");
  for (int i = 0; i < R->ng; i++) {
    const Group *g = &R->g[i];
    for (int k = 0; k < NREPORT_METRICS; k++)
      fprintf(out, "group,\"%s\",,%d,%d,%d,%s,%.10g,%.10g,%.10g,\n", g->key, g->n, g->unfinished, g->failed,
              METRIC[k].name, g->mean[k], g->std[k], g->median[k]);
  }
  for (int i = 0; i < R->nc; i++) {
    const Comparison *c = &R->c[i];
    for (int k = 0; k < NREPORT_METRICS; k++)
      fprintf(out, "comparison,\"%s\",\"%s\",%d,,,%s,%.10g,%.10g,%.10g,%.6g\n", R->g[c->g1].key, R->g[c->g2].key, c->n,
              METRIC[k].name, c->mean[k], c->lo[k], c->hi[k], c->p[k]);
  }
}

int report_write(const char *path, const ResultsData *d, const ReportOptions *o, FILE *out, Err *e) {
  Report R = {0};
  R.d = d;
  R.o = o;
  R.threshold = isnan(o->loss_threshold) ? default_threshold(d) : o->loss_threshold;
  int rc = build_groups(&R, e);
  if (!rc) rc = build_comparisons(&R, e);
  if (!rc) {
    if (o->format == FMT_JSON) rc = write_json(&R, path, out) ? errf(e, "out of memory printing JSON") : 0;
    else if (o->format == FMT_CSV) write_csv(&R, out);
    else write_table(&R, path, out, o->format == FMT_MARKDOWN);
  }
  for (int i = 0; i < R.ng; i++) free(R.g[i].runs);
  free(R.g);
  free(R.c);
  free(R.rm);
  return rc;
}
