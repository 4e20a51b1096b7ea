#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "src/stats.h"

/* Every statistic here skips non-finite values (a diverged run's NaN and inf). */
double stats_mean(const double *x, int n) {
  double s = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) { s += x[i]; k++; }
  return k ? s / k : NAN;
}

double stats_std(const double *x, int n) {
  double m = stats_mean(x, n), s = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) { s += (x[i] - m) * (x[i] - m); k++; }
  return k < 2 ? NAN : sqrt(s / (k - 1));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double stats_median(const double *x, int n) {
  if (n == 0) return NAN;
  double *s = malloc(sizeof(double) * (size_t)n);
  if (!s) return NAN;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) s[k++] = x[i];
  n = k;
  if (n == 0) { free(s); return NAN; }
  qsort(s, (size_t)n, sizeof(double), cmp_double);
  double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  free(s);
  return m;
}

/* ---- the signed-rank test, its estimate and its interval ---- */

typedef struct {
  double a; /* |difference| (inf: a censored one, at the worst rank) */
  int pos;  /* 1: positive */
} Abs;

static int cmp_abs(const void *p, const void *q) {
  double x = ((const Abs *)p)->a, y = ((const Abs *)q)->a;
  return x < y ? -1 : x > y;
}

/* The non-zero determinate d - theta (inf stays inf) into v, sorted by size; their doubled
   mid-ranks (integers: the mid-rank of ranks i+1..j is (i+1+j)/2) into r2. Returns how many. */
static int rank_abs(const double *d, int n, double theta, Abs *v, long *r2) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (isnan(d[i])) continue;
    double x = isinf(d[i]) ? d[i] : d[i] - theta;
    if (x != 0) v[m++] = (Abs){fabs(x), x > 0};
  }
  qsort(v, (size_t)m, sizeof(Abs), cmp_abs);
  for (int i = 0; i < m;) {
    int j = i;
    while (j < m && v[j].a == v[i].a) j++;
    for (int k = i; k < j; k++) r2[k] = i + 1 + j;
    i = j;
  }
  return m;
}

/* Two-sided p of the doubled W+ = w2 given the doubled mid-ranks r2[0..m): exactly, by counting
   the 2^m sign patterns by their sum (m <= STATS_EXACT_MAX), else normally. */
static double w_p(const long *r2, int m, long w2) {
  if (m == 0) return 1.0;
  long total = 0;
  for (int k = 0; k < m; k++) total += r2[k];
  if (m > STATS_EXACT_MAX) {
    double var = 0; /* Var W+ = sum r^2 / 4; doubled, sum r2^2 / 4 */
    for (int k = 0; k < m; k++) var += (double)r2[k] * (double)r2[k] / 4.0;
    double z = (fabs((double)w2 - total / 2.0) - 1.0) / sqrt(var); /* continuity: 0.5 in W+, 1 doubled */
    return var > 0 ? fmin(1.0, erfc(fmax(z, 0.0) / sqrt(2.0))) : 1.0;
  }
  double *cnt = calloc((size_t)total + 1, sizeof(double));
  if (!cnt) return NAN;
  cnt[0] = 1;
  long top = 0;
  for (int k = 0; k < m; k++) {
    top += r2[k];
    for (long s = top; s >= r2[k]; s--) cnt[s] += cnt[s - r2[k]];
  }
  double le = 0, ge = 0;
  for (long s = 0; s <= total; s++) {
    if (s <= w2) le += cnt[s];
    if (s >= w2) ge += cnt[s];
  }
  free(cnt);
  return fmin(1.0, 2 * fmin(le, ge) / ldexp(1.0, m));
}

/* p of d - theta, with the caller's buffers; *used: the ranks, *w2out: the doubled W+. */
static double sr_p(const double *d, int n, double theta, Abs *v, long *r2, int *used, long *w2out) {
  int m = rank_abs(d, n, theta, v, r2);
  long w2 = 0;
  for (int k = 0; k < m; k++)
    if (v[k].pos) w2 += r2[k];
  if (used) *used = m;
  if (w2out) *w2out = w2;
  return w_p(r2, m, w2);
}

double stats_signed_rank_p(const double *d, int n, double theta) {
  Abs *v = malloc(sizeof(Abs) * (size_t)(n ? n : 1));
  long *r2 = malloc(sizeof(long) * (size_t)(n ? n : 1));
  double p = v && r2 ? sr_p(d, n, theta, v, r2, NULL, NULL) : NAN;
  free(v);
  free(r2);
  return p;
}

double stats_wilcoxon(const double *d, int n) { return stats_signed_rank_p(d, n, 0.0); }

/* +inf when the positive ranks hold at least half the rank sum of d, else -inf: the side an
   interval lies on when the censored (worst-ranked) signs alone decide. */
static double censored_side(const double *d, int n, Abs *v, long *r2) {
  long w2 = 0, total = 0;
  int m = rank_abs(d, n, 0.0, v, r2);
  for (int k = 0; k < m; k++) {
    total += r2[k];
    if (v[k].pos) w2 += r2[k];
  }
  return 2 * w2 >= total ? INFINITY : -INFINITY;
}

/* The interval: the shifts whose test is not rejected. Between consecutive distinct Walsh
   averages w[0..K) of the finite differences neither the signs nor the ties of d - theta change,
   so p is constant on each of the K + 1 gaps; the interval runs from the left edge of the first
   accepted gap to the right edge of the last (W+ falls as theta grows, so accepted gaps are
   contiguous). Up to STATS_EXACT_MAX ranks every gap is tried; above, bisection finds the edges. */
static void sr_interval(const double *d, int n, const double *w, long K, double alpha, Abs *v, long *r2,
                        double *lo, double *hi) {
#define GAP_THETA(g) ((g) == 0 ? w[0] - 1.0 : (g) == K ? w[K - 1] + 1.0 : 0.5 * (w[(g) - 1] + w[(g)]))
#define ACCEPTED(g) (sr_p(d, n, GAP_THETA(g), v, r2, NULL, NULL) >= alpha)
  long first = -1, last = -1;
  int used = 0;
  sr_p(d, n, 0.0, v, r2, &used, NULL);
  if (used <= STATS_EXACT_MAX) {
    for (long g = 0; g <= K; g++)
      if (ACCEPTED(g)) {
        if (first < 0) first = g;
        last = g;
      }
  } else if (ACCEPTED(K / 2)) { /* the gap beside the median Walsh average accepts if any does */
    long a = 0, b = K / 2;
    while (a < b) { /* first accepted in [a, b] */
      long c = a + (b - a) / 2;
      if (ACCEPTED(c)) b = c;
      else a = c + 1;
    }
    first = a;
    a = K / 2, b = K;
    while (a < b) { /* last accepted in [a, b] */
      long c = b - (b - a) / 2;
      if (ACCEPTED(c)) a = c;
      else b = c - 1;
    }
    last = a;
  }
#undef ACCEPTED
#undef GAP_THETA
  if (first < 0) {
    *lo = *hi = censored_side(d, n, v, r2);
    return;
  }
  *lo = first == 0 ? -INFINITY : w[first - 1];
  *hi = last == K ? INFINITY : w[last];
}

int stats_signed_rank(const double *d_in, int n, double grid, double level, SignedRank *o) {
  memset(o, 0, sizeof *o);
  o->n = n;
  o->estimate = o->lo = o->hi = o->p = o->p_min = NAN;
  double *d = malloc(sizeof(double) * (size_t)(n ? n : 1));
  Abs *v = malloc(sizeof(Abs) * (size_t)(n ? n : 1));
  long *r2 = malloc(sizeof(long) * (size_t)(n ? n : 1));
  int k = 0; /* finite differences */
  for (int i = 0; d && i < n; i++) {
    d[i] = isfinite(d_in[i]) && grid > 0 ? nearbyint(d_in[i] / grid) : d_in[i]; /* in units of the grid */
    o->undetermined += isnan(d[i]);
    o->worst += isinf(d[i]);
    o->zeros += d[i] == 0;
    k += isfinite(d[i]);
  }
  enum { WALSH_MAX = 4000 }; /* finite differences whose Walsh averages are formed (64 MB) */
  double *w = d && k <= WALSH_MAX ? malloc(sizeof(double) * ((size_t)k * (size_t)(k + 1) / 2 + 1)) : NULL;
  if (!d || !v || !r2 || (k <= WALSH_MAX && !w)) {
    free(d); free(v); free(r2); free(w);
    return -1;
  }
  o->p = sr_p(d, n, 0.0, v, r2, &o->used, NULL);
  o->exact = o->used <= STATS_EXACT_MAX;
  o->p_min = fmin(1.0, ldexp(2.0, -o->used));
  long K = 0;
  if (w) {
    for (int i = 0; i < n; i++) /* Walsh averages (d_i + d_j) / 2, i <= j, of the finite differences */
      for (int j = i; j < n && isfinite(d[i]); j++)
        if (isfinite(d[j])) w[K++] = 0.5 * (d[i] + d[j]);
    qsort(w, (size_t)K, sizeof(double), cmp_double);
    if (K) o->estimate = K % 2 ? w[K / 2] : 0.5 * (w[K / 2 - 1] + w[K / 2]);
    long u = 0; /* distinct, for the gaps */
    for (long i = 0; i < K; i++)
      if (u == 0 || w[i] != w[u - 1]) w[u++] = w[i];
    if (u) sr_interval(d, n, w, u, 1 - level, v, r2, &o->lo, &o->hi);
    else if (o->p >= 1 - level) o->lo = -INFINITY, o->hi = INFINITY; /* nothing finite: p does not move */
    else o->lo = o->hi = censored_side(d, n, v, r2);
  }
  if (grid > 0) {
    o->estimate *= grid;
    o->lo *= grid;
    o->hi *= grid;
  }
  free(d);
  free(v);
  free(r2);
  free(w);
  return 0;
}

/* ---- multiplicity and power ---- */

/* Indices ordered by the values they point at (ties by index: a stable order). */
static int by_value(const void *a, const void *b, void *v_) {
  const double *v = v_;
  int i = *(const int *)a, j = *(const int *)b;
  return v[i] < v[j] ? -1 : v[i] > v[j] ? 1 : (i > j) - (i < j);
}

void stats_holm(const double *p, int n, double *adj) {
  int *idx = malloc(sizeof(int) * (size_t)(n ? n : 1)), m = 0;
  for (int i = 0; i < n; i++) adj[i] = NAN;
  if (!idx) return;
  for (int i = 0; i < n; i++)
    if (!isnan(p[i])) idx[m++] = i;
  qsort_r(idx, (size_t)m, sizeof(int), by_value, (void *)p);
  double run = 0; /* adjusted p_(k) = max over j <= k of min(1, (m - j + 1) p_(j)) */
  for (int k = 0; k < m; k++) {
    run = fmax(run, fmin(1.0, (double)(m - k) * p[idx[k]]));
    adj[idx[k]] = run;
  }
  free(idx);
}

double stats_norm_quantile(double q) {
  if (!(q > 0 && q < 1)) return NAN;
  double a = -40, b = 40; /* Phi(x) = erfc(-x / sqrt 2) / 2 increases: bisect */
  for (int i = 0; i < 200; i++) {
    double c = 0.5 * (a + b);
    if (0.5 * erfc(-c / sqrt(2.0)) < q) a = c;
    else b = c;
  }
  return 0.5 * (a + b);
}

/* The fewest pairs whose smallest attainable p, 2 / 2^n, is at most alpha. */
static int min_pairs(double alpha) {
  int n = 1;
  while (n < 60 && ldexp(2.0, -n) > alpha) n++;
  return n;
}

/* Efficiency of the signed-rank test relative to the paired t-test for normal differences. */
static const double SR_ARE = 3.0 / 3.14159265358979323846;

double stats_signed_rank_mde(double sd, int n, double alpha, double power) {
  if (!(sd >= 0) || n < min_pairs(alpha)) return INFINITY;
  return (stats_norm_quantile(1 - alpha / 2) + stats_norm_quantile(power)) * sd / sqrt(n * SR_ARE);
}

int stats_signed_rank_pairs(double sd, double delta, double alpha, double power) {
  if (!(sd >= 0) || !(fabs(delta) > 0)) return -1;
  double z = (stats_norm_quantile(1 - alpha / 2) + stats_norm_quantile(power)) * sd / fabs(delta);
  double n = ceil(z * z / SR_ARE);
  int floor_n = min_pairs(alpha);
  return n > 1e9 ? -1 : n < floor_n ? floor_n : (int)n;
}

/* ---- rank correlation ---- */

/* Mid-ranks (1-based) of x[0..n) into r; idx: scratch of n. */
static void midranks(const double *x, int n, double *r, int *idx) {
  for (int i = 0; i < n; i++) idx[i] = i;
  qsort_r(idx, (size_t)n, sizeof(int), by_value, (void *)x);
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && x[idx[j]] == x[idx[i]]) j++;
    for (int k = i; k < j; k++) r[idx[k]] = 0.5 * (i + 1 + j);
    i = j;
  }
}

/* Regularised incomplete beta I_x(a, b) from its continued fraction (modified Lentz). */
static double betai(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - betai(b, a, 1 - x); /* where the fraction converges fast */
  double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)) / a;
  double f = 1, c = 1, dd = 0;
  for (int i = 0; i <= 400; i++) {
    int m = i / 2;
    double num = i == 0 ? 1 : i % 2 == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                         : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
    dd = 1 + num * dd;
    dd = fabs(dd) < 1e-300 ? 1e-300 : dd;
    c = 1 + num / c;
    c = fabs(c) < 1e-300 ? 1e-300 : c;
    dd = 1 / dd;
    f *= c * dd;
    if (fabs(1 - c * dd) < 1e-15) break;
  }
  return front * (f - 1);
}

void stats_spearman(const double *x, const double *y, int n, double *rho, double *p, int *used) {
  *rho = *p = NAN;
  *used = 0;
  double *a = malloc(sizeof(double) * (size_t)(n ? n : 1) * 4);
  int *idx = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!a || !idx) {
    free(a);
    free(idx);
    return;
  }
  double *b = a + n, *ra = b + n, *rb = ra + n;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i]) && isfinite(y[i])) {
      a[m] = x[i];
      b[m++] = y[i];
    }
  *used = m;
  if (m >= 3) {
    midranks(a, m, ra, idx);
    midranks(b, m, rb, idx);
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < m; i++) { ma += ra[i]; mb += rb[i]; }
    ma /= m;
    mb /= m;
    for (int i = 0; i < m; i++) {
      sab += (ra[i] - ma) * (rb[i] - mb);
      saa += (ra[i] - ma) * (ra[i] - ma);
      sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    if (saa > 0 && sbb > 0) { /* t = rho sqrt(df / (1 - rho^2)); P(|T| >= t) = I_{df/(df+t^2)}(df/2, 1/2) */
      *rho = fmax(-1.0, fmin(1.0, sab / sqrt(saa * sbb)));
      double df = m - 2, t2 = *rho * *rho * df / fmax(1e-300, 1 - *rho * *rho);
      *p = fabs(*rho) >= 1 ? 0.0 : betai(df / 2, 0.5, df / (df + t2));
    }
  }
  free(a);
  free(idx);
}

long stats_first_below(const float *y, long n, int w, double threshold) {
  double s = 0;
  if (w < 1) w = 1;
  for (long i = 0; i < n; i++) {
    s += y[i];
    if (i >= w) s -= y[i - w];
    long k = i + 1 < w ? i + 1 : w;
    if (i + 1 >= w && s / k <= threshold) return i + 1;
  }
  return -1;
}
