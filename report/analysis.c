#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "io/runconfig.h"
#include "report/analysis.h"

const StatSpec STAT[NSTATS] = {
    [S_BEST] = {"best_dev_accuracy", "best acc", "highest dev accuracy of the run", 4, 1, GRID_ACC},
    [S_FINAL] = {"final_dev_accuracy", "final acc", "dev accuracy at the last evaluation", 4, 1, GRID_ACC},
    [S_AUC] = {"train_loss_auc", "loss AUC", "mean training loss over all steps (lower: faster overall)", 4, -1, GRID_NONE},
    [S_LATE_STD] = {"late_loss_std", "late loss std",
                    "std of the training loss about its straight-line trend over the last 20% of steps (descriptive: "
                    "runs at different loss levels are not comparable by it)", 4, -1, GRID_NONE},
    [S_ACC_OSC] = {"dev_acc_oscillation", "acc oscill.",
                   "mean |change| of dev accuracy between evaluations after its first peak (95% of its best)", 4, -1,
                   GRID_NONE},
    [S_DEV_MIN] = {"min_dev_loss", "min dev loss", "lowest dev-set cross-entropy over the evaluations", 4, -1, GRID_NONE},
    [S_DEV_FINAL] = {"final_dev_loss", "final dev loss", "dev-set cross-entropy at the last evaluation", 4, -1, GRID_NONE},
    [S_DEV_MIN_STEP] = {"min_dev_loss_step", "min dev loss step", "step of the lowest dev loss", 0, 0, GRID_EVAL},
    [S_BEST_F1] = {"best_macro_f1", "best macro-F1", "highest dev macro-F1 of the run", 4, 1, GRID_NONE},
    [S_EARLY_GNORM] = {"early_grad_norm", "early grad norm",
                       "mean gradient norm (before clipping) over the first 10% of steps, where bias correction "
                       "changes Adam's step most", 3, 0, GRID_NONE},
};
static_assert(NSTATS == 10, "STAT has one entry per S_ statistic");

static const struct {
  Verdict v;
  const char *name;
} VERDICT_NAMES[] = {
    {V_LOWER, "second_lower"},   {V_NONE, "no_clear_difference"}, {V_HIGHER, "second_higher"},
    {V_CANNOT_REACH, "cannot_reach_significance"}, {V_WITHHELD, "withheld"}, {V_EXPLORATORY, "exploratory"},
};
static_assert(sizeof VERDICT_NAMES / sizeof *VERDICT_NAMES == NVERDICTS, "VERDICT_NAMES names every verdict");

const char *verdict_name(Verdict v) {
  for (int i = 0; i < NVERDICTS; i++)
    if (VERDICT_NAMES[i].v == v) return VERDICT_NAMES[i].name;
  return "no_clear_difference";
}

int analysis_same_group(const ResultsData *d, int r, int s) {
  for (int c = 0; c < d->ncols; c++)
    if (strcmp(d->values[r][c], d->values[s][c]) != 0) return 0;
  return 1;
}

int analysis_unk_runs(const ResultsData *d, double *worst) {
  int n = 0;
  *worst = 0;
  for (int r = 0; r < d->nruns; r++)
    if (d->unk[r] > UNK_WARN) {
      n++;
      if (d->unk[r] > *worst) *worst = d->unk[r];
    }
  return n;
}

const OutcomeSpec OUTCOME[NOUTCOMES] = {
    [O_LOSS_SPEED] = {"steps_to_loss_target", "training loss reaches the target", "fits the training set faster",
                      "fits the training set slower", -1, 1, 0, "steps", OT_SPEED, 0},
    [O_ACC_SPEED] = {"steps_to_acc_target", "dev accuracy reaches the target", "faster", "slower", -1, 1, 0, "steps", OT_SPEED, 1},
    [O_FINAL_ACC] = {"final_dev_accuracy", "final dev accuracy", "higher", "lower", S_FINAL, 0, 4, "", OT_STAT, 2},
    [O_BEST_ACC] = {"best_dev_accuracy", "best dev accuracy", "higher", "lower", S_BEST, 0, 4, "", OT_STAT, 3},
    [O_LOSS_AUC] = {"train_loss_auc", "mean training loss over the run", "lower", "higher", S_AUC, 1, 4, "", OT_STAT, 4},
    [O_NOISE] = {"loss_noise_at_equal_loss", "training-loss noise at equal loss", "steadier", "less steady", -1, 1, 4, "", OT_STEADINESS, 8},
    [O_ACC_OSC] = {"dev_acc_oscillation", "dev-accuracy oscillation", "steadier in dev accuracy",
                   "less steady in dev accuracy", S_ACC_OSC, 1, 4, "", OT_STAT_LEARNED, 9},
    [O_DEV_MIN] = {"min_dev_loss", "minimum dev loss", "lower", "higher", S_DEV_MIN, 1, 4, "", OT_STAT, 5},
    [O_DEV_FINAL] = {"final_dev_loss", "final dev loss", "lower", "higher", S_DEV_FINAL, 1, 4, "", OT_STAT, 6},
    [O_DEV_MIN_STEP] = {"min_dev_loss_step", "step of the minimum dev loss", "earlier", "later", S_DEV_MIN_STEP, 1, 0,
                        "steps", OT_STAT, 7},
};
static_assert(NOUTCOMES == 10, "OUTCOME has one entry per O_ outcome");

static const float *loss_of(const ResultsData *d, int r) { return results_row_f(d, DS_LOSS, r); }
static const float *acc_of(const ResultsData *d, int r) { return results_row_f(d, DS_ACC, r); }
static const float *eloss_of(const ResultsData *d, int r) { return results_row_f(d, DS_ELOSS, r); }
static const long *estep_of(const ResultsData *d, int r) { return results_row_i(d, DS_ESTEP, r); }

/* steps_done as far as the arrays go: a hostile file may claim more steps than it holds */
static long steps_of(const ResultsData *d, int r) {
  long T = d->steps_done[r];
  return T < 0 ? 0 : T > d->max_steps ? d->max_steps : T;
}

static double mean_range(const float *y, long a, long b) {
  double s = 0;
  long n = 0;
  for (long i = a; i < b; i++)
    if (isfinite(y[i])) { s += y[i]; n++; }
  return n ? s / (double)n : NAN;
}

/* Std of y[0..n) about its least-squares line: the noise of the loss, not its progress. */
static double detrended_std(const float *y, long n) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  long m = 0;
  for (long i = 0; i < n; i++)
    if (isfinite(y[i])) { sx += i; sy += y[i]; sxx += (double)i * i; sxy += (double)i * y[i]; m++; }
  if (m < 3) return NAN;
  const double den = m * sxx - sx * sx, b = den > 0 ? (m * sxy - sx * sy) / den : 0, a = (sy - b * sx) / m;
  double ss = 0;
  for (long i = 0; i < n; i++)
    if (isfinite(y[i])) ss += (y[i] - a - b * i) * (y[i] - a - b * i);
  return sqrt(ss / (double)(m - 2));
}

static int n_evals(const ResultsData *d, int r) {
  int k = 0;
  while (k < d->max_evals && estep_of(d, r)[k] >= 0) k++;
  return k;
}

/* Mean |a[k+1] - a[k]| from the first evaluation that reaches 95% of the run's best on. */
static double acc_oscillation(const float *a, int n) {
  double best = -INFINITY;
  for (int k = 0; k < n; k++)
    if (a[k] > best) best = a[k];
  int peak = 0;
  while (peak < n && !(a[peak] >= 0.95 * best)) peak++;
  if (n - peak < 3) return NAN;
  double s = 0;
  for (int k = peak; k + 1 < n; k++) s += fabs((double)a[k + 1] - a[k]);
  return s / (n - 1 - peak);
}

/* Final and lowest dev loss, and the step of the lowest. */
static void dev_loss(const ResultsData *d, int r, double *out) {
  const float *l = eloss_of(d, r);
  const long *st = estep_of(d, r);
  int n = n_evals(d, r), at = -1;
  out[S_DEV_FINAL] = out[S_DEV_MIN] = out[S_DEV_MIN_STEP] = NAN;
  for (int k = 0; k < n; k++)
    if (isfinite(l[k]) && (at < 0 || l[k] < l[at])) at = k;
  if (at < 0) return;
  out[S_DEV_MIN] = l[at];
  out[S_DEV_MIN_STEP] = (double)st[at];
  out[S_DEV_FINAL] = isfinite(l[n - 1]) ? l[n - 1] : NAN;
}

/* The largest finite value of y[0..n) (NaN: none). */
static double max_finite(const float *y, int n) {
  double m = NAN;
  for (int i = 0; i < n; i++)
    if (isfinite(y[i]) && !(y[i] <= m)) m = y[i];
  return m;
}

static void run_stats(const ResultsData *d, int r, RunStats *m) {
  for (int k = 0; k < NSTATS; k++) m->s[k] = NAN;
  const int st = run_status_parse(d->status[r]);
  m->done = st == RUN_DONE;
  m->diverged = st == RUN_DIVERGED;
  m->not_run = st == RUN_FAILED;
  m->failed = m->diverged || m->not_run || (m->done && !(d->final_acc[r] > d->majority[r] + 1e-9));
  if (!m->done) return;
  long T = steps_of(d, r); /* less than total_steps when early stopping ended the run */
  const float *y = loss_of(d, r);
  m->s[S_BEST] = d->best_acc[r];
  m->s[S_FINAL] = d->final_acc[r];
  m->s[S_AUC] = mean_range(y, 0, T);
  long k = T / 5 > 1 ? T / 5 : 1;
  m->s[S_LATE_STD] = T >= k ? detrended_std(y + T - k, k) : NAN;
  m->s[S_ACC_OSC] = acc_oscillation(acc_of(d, r), n_evals(d, r));
  dev_loss(d, r, m->s);
  m->s[S_BEST_F1] = max_finite(results_row_f(d, DS_F1, r), n_evals(d, r));
  m->s[S_EARLY_GNORM] = mean_range(results_row_f(d, DS_GNORM, r), 0, T >= 10 ? T / 10 : T);
  if (m->failed) /* a run stuck at the majority class is flat, not steady: steadiness counts runs that learned */
    m->s[S_LATE_STD] = m->s[S_ACC_OSC] = NAN;
}

/* ---- the sweep's keys: grid, zipped, random ---- */

static int col_of(const ResultsData *d, const char *name) {
  for (int c = 0; c < d->ncols; c++)
    if (strcmp(d->colname[c], name) == 0) return c;
  return -1;
}

static void key_kinds(Analysis *A) {
  const ResultsData *d = A->d;
  cJSON *root = d->sweep_json ? cJSON_Parse(d->sweep_json) : NULL;
  const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sweep");
  const cJSON *zip = cJSON_GetObjectItemCaseSensitive(sw, "zip");
  const cJSON *rnd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sw, "random"), "params");
  for (const cJSON *it = cJSON_IsObject(zip) ? zip->child : NULL; it; it = it->next) {
    int c = it->string ? col_of(d, it->string) : -1;
    if (c >= 0) A->col_zip[c] = 1; /* one "sweep.zip" object: one tuple */
  }
  for (const cJSON *it = cJSON_IsObject(rnd) ? rnd->child : NULL; it; it = it->next) {
    int c = it->string ? col_of(d, it->string) : -1;
    if (c >= 0) A->col_random[c] = cJSON_GetObjectItemCaseSensitive(it, "log_uniform") ? 2 : 1;
  }
  cJSON_Delete(root);
}

/* ---- groups ---- */

static void group_key(const ResultsData *d, int r, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int c = 0; c < d->ncols && len < size; c++)
    len += (size_t)snprintf(out + len, size - len, "%s%s=%s", c ? " " : "", d->colname[c], d->values[r][c]);
  if (d->ncols == 0) snprintf(out, size, "all runs");
}

static int same_values(const ResultsData *d, int r, int s) {
  for (int c = 0; c < d->ncols; c++)
    if (strcmp(d->values[r][c], d->values[s][c]) != 0) return 0;
  return 1;
}

/* 1 when runs r and s were trained under one configuration but for their seed; what
   differs otherwise into why. */
static int same_config(const ResultsData *d, int r, int s, char *why, size_t size) {
  static const char *const SEED[] = {"train.seed", NULL};
  if (!d->run_configs) return 1;
  return runconfig_differs(d->run_configs[r], d->run_configs[s], SEED, why, size) <= 0;
}

static void summarize(Analysis *A, Group *g) {
  double *x = malloc(sizeof(double) * (size_t)(g->n ? g->n : 1));
  for (int k = 0; x && k < NSTATS; k++) {
    for (int i = 0; i < g->n; i++) x[i] = A->rs[g->runs[i]].s[k];
    g->mean[k] = stats_mean(x, g->n);
    g->std[k] = stats_std(x, g->n);
    g->median[k] = stats_median(x, g->n);
  }
  free(x);
}

/* Mean majority-class and bag-of-words dev accuracy over the group's runs that have them. */
static void baselines(const ResultsData *d, Group *g) {
  double sm = 0, sb = 0;
  int nm = 0, nb = 0;
  for (int i = 0; i < g->n; i++) {
    int r = g->runs[i];
    if (isfinite(d->majority[r])) { sm += d->majority[r]; nm++; }
    if (isfinite(d->bow[r])) { sb += d->bow[r]; nb++; }
  }
  g->majority = nm ? sm / nm : NAN;
  g->bow = nb ? sb / nb : NAN;
}

/* Groups are runs with equal grid values, compared value by value (not by a cut key). */
static int build_groups(Analysis *A, Err *e) {
  const ResultsData *d = A->d;
  size_t n = (size_t)(d->nruns ? d->nruns : 1);
  A->g = calloc(n, sizeof(Group));
  A->rs = calloc(n, sizeof(RunStats));
  if (!A->g || !A->rs) return errf(e, "out of memory");
  for (int r = 0; r < d->nruns; r++) {
    run_stats(d, r, &A->rs[r]);
    Group *g = NULL;
    int twins = 0; /* groups of r's grid values but another configuration */
    char why[600] = "";
    for (int i = 0; i < A->ng && !g; i++)
      if (same_values(d, A->g[i].first, r)) {
        if (same_config(d, A->g[i].first, r, why, sizeof why)) g = &A->g[i];
        else twins++;
      }
    if (!g) {
      g = &A->g[A->ng++];
      group_key(d, r, g->key, sizeof g->key);
      if (twins) { /* never pooled: a group of its own, named for what differs */
        size_t len = strlen(g->key);
        snprintf(g->key + len, sizeof g->key - len, " [configuration %d: %s]", twins + 1, why);
      }
      g->first = r;
      g->runs = malloc(sizeof(int) * n);
      g->fin = malloc(sizeof(int) * n);
      if (!g->runs || !g->fin) return errf(e, "out of memory");
    }
    const RunStats *m = &A->rs[r];
    if (m->not_run) { /* never trained: failed, in no statistic */
      g->not_run++;
      g->failed++;
      continue;
    }
    if (!m->done && !m->diverged) { g->unfinished++; continue; }
    g->fin[g->finished++] = r;
    g->failed += m->failed;
    g->diverged += m->diverged;
    if (m->done) g->runs[g->n++] = r;
  }
  for (int i = 0; i < A->ng; i++) {
    summarize(A, &A->g[i]);
    baselines(A->d, &A->g[i]);
  }
  return 0;
}

/* ---- targets common to two groups ---- */

/* Midway between the pooled mean initial loss (first 5% of steps) and final loss (last 10%). */
static double pooled_loss_target(const ResultsData *d, const Group *a, const Group *b) {
  double s0 = 0, s1 = 0;
  int n = 0;
  const Group *gs[2] = {a, b};
  for (int gi = 0; gi < 2; gi++)
    for (int i = 0; i < gs[gi]->n; i++) {
      int r = gs[gi]->runs[i];
      long T = steps_of(d, r), k0 = T / 20 > 1 ? T / 20 : 1, k1 = T / 10 > 1 ? T / 10 : 1;
      if (T < 2) continue;
      double x0 = mean_range(loss_of(d, r), 0, k0), x1 = mean_range(loss_of(d, r), T - k1, T);
      if (!isfinite(x0) || !isfinite(x1)) continue;
      s0 += x0;
      s1 += x1;
      n++;
    }
  return n ? 0.5 * (s0 + s1) / n : NAN;
}

/* The majority baseline plus acc_fraction of the way to the better group's mean best accuracy. */
static double pooled_acc_target(const Analysis *A, const Group *a, const Group *b) {
  double base = 0;
  int n = 0;
  const Group *gs[2] = {a, b};
  for (int gi = 0; gi < 2; gi++)
    for (int i = 0; i < gs[gi]->finished; i++)
      if (isfinite(A->d->majority[gs[gi]->fin[i]])) { base += A->d->majority[gs[gi]->fin[i]]; n++; }
  base = n ? base / n : 0;
  double best = fmax(isfinite(a->mean[S_BEST]) ? a->mean[S_BEST] : -1, isfinite(b->mean[S_BEST]) ? b->mean[S_BEST] : -1);
  return best > base ? base + A->o.acc_fraction * (best - base) : NAN;
}

/* Steps until run r reaches target t (0: loss, 1: accuracy), or -1: where the monotone
   (isotonic) fit of its training loss, or of its dev accuracy over the evaluation steps,
   crosses t (src/stats.c stats_isotonic_crossing). Not the first crossing of a moving average:
   noise makes that earlier, so a noisier group would read faster (docs/decisions.md). */
static double steps_to(const Analysis *A, int r, int which, double t) {
  const ResultsData *d = A->d;
  if (!isfinite(t)) return -1;
  if (which == 0) return stats_isotonic_crossing(loss_of(d, r), NULL, steps_of(d, r), -1, t);
  const long *st = estep_of(d, r);
  int k = 0;
  double *xs = malloc(sizeof(double) * (size_t)(d->max_evals ? d->max_evals : 1));
  if (!xs) return -1;
  while (k < d->max_evals && st[k] >= 0) {
    xs[k] = (double)st[k];
    k++;
  }
  double at = stats_isotonic_crossing(acc_of(d, r), xs, k, 1, t);
  free(xs);
  return at;
}

/* Where a run that never reached a target is censored, the same in Kaplan–Meier and in pairs:
   where it stopped (early stopping included); a diverged run at its planned end, which it
   could not have reached the target by either. */
static long censored_at(const Analysis *A, int r) {
  return A->rs[r].diverged ? A->d->total_steps[r] : A->d->steps_done[r];
}

/* Kaplan–Meier median of (time, reached) pairs: the first time the curve of "not reached
   yet" falls to 0.5 or below; when it never does, the largest time observed, marked. */
static double km_median(const double *t, const int *ev, int n, int *reached) {
  double s = 1.0, last = 0, floor_t = -INFINITY;
  *reached = 0;
  for (int i = 0; i < n; i++) last = fmax(last, t[i]);
  for (;;) {
    double next = INFINITY; /* the next time a run reached the target */
    for (int i = 0; i < n; i++)
      if (ev[i] && t[i] > floor_t && t[i] < next) next = t[i];
    if (!isfinite(next)) return last;
    int at_risk = 0, events = 0;
    for (int i = 0; i < n; i++) {
      at_risk += t[i] >= next;
      events += ev[i] && t[i] == next;
    }
    s *= 1.0 - (double)events / at_risk; /* S(t) = prod (1 - d_i / n_i) */
    if (s <= 0.5) {
      *reached = 1;
      return next;
    }
    floor_t = next;
  }
}

static void group_speed(const Analysis *A, const Group *g, int which, double target, double *median, int *reached,
                        int *never) {
  double *t = malloc(sizeof(double) * (size_t)(g->finished ? g->finished : 1));
  int *ev = malloc(sizeof(int) * (size_t)(g->finished ? g->finished : 1));
  *never = 0;
  *median = NAN;
  *reached = 0;
  if (t && ev && g->finished && isfinite(target)) {
    for (int i = 0; i < g->finished; i++) {
      double s = steps_to(A, g->fin[i], which, target);
      ev[i] = s >= 0;
      t[i] = s >= 0 ? s : (double)censored_at(A, g->fin[i]);
      *never += s < 0;
    }
    *median = km_median(t, ev, g->finished, reached);
  }
  free(t);
  free(ev);
}

/* Paired difference of steps to a target (second - first): both reached, the difference; one
   never did by a step at or past the other's, +-inf (its sign known, its size not: worst rank);
   otherwise undetermined (NaN). */
static double speed_diff(double ta, long ca, double tb, long cb) {
  if (ta >= 0 && tb >= 0) return tb - ta;
  if (ta >= 0) return (double)cb >= ta ? INFINITY : NAN;
  if (tb >= 0) return (double)ca >= tb ? -INFINITY : NAN;
  return NAN;
}

/* ---- grids: differences that are equal in the measurement's units must tie exactly ---- */

/* 1/N for the smallest N (up to 100000) with every value a multiple of 1/N: accuracies are
   counts over the dev set. 0 when none fits or nothing is finite. */
static double acc_grid(const double *v, int n) {
  int any = 0;
  for (int i = 0; i < n; i++) any |= isfinite(v[i]);
  for (int N = 1; any && N <= 100000; N++) {
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
      if (isfinite(v[i])) ok = fabs(v[i] * N - nearbyint(v[i] * N)) <= 1e-7 * N;
    if (ok) return 1.0 / N;
  }
  return 0;
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return x < y ? -1 : x > y;
}

/* The most common gap between consecutive evaluations of the runs (the evaluation interval). */
static double eval_grid(const ResultsData *d, const int *runs, int n) {
  size_t m = 0, cap = (size_t)n * (size_t)d->max_evals + 1;
  long *gap = malloc(sizeof(long) * cap);
  if (!gap) return 1;
  for (int i = 0; i < n; i++) {
    const long *st = estep_of(d, runs[i]);
    for (int k = 1, e = n_evals(d, runs[i]); k < e; k++)
      if (st[k] > st[k - 1]) gap[m++] = st[k] - st[k - 1];
  }
  qsort(gap, m, sizeof(long), cmp_long);
  long best = 1;
  for (size_t a = 0, most = 0; a < m;) {
    size_t b = a;
    while (b < m && gap[b] == gap[a]) b++;
    if (b - a > most) { most = b - a; best = gap[a]; }
    a = b;
  }
  free(gap);
  return (double)best;
}

/* ---- steadiness at equal loss ---- */

/* Lowest moving average (window w) of y[0..n). */
static double min_smoothed(const float *y, long n, int w) {
  double s = 0, best = INFINITY;
  for (long i = 0; i < n; i++) {
    s += y[i];
    if (i >= w) s -= y[i - w];
    if (i + 1 >= w && isfinite(s) && s / w < best) best = s / w;
  }
  return best;
}

/* The noise of run r's loss where its moving average first falls to level L: the std about the
   straight-line trend of a window of W steps centred there, and that window's mean loss. */
static int noise_at(const Analysis *A, int r, double L, long W, double *noise, double *level) {
  const float *y = loss_of(A->d, r);
  long T = steps_of(A->d, r), t = stats_first_below(y, T, A->o.smooth, L);
  if (t < 0) return 0;
  long c = t - A->o.smooth / 2, a = c - W / 2 < 0 ? 0 : c - W / 2, b = a + W > T ? T : a + W;
  if (b - a < W / 2) return 0;
  *noise = detrended_std(y + a, b - a);
  *level = mean_range(y, a, b);
  return isfinite(*noise) && isfinite(*level);
}

/* Median over a group's learned runs of their lowest smoothed loss. */
static double group_floor(const Analysis *A, const int *runs, int n) {
  double *x = malloc(sizeof(double) * (size_t)(n ? n : 1));
  int m = 0;
  for (int i = 0; x && i < n; i++)
    if (!A->rs[runs[i]].failed) x[m++] = min_smoothed(loss_of(A->d, runs[i]), steps_of(A->d, runs[i]), A->o.smooth);
  double f = x && m ? stats_median(x, m) : NAN;
  free(x);
  return f;
}

/* Levels between the higher of the two groups' floors F (at least half of each group's learned
   runs get below it) and the loss target U: F + (U - F) x 1/4, 1/2, 3/4. Per pair, the mean
   over the levels both runs reach of each run's noise there; diffs[i] = second - first. */
static void noise_at_equal_loss(const Analysis *A, Comparison *cp, const int *pa, const int *pb, double *xa,
                                double *xb) {
  const ResultsData *d = A->d;
  double F = fmax(group_floor(A, pa, cp->pairs), group_floor(A, pb, cp->pairs)), U = cp->target[0];
  cp->nlevels = 0;
  cp->level_gap = NAN;
  for (int i = 0; i < cp->pairs; i++) xa[i] = xb[i] = NAN;
  if (!(F < U)) return;
  for (int j = 0; j < NLEVELS; j++) cp->levels[cp->nlevels++] = F + (U - F) * (j + 1) / (NLEVELS + 1.0);
  long W = 0;
  for (int i = 0; i < cp->pairs; i++) {
    long T = d->total_steps[pa[i]] < d->total_steps[pb[i]] ? d->total_steps[pa[i]] : d->total_steps[pb[i]];
    W = i == 0 || T < W ? T : W;
  }
  W = W / 10 > 20 ? W / 10 : 20;
  double *gap = malloc(sizeof(double) * (size_t)(cp->pairs > 0 ? cp->pairs : 1));
  int ng = 0;
  for (int i = 0; gap && i < cp->pairs; i++) {
    if (A->rs[pa[i]].failed || A->rs[pb[i]].failed) continue;
    double sa = 0, sb = 0, sg = 0;
    int k = 0;
    for (int j = 0; j < cp->nlevels; j++) {
      double na, la, nb, lb;
      if (!noise_at(A, pa[i], cp->levels[j], W, &na, &la) || !noise_at(A, pb[i], cp->levels[j], W, &nb, &lb)) continue;
      sa += na;
      sb += nb;
      sg += fabs(lb - la) / cp->levels[j];
      k++;
    }
    if (!k) continue;
    xa[i] = sa / k;
    xb[i] = sb / k;
    gap[ng++] = sg / k;
  }
  cp->level_gap = gap && ng ? stats_median(gap, ng) : NAN;
  free(gap);
}

/* ---- paired comparisons ---- */

/* Runs of a and b with the same seed (finished runs only). */
/* 1 when run fin[i] is the first of its group with its seed (a seed twice in a group is a
   damaged file or one from before resumes refused a changed config: paired once). */
static int first_of_seed(const ResultsData *d, const int *fin, int i) {
  for (int k = 0; k < i; k++)
    if (d->seed[fin[k]] == d->seed[fin[i]]) return 0;
  return 1;
}

/* Pairs runs of equal seed, each run and each seed at most once: n <= min(|a|, |b|). */
static int pair_up(const ResultsData *d, const Group *a, const Group *b, int *pa, int *pb) {
  int n = 0;
  for (int i = 0; i < a->finished; i++) {
    if (!first_of_seed(d, a->fin, i)) continue;
    for (int j = 0; j < b->finished; j++)
      if (d->seed[a->fin[i]] == d->seed[b->fin[j]] && first_of_seed(d, b->fin, j)) {
        pa[n] = a->fin[i];
        pb[n++] = b->fin[j];
        break;
      }
  }
  return n;
}

static void provenance_warning(const ResultsData *d, const int *pa, const int *pb, int n, char *out, size_t size) {
  out[0] = 0;
  if (!d->cpu) return;
  static const char *const WHAT[4] = {"CPU model", "BLAS kernel", "threads", "libraries"};
  int differs[4] = {0};
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      int a = pa[i], b = pb[j];
      differs[0] |= strcmp(d->cpu[a], d->cpu[b]) != 0;
      differs[1] |= strcmp(d->blas[a], d->blas[b]) != 0;
      differs[2] |= d->threads[a] != d->threads[b];
      differs[3] |= strcmp(d->libs[a], d->libs[b]) != 0;
    }
  size_t len = 0;
  for (int k = 0; k < 4 && len < size; k++)
    if (differs[k]) len += (size_t)snprintf(out + len, size - len, "%s%s", len ? ", " : "the compared runs differ in ", WHAT[k]);
  if (len && len < size) snprintf(out + len, size - len, ": numbers may differ for that reason alone");
}

/* One outcome from the per-pair values of the two groups (xa, xb) or their differences (diff). */
static void outcome(Outcome *o, const double *xa, const double *xb, const double *diff, int n, double grid) {
  o->grid = grid;
  o->mean[0] = stats_mean(xa, n);
  o->mean[1] = stats_mean(xb, n);
  o->sd = stats_std(diff, n);
  o->p_adj = NAN;
  if (stats_signed_rank(diff, n, grid, 0.95, &o->t)) o->t.p = NAN;
}

static double grid_for(const Analysis *A, Grid g, const int *pa, const int *pb, int n, const double *xa,
                       const double *xb, double *tmp) {
  if (g == GRID_STEP) return 1;
  if (g == GRID_EVAL) {
    int *runs = malloc(sizeof(int) * (size_t)(2 * n + 1));
    if (!runs) return 0;
    memcpy(runs, pa, sizeof(int) * (size_t)n);
    memcpy(runs + n, pb, sizeof(int) * (size_t)n);
    double e = eval_grid(A->d, runs, 2 * n);
    free(runs);
    return e;
  }
  if (g == GRID_ACC) {
    memcpy(tmp, xa, sizeof(double) * (size_t)n);
    memcpy(tmp + n, xb, sizeof(double) * (size_t)n);
    return acc_grid(tmp, 2 * n);
  }
  return 0;
}

static void compare(Analysis *A, Comparison *cp) {
  const ResultsData *d = A->d;
  const Group *a = &A->g[cp->g1], *b = &A->g[cp->g2];
  size_t cap = (size_t)(a->finished < b->finished ? a->finished : b->finished) + 1;
  int *pa = malloc(sizeof(int) * cap), *pb = malloc(sizeof(int) * cap);
  double *xa = malloc(sizeof(double) * cap), *xb = malloc(sizeof(double) * cap), *x = malloc(sizeof(double) * cap * 2);
  if (!pa || !pb || !xa || !xb || !x) goto out;
  cp->pairs = pair_up(d, a, b, pa, pb);
  cp->target[0] = isnan(A->o.loss_target) ? pooled_loss_target(d, a, b) : A->o.loss_target;
  cp->target[1] = isnan(A->o.acc_target) ? pooled_acc_target(A, a, b) : A->o.acc_target;
  cp->finished[0] = a->finished;
  cp->finished[1] = b->finished;
  for (int w = 0; w < 2; w++) {
    Outcome *o = &cp->out[w == 0 ? O_LOSS_SPEED : O_ACC_SPEED];
    group_speed(A, a, w, cp->target[w], &cp->km[w][0], &cp->km_reached[w][0], &o->censored[0]);
    group_speed(A, b, w, cp->target[w], &cp->km[w][1], &cp->km_reached[w][1], &o->censored[1]);
    for (int i = 0; i < cp->pairs; i++) {
      double ta = steps_to(A, pa[i], w, cp->target[w]), tb = steps_to(A, pb[i], w, cp->target[w]);
      xa[i] = ta >= 0 ? ta : NAN;
      xb[i] = tb >= 0 ? tb : NAN;
      x[i] = isfinite(cp->target[w]) ? speed_diff(ta, censored_at(A, pa[i]), tb, censored_at(A, pb[i])) : NAN;
    }
    outcome(o, xa, xb, x, cp->pairs, w == 0 ? 1 : grid_for(A, GRID_EVAL, pa, pb, cp->pairs, NULL, NULL, NULL));
  }
  cp->learned_pairs = 0;
  for (int i = 0; i < cp->pairs; i++) cp->learned_pairs += !A->rs[pa[i]].failed && !A->rs[pb[i]].failed;
  for (int k = 0; k < NOUTCOMES; k++) {
    int s = OUTCOME[k].stat;
    if (s < 0) continue;
    for (int i = 0; i < cp->pairs; i++) { /* NaN (diverged; failed for steadiness) drops the pair */
      xa[i] = A->rs[pa[i]].s[s];
      xb[i] = A->rs[pb[i]].s[s];
    }
    double g = grid_for(A, STAT[s].grid, pa, pb, cp->pairs, xa, xb, x);
    for (int i = 0; i < cp->pairs; i++) x[i] = xb[i] - xa[i];
    outcome(&cp->out[k], xa, xb, x, cp->pairs, g);
  }
  noise_at_equal_loss(A, cp, pa, pb, xa, xb);
  for (int i = 0; i < cp->pairs; i++) x[i] = xb[i] - xa[i];
  outcome(&cp->out[O_NOISE], xa, xb, x, cp->pairs, 0);
  for (int w = 0; w < 2; w++) {
    const Group *g = w ? b : a;
    double s = 0;
    int m = 0;
    for (int i = 0; i < g->n; i++) {
      int r = g->runs[i];
      long T = steps_of(d, r), k = T / 5 > 1 ? T / 5 : 1;
      double v = T >= k && !A->rs[r].failed ? mean_range(loss_of(d, r), T - k, T) : NAN;
      if (isfinite(v)) { s += v; m++; }
    }
    cp->late_level[w] = m ? s / m : NAN;
  }
  provenance_warning(d, pa, pb, cp->pairs, cp->warning, sizeof cp->warning);
out:
  free(pa);
  free(pb);
  free(xa);
  free(xb);
  free(x);
}

/* The columns in which groups a and b differ, when they make one comparison: one grid column,
   or columns of the zipped tuple only. 0 when they do not (random keys are correlated, not
   compared). */
static int comparable(const Analysis *A, const Group *a, const Group *b, int *cols) {
  const ResultsData *d = A->d;
  int n = 0, zip = 0, other = 0;
  for (int c = 0; c < d->ncols; c++) {
    if (strcmp(d->values[a->first][c], d->values[b->first][c]) == 0) continue;
    if (A->col_random[c] || n == 8) return 0;
    cols[n++] = c;
    if (A->col_zip[c]) zip++;
    else other++;
  }
  return (other == 1 && zip == 0) || (other == 0 && zip > 0) ? n : 0;
}

static int build_comparisons(Analysis *A, Err *e) {
  const ResultsData *d = A->d;
  int cap = 0;
  for (int first = 0; first < d->ncols; first++) /* ordered by the key's (first) column */
    for (int i = 0; i < A->ng; i++)
      for (int j = i + 1; j < A->ng; j++) {
        int cols[8], n = comparable(A, &A->g[i], &A->g[j], cols);
        if (!n || cols[0] != first) continue;
        if (A->nc == cap) {
          Comparison *c = realloc(A->c, sizeof(Comparison) * (size_t)(cap = cap ? 2 * cap : 16));
          if (!c) return errf(e, "out of memory");
          A->c = c;
        }
        Comparison *cp = &A->c[A->nc++];
        memset(cp, 0, sizeof *cp);
        cp->ncols = n;
        memcpy(cp->cols, cols, sizeof(int) * (size_t)n);
        size_t len = 0;
        for (int k = 0; k < n && len < sizeof cp->key; k++)
          len += (size_t)snprintf(cp->key + len, sizeof cp->key - len, "%s%s", k ? "+" : "", d->colname[cols[k]]);
        cp->g1 = i;
        cp->g2 = j;
        compare(A, cp);
      }
  if (A->nc == 0) {
    int random = 0;
    for (int c = 0; c < d->ncols; c++) random += A->col_random[c] != 0;
    snprintf(A->note, sizeof A->note, "%s",
             A->ng < 2 ? "nothing to compare: every run has the same grid values (one group)"
             : random ? "no two groups differ in one grid key: randomly sampled keys are analysed by rank correlation"
                      : "no two groups differ in exactly one grid key (or one zipped tuple)");
  }
  return 0;
}

/* ---- random keys: rank correlations within each setting of the other keys ---- */

static const int CORR_STATS[] = {S_BEST, S_FINAL, S_AUC, S_DEV_MIN};
enum { NCORR_STATS = sizeof CORR_STATS / sizeof *CORR_STATS };

static void context_of(const Analysis *A, int r, int col, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int c = 0; c < A->d->ncols && len < size; c++)
    if (c != col && !A->col_random[c])
      len += (size_t)snprintf(out + len, size - len, "%s%s=%s", len ? " " : "", A->d->colname[c], A->d->values[r][c]);
}

static int build_correlations(Analysis *A, Err *e) {
  const ResultsData *d = A->d;
  size_t n = (size_t)(d->nruns ? d->nruns : 1);
  int *in = malloc(sizeof(int) * n), *seen = calloc(n, sizeof(int));
  double *x = malloc(sizeof(double) * n), *y = malloc(sizeof(double) * n);
  int rc = in && seen && x && y ? 0 : errf(e, "out of memory");
  for (int c = 0; c < d->ncols && !rc; c++) {
    if (!A->col_random[c]) continue;
    memset(seen, 0, sizeof(int) * n);
    for (int r0 = 0; r0 < d->nruns && !rc; r0++) {
      if (seen[r0] || !A->rs[r0].done) continue;
      char ctx[512], other[512];
      context_of(A, r0, c, ctx, sizeof ctx);
      int m = 0;
      for (int r = r0; r < d->nruns; r++) {
        if (!A->rs[r].done) continue;
        context_of(A, r, c, other, sizeof other);
        if (strcmp(ctx, other) == 0) { seen[r] = 1; in[m++] = r; }
      }
      for (int k = 0; k < NCORR_STATS && !rc; k++) {
        Correlation *q = realloc(A->corr, sizeof(Correlation) * (size_t)(A->ncorr + 1));
        if (!q) { rc = errf(e, "out of memory"); break; }
        A->corr = q;
        Correlation *o = &A->corr[A->ncorr++];
        memset(o, 0, sizeof *o);
        o->col = c;
        o->stat = CORR_STATS[k];
        snprintf(o->context, sizeof o->context, "%s", ctx);
        for (int i = 0; i < m; i++) {
          x[i] = strtod(d->values[in[i]][c], NULL);
          y[i] = A->rs[in[i]].s[o->stat];
        }
        stats_spearman(x, y, m, &o->rho, &o->p, &o->n);
        o->p_adj = NAN;
      }
    }
  }
  free(in);
  free(seen);
  free(x);
  free(y);
  return rc;
}

int analysis_run(Analysis *A, const ResultsData *d, const AnalysisOptions *o, Err *e) {
  memset(A, 0, sizeof *A);
  A->d = d;
  A->o = *o;
  key_kinds(A);
  if (build_groups(A, e) || build_comparisons(A, e) || build_correlations(A, e)) {
    analysis_free(A);
    return -1;
  }
  return 0;
}

/* ---- multiplicity, verdicts, power ---- */

const int POWER_MULTIPLE[NPOWER_ROWS] = {1, 2, 4};

/* A verdict from the family's adjusted p: with Pratt's test the 95% interval holds exactly the
   accepted shifts, and p <= p_adj, so a rejection always has 0 outside the interval; its side
   is the direction. */
static Verdict verdict_of(const Outcome *o, int in_family) {
  if (!in_family) return V_CANNOT_REACH;
  if (!(o->p_adj <= ANALYSIS_ALPHA)) return V_NONE;
  if (o->t.lo > 0 || (o->t.lo == 0 && o->t.lo_open)) return V_HIGHER;
  if (o->t.hi < 0 || (o->t.hi == 0 && o->t.hi_open)) return V_LOWER;
  return o->t.estimate > 0 ? V_HIGHER : o->t.estimate < 0 ? V_LOWER : V_NONE; /* not reached: the interval is exact */
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* How many of the sorted s[0..n) are below x. */
static int count_below(const double *s, int n, double x) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (s[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* One family: p[0..n) with their smallest attainable p_min; Tarone's count m of those that can
   reach ANALYSIS_ALPHA / m; Holm over them into adj (NaN for the rest: in[i] = 0). Returns how
   many were rejected; *m_out: m. */
static int family(const double *p, const double *p_min, int n, double *adj, int *in, int *m_out, int *tarone) {
  const int m = n ? stats_tarone(p_min, n, ANALYSIS_ALPHA) : 1;
  *tarone = m;
  double *q = calloc((size_t)(n ? n : 1), sizeof(double));
  int rej = 0, k = 0;
  *m_out = 0;
  if (!q) {
    for (int i = 0; i < n; i++) adj[i] = NAN, in[i] = 0;
    return 0;
  }
  for (int i = 0; i < n; i++) {
    in[i] = !isnan(p[i]) && p_min[i] <= ANALYSIS_ALPHA / (m ? m : 1);
    q[i] = in[i] ? p[i] : NAN;
    k += in[i];
  }
  stats_holm(q, n, adj);
  for (int i = 0; i < n; i++) rej += in[i] && adj[i] <= ANALYSIS_ALPHA;
  free(q);
  *m_out = k;
  return rej;
}

/* An outcome's p and smallest attainable p: 2 / 2^(non-zero determinate pairs). */
static void outcome_p(const Outcome *o, double *p, double *p_min) {
  *p = o->t.used > 0 ? o->t.p : NAN;
  *p_min = o->t.used > 0 ? o->t.p_min : 1.0;
}

/* The power figures of a comparison's primary outcome at the level its Holm rank gives it. */
static void power_of(const Analysis *A, Comparison *c) {
  const Outcome *pr = &c->out[O_LOSS_SPEED];
  const int draws = A->o.power_draws;
  c->mde = NAN;
  for (int r = 0; r < NPOWER_ROWS; r++) c->mde_table[r] = NAN;
  c->effect = A->o.effect;
  c->pairs_needed = -1;
  if (draws <= 0 || !(pr->sd > 0)) return;
  const int sd_from = pr->t.n - pr->t.worst - pr->t.undetermined; /* the finite differences the sd is from */
  for (int r = 0; r < NPOWER_ROWS; r++)
    c->mde_table[r] = stats_signed_rank_mde_sim(pr->sd, c->pairs * POWER_MULTIPLE[r], sd_from, pr->grid,
                                                c->alpha_primary, 0.8, draws, ANALYSIS_POWER_SEED);
  c->mde = c->mde_table[0];
  if (isfinite(c->effect))
    c->pairs_needed = stats_signed_rank_pairs_sim(pr->sd, sd_from, c->effect, pr->grid, c->alpha_primary, 0.8, draws,
                                                  ANALYSIS_POWER_SEED);
}

void analysis_adjust(Analysis *As, int n, int *m_primary, int *m_secondary, int *gate_open) {
  int np = 0, ns = 0;
  for (int a = 0; a < n; a++) {
    np += As[a].nc;
    ns += As[a].nc * (NOUTCOMES - 1) + As[a].ncorr;
  }
  const size_t N = (size_t)(np + ns + 1);
  double *p = calloc(N, sizeof(double)), *pm = calloc(N, sizeof(double)), *adj = calloc(N, sizeof(double));
  int *in = calloc(N, sizeof(int));
  double *sorted = malloc(sizeof(double) * (size_t)(np + 1));
  if (!p || !pm || !adj || !in || !sorted) {
    free(p); free(pm); free(adj); free(in); free(sorted);
    return;
  }
  int k = 0, ks = np;
  for (int a = 0; a < n; a++) {
    for (int i = 0; i < As[a].nc; i++) {
      const Comparison *c = &As[a].c[i];
      outcome_p(&c->out[O_LOSS_SPEED], &p[k], &pm[k]);
      k++;
      for (int o = 1; o < NOUTCOMES; o++, ks++) outcome_p(&c->out[o], &p[ks], &pm[ks]);
    }
    for (int i = 0; i < As[a].ncorr; i++, ks++) {
      p[ks] = As[a].corr[i].p;
      pm[ks] = 0; /* Spearman's t: continuous */
    }
  }
  int mp, ms, tp, ts = 1;
  const int rej = family(p, pm, np, adj, in, &mp, &tp);
  /* serial gatekeeping: the secondary family only behind every primary that could be rejected */
  const int open = rej == mp;
  if (open) family(p + np, pm + np, ns, adj + np, in + np, &ms, &ts);
  else {
    ms = 0;
    for (int i = np; i < np + ns; i++) adj[i] = NAN, in[i] = 0;
  }
  int msorted = 0;
  for (int i = 0; i < np; i++)
    if (in[i]) sorted[msorted++] = p[i];
  qsort(sorted, (size_t)msorted, sizeof(double), cmp_double);
  k = 0, ks = np;
  for (int a = 0; a < n; a++) {
    Analysis *A = &As[a];
    for (int i = 0; i < A->nc; i++) {
      Comparison *c = &A->c[i];
      const int kp = k++;
      c->out[O_LOSS_SPEED].p_adj = adj[kp];
      c->out[O_LOSS_SPEED].family_m = in[kp] ? mp : tp; /* left out: the size Tarone's rule judged it at */
      c->out[O_LOSS_SPEED].verdict = verdict_of(&c->out[O_LOSS_SPEED], in[kp]);
      for (int o = 1; o < NOUTCOMES; o++, ks++) {
        Outcome *out = &c->out[o];
        out->p_adj = adj[ks];
        out->family_m = !open ? 0 : in[ks] ? ms : ts;
        out->verdict = !open ? V_EXPLORATORY : verdict_of(out, in[ks]);
      }
      if (c->out[O_NOISE].verdict != V_CANNOT_REACH && c->out[O_NOISE].verdict != V_EXPLORATORY &&
          (c->nlevels == 0 || !(c->level_gap <= A->o.level_tolerance)))
        c->out[O_NOISE].verdict = V_WITHHELD; /* the compared windows are not at equal loss */
      /* Holm's rank of this primary: its threshold is alpha / (m - rank + 1); one outside the
         family would join it with more seeds, at worst first */
      const int rank = in[kp] ? 1 + count_below(sorted, msorted, p[kp]) : 1;
      c->primary_m = in[kp] ? mp : mp + 1;
      c->primary_rank = rank;
      c->alpha_primary = ANALYSIS_ALPHA / (c->primary_m - rank + 1 > 0 ? c->primary_m - rank + 1 : 1);
      power_of(A, c);
    }
    for (int i = 0; i < A->ncorr; i++, ks++) A->corr[i].p_adj = adj[ks];
    A->gate_open = open;
  }
  *m_primary = mp;
  *m_secondary = ms;
  *gate_open = open;
  free(sorted);
  free(p);
  free(pm);
  free(adj);
  free(in);
}

void analysis_free(Analysis *A) {
  for (int i = 0; A->g && i < A->ng; i++) {
    free(A->g[i].runs);
    free(A->g[i].fin);
  }
  free(A->g);
  free(A->c);
  free(A->rs);
  free(A->corr);
  memset(A, 0, sizeof *A);
}
