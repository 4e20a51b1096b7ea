#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/analysis.h"
#include "src/stats.h"

const StatSpec STAT[NSTATS] = {
    [S_BEST] = {"best_dev_accuracy", "best acc", "highest dev accuracy of the run", 4, 1},
    [S_FINAL] = {"final_dev_accuracy", "final acc", "dev accuracy at the last evaluation", 4, 1},
    [S_AUC] = {"train_loss_auc", "loss AUC", "mean training loss over all steps (lower: faster overall)", 4, -1},
    [S_LATE_STD] = {"late_loss_std", "late loss std",
                    "std of the training loss about its straight-line trend over the last 20% of steps", 4, -1},
    [S_ACC_OSC] = {"dev_acc_oscillation", "acc oscill.",
                   "mean |change| of dev accuracy between evaluations after its first peak (95% of its best)", 4, -1},
};

static const float *loss_of(const ResultsData *d, int r) { return d->loss + (size_t)r * (size_t)d->max_steps; }
static const float *acc_of(const ResultsData *d, int r) { return d->acc + (size_t)r * (size_t)d->max_evals; }
static const long *estep_of(const ResultsData *d, int r) { return d->estep + (size_t)r * (size_t)d->max_evals; }

static double mean_range(const float *y, long a, long b) {
  double s = 0;
  long n = 0;
  for (long i = a; i < b; i++)
    if (isfinite(y[i])) { s += y[i]; n++; }
  return n ? s / (double)n : NAN;
}

/* Std of y[0..n) about its least-squares line: the noise of the loss, not its progress (a run
   still descending fast would otherwise look unsteady, and one that learns slowly steady). */
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

static void run_stats(const ResultsData *d, int r, RunStats *m) {
  for (int k = 0; k < NSTATS; k++) m->s[k] = NAN;
  m->done = strcmp(d->status[r], "done") == 0;
  m->diverged = strcmp(d->status[r], "diverged") == 0;
  m->failed = m->diverged || (m->done && !(d->final_acc[r] > d->majority[r] + 1e-9));
  if (!m->done) return;
  long T = d->steps_done[r]; /* less than total_steps when early stopping ended the run */
  const float *y = loss_of(d, r);
  m->s[S_BEST] = d->best_acc[r];
  m->s[S_FINAL] = d->final_acc[r];
  m->s[S_AUC] = mean_range(y, 0, T);
  long k = T / 5 > 1 ? T / 5 : 1;
  m->s[S_LATE_STD] = detrended_std(y + T - k, k);
  m->s[S_ACC_OSC] = acc_oscillation(acc_of(d, r), n_evals(d, r));
  if (m->failed) /* a run stuck at the majority class is flat, not steady: steadiness counts runs that learned */
    m->s[S_LATE_STD] = m->s[S_ACC_OSC] = NAN;
}

static void group_key(const ResultsData *d, int r, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int c = 0; c < d->ncols && len < size; c++)
    len += (size_t)snprintf(out + len, size - len, "%s%s=%s", c ? " " : "", d->colname[c], d->values[r][c]);
  if (d->ncols == 0) snprintf(out, size, "all runs");
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


static int build_groups(Analysis *A, Err *e) {
  const ResultsData *d = A->d;
  size_t n = (size_t)(d->nruns ? d->nruns : 1);
  A->g = calloc(n, sizeof(Group));
  A->rs = calloc(n, sizeof(RunStats));
  if (!A->g || !A->rs) return errf(e, "out of memory");
  for (int r = 0; r < d->nruns; r++) {
    run_stats(d, r, &A->rs[r]);
    char key[1024];
    group_key(d, r, key, sizeof key);
    Group *g = NULL;
    for (int i = 0; i < A->ng && !g; i++)
      if (strcmp(A->g[i].key, key) == 0) g = &A->g[i];
    if (!g) {
      g = &A->g[A->ng++];
      snprintf(g->key, sizeof g->key, "%s", key);
      g->first = r;
      g->runs = malloc(sizeof(int) * n);
      g->fin = malloc(sizeof(int) * n);
      if (!g->runs || !g->fin) return errf(e, "out of memory");
    }
    const RunStats *m = &A->rs[r];
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
      long T = d->steps_done[r], k0 = T / 20 > 1 ? T / 20 : 1, k1 = T / 10 > 1 ? T / 10 : 1;
      double x0 = mean_range(loss_of(d, r), 0, k0), x1 = mean_range(loss_of(d, r), T - k1, T);
      if (T < 2 || !isfinite(x0) || !isfinite(x1)) continue;
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

/* Steps until run r reaches target t, or -1. */
static long steps_to(const Analysis *A, int r, int which, double t) {
  const ResultsData *d = A->d;
  if (!isfinite(t)) return -1;
  if (which == T_LOSS) return stats_first_below(loss_of(d, r), d->steps_done[r], A->o.smooth, t);
  const float *acc = acc_of(d, r);
  const long *st = estep_of(d, r);
  for (int k = 0; k < d->max_evals && st[k] >= 0; k++)
    if (acc[k] >= t) return st[k];
  return -1;
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

static void group_speed(const Analysis *A, const Group *g, int which, double target, Speed *sp, int side) {
  double *t = malloc(sizeof(double) * (size_t)(g->finished ? g->finished : 1));
  int *ev = malloc(sizeof(int) * (size_t)(g->finished ? g->finished : 1));
  sp->n[side] = g->finished;
  sp->never[side] = 0;
  for (int i = 0; t && ev && i < g->finished; i++) {
    int r = g->fin[i];
    long s = steps_to(A, r, which, target);
    ev[i] = s >= 0;
    t[i] = s >= 0 ? (double)s : (double)A->d->steps_done[r]; /* censored where the run stopped */
    sp->never[side] += s < 0;
  }
  sp->median[side] = t && ev && g->finished ? km_median(t, ev, g->finished, &sp->median_reached[side]) : NAN;
  free(t);
  free(ev);
}

/* ---- paired comparisons ---- */

static int differ_only_in(const ResultsData *d, const Group *a, const Group *b, int c) {
  for (int k = 0; k < d->ncols; k++) {
    int same = strcmp(d->values[a->first][k], d->values[b->first][k]) == 0;
    if ((k == c) == same) return 0;
  }
  return 1;
}

/* Runs of a and b with the same seed (finished runs only). */
static int pair_up(const ResultsData *d, const Group *a, const Group *b, int *pa, int *pb) {
  int n = 0;
  for (int i = 0; i < a->finished; i++)
    for (int j = 0; j < b->finished; j++)
      if (d->seed[a->fin[i]] == d->seed[b->fin[j]]) {
        pa[n] = a->fin[i];
        pb[n++] = b->fin[j];
        break;
      }
  return n;
}

static void paired(const double *x, int n, int bootstrap, uint64_t seed, int median, double *diff, double *lo, double *hi,
                   double *p) {
  *diff = median ? stats_median(x, n) : stats_mean(x, n);
  stats_bootstrap_ci_stat(x, n, bootstrap, 0.95, seed, median, lo, hi);
  *p = n ? stats_wilcoxon(x, n) : NAN;
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

static void compare(Analysis *A, Comparison *cp) {
  const ResultsData *d = A->d;
  const Group *a = &A->g[cp->g1], *b = &A->g[cp->g2];
  size_t cap = (size_t)(a->finished < b->finished ? a->finished : b->finished) + 1;
  int *pa = malloc(sizeof(int) * cap), *pb = malloc(sizeof(int) * cap);
  double *x = malloc(sizeof(double) * cap);
  if (!pa || !pb || !x) { free(pa); free(pb); free(x); return; }
  cp->pairs = pair_up(d, a, b, pa, pb);
  double targets[NTARGETS] = {isnan(A->o.loss_target) ? pooled_loss_target(d, a, b) : A->o.loss_target,
                              isnan(A->o.acc_target) ? pooled_acc_target(A, a, b) : A->o.acc_target};
  long never = 0; /* "never reached" counts as one step more than any run of the two groups */
  for (int i = 0; i < cp->pairs; i++) never = (long)fmax((double)never, fmax(d->total_steps[pa[i]], d->total_steps[pb[i]]));
  never++;
  for (int w = 0; w < NTARGETS; w++) {
    Speed *sp = &cp->speed[w];
    sp->target = targets[w];
    group_speed(A, a, w, targets[w], sp, 0);
    group_speed(A, b, w, targets[w], sp, 1);
    for (int i = 0; i < cp->pairs; i++) {
      long ta = steps_to(A, pa[i], w, targets[w]), tb = steps_to(A, pb[i], w, targets[w]);
      x[i] = (double)((tb < 0 ? never : tb) - (ta < 0 ? never : ta));
    }
    if (isfinite(targets[w])) paired(x, cp->pairs, A->o.bootstrap, 777 + (uint64_t)w, 1, &sp->diff, &sp->lo, &sp->hi, &sp->p);
    else sp->diff = sp->lo = sp->hi = sp->p = NAN;
  }
  cp->learned_pairs = 0;
  for (int i = 0; i < cp->pairs; i++) cp->learned_pairs += !A->rs[pa[i]].failed && !A->rs[pb[i]].failed;
  for (int k = 0; k < NSTATS; k++) {
    /* NaN (diverged; failed for steadiness) skipped */
    for (int i = 0; i < cp->pairs; i++) x[i] = A->rs[pb[i]].s[k] - A->rs[pa[i]].s[k];
    paired(x, cp->pairs, A->o.bootstrap, 12345 + (uint64_t)k, 0, &cp->stat[k].diff, &cp->stat[k].lo, &cp->stat[k].hi,
           &cp->stat[k].p);
  }
  provenance_warning(d, pa, pb, cp->pairs, cp->warning, sizeof cp->warning);
  free(pa);
  free(pb);
  free(x);
}

static int build_comparisons(Analysis *A, Err *e) {
  const ResultsData *d = A->d;
  A->c = calloc((size_t)A->ng * (size_t)A->ng + 1, sizeof(Comparison));
  if (!A->c) return errf(e, "out of memory");
  for (int c = 0; c < d->ncols; c++)
    for (int i = 0; i < A->ng; i++)
      for (int j = i + 1; j < A->ng; j++)
        if (differ_only_in(d, &A->g[i], &A->g[j], c)) {
          Comparison *cp = &A->c[A->nc++];
          cp->col = c;
          cp->g1 = i;
          cp->g2 = j;
          compare(A, cp);
        }
  return 0;
}

int analysis_run(Analysis *A, const ResultsData *d, const AnalysisOptions *o, Err *e) {
  memset(A, 0, sizeof *A);
  A->d = d;
  A->o = *o;
  if (build_groups(A, e) || build_comparisons(A, e)) {
    analysis_free(A);
    return -1;
  }
  return 0;
}

void analysis_free(Analysis *A) {
  for (int i = 0; A->g && i < A->ng; i++) {
    free(A->g[i].runs);
    free(A->g[i].fin);
  }
  free(A->g);
  free(A->c);
  free(A->rs);
  memset(A, 0, sizeof *A);
}
