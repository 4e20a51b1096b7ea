#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "src/rng.h"
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
  int pos;  /* 1: positive, 0: negative, -1: zero */
} Abs;

static int cmp_abs(const void *p, const void *q) {
  double x = ((const Abs *)p)->a, y = ((const Abs *)q)->a;
  return x < y ? -1 : x > y;
}

/* Pratt's ranking (Pratt 1959; SciPy's zero_method="pratt"): every determinate d - theta (inf
   stays inf) is ranked by size, zeros included (they take the smallest ranks), then the zeros
   are set aside: the non-zero ones and their doubled mid-ranks (integers: the mid-rank of ranks
   i+1..j is (i+1+j)/2) go into v and r2. Wilcoxon's dropping of zeros before ranking makes
   p(theta) non-monotone in the shift, so the set of accepted shifts is not an interval; with
   Pratt's it is. Returns how many non-zero ones; *zeros: how many zeros. */
static int rank_abs(const double *d, int n, double theta, Abs *v, long *r2, int *zeros) {
  int m = 0, z = 0;
  for (int i = 0; i < n; i++) {
    if (isnan(d[i])) continue;
    double x = isinf(d[i]) ? d[i] : d[i] - theta;
    v[m++] = (Abs){fabs(x), x > 0 ? 1 : x < 0 ? 0 : -1};
  }
  qsort(v, (size_t)m, sizeof(Abs), cmp_abs);
  for (int i = 0; i < m;) {
    int j = i;
    while (j < m && v[j].a == v[i].a) j++;
    for (int k = i; k < j; k++) r2[k] = i + 1 + j;
    i = j;
  }
  int k = 0;
  for (int i = 0; i < m; i++) {
    if (v[i].pos < 0) { z++; continue; }
    v[k] = v[i];
    r2[k++] = r2[i];
  }
  if (zeros) *zeros = z;
  return k;
}

/* Two-sided p of the doubled W+ = w2 given the doubled mid-ranks r2[0..m): exactly, by counting
   the 2^m sign patterns by their sum (m <= STATS_EXACT_MAX), else normally (mean and variance of
   W+ over the same sign patterns, continuity-corrected). The normal tail is floored at
   STATS_P_FLOOR: below it doubles lose it, and "< 1e-300" is what the report can say. */
static double w_p(const long *r2, int m, long w2) {
  if (m == 0) return 1.0;
  long total = 0;
  for (int k = 0; k < m; k++) total += r2[k];
  if (m > STATS_EXACT_MAX) {
    double var = 0; /* Var W+ = sum r^2 / 4; doubled, sum r2^2 / 4 */
    for (int k = 0; k < m; k++) var += (double)r2[k] * (double)r2[k] / 4.0;
    double z = (fabs((double)w2 - total / 2.0) - 1.0) / sqrt(var); /* continuity: 0.5 in W+, 1 doubled */
    return var > 0 ? fmax(STATS_P_FLOOR, fmin(1.0, erfc(fmax(z, 0.0) / sqrt(2.0)))) : 1.0;
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

/* p of d - theta, with the caller's buffers; *used: the non-zero ranks, *zeros: the zeros. */
static double sr_p(const double *d, int n, double theta, Abs *v, long *r2, int *used, int *zeros) {
  int m = rank_abs(d, n, theta, v, r2, zeros);
  long w2 = 0;
  for (int k = 0; k < m; k++)
    if (v[k].pos) w2 += r2[k];
  if (used) *used = m;
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

/* ---- Walsh averages without storing them: counting and selection over sorted values ---- */

/* How many Walsh averages (x_i + x_j) / 2, i <= j, of the sorted finite x[0..k) are <= t. */
static long walsh_count_le(const double *x, int k, double t) {
  long c = 0;
  int j = k - 1;
  for (int i = 0; i < k; i++) { /* pairs (i, j) with i <= j and x_i + x_j <= 2t: j falls as i grows */
    while (j >= i && x[i] + x[j] > 2 * t) j--;
    if (j < i) break;
    c += j - i + 1;
  }
  return c;
}

/* The largest Walsh average <= t (t at least the smallest one). */
static double walsh_floor(const double *x, int k, double t) {
  double best = -INFINITY;
  int j = k - 1;
  for (int i = 0; i < k; i++) {
    while (j >= i && x[i] + x[j] > 2 * t) j--;
    if (j < i) break;
    best = fmax(best, 0.5 * (x[i] + x[j]));
  }
  return best;
}

/* The q-th smallest (0-based) Walsh average of the sorted finite x[0..k): the value bisected
   until the count settles, then the Walsh average at it. O(k log(range / ulp)). */
static double walsh_select(const double *x, int k, long q) {
  double lo = x[0], hi = x[k - 1]; /* count(lo) may be <= q; count(hi) = all > q */
  for (int it = 0; it < 200 && lo < hi; it++) {
    double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (walsh_count_le(x, k, mid) > q) hi = mid;
    else lo = mid;
  }
  return walsh_floor(x, k, hi);
}

/* +inf when the positive ranks hold at least half the rank sum of d, else -inf: the side an
   interval lies on when the censored (worst-ranked) signs alone decide. */
static double censored_side(const double *d, int n, Abs *v, long *r2) {
  long w2 = 0, total = 0;
  int m = rank_abs(d, n, 0.0, v, r2, NULL);
  for (int k = 0; k < m; k++) {
    total += r2[k];
    if (v[k].pos) w2 += r2[k];
  }
  return 2 * w2 >= total ? INFINITY : -INFINITY;
}

/* The interval: the connected set of shifts theta around the estimate whose test of d - theta
   is not rejected at alpha (Pratt's test: that set is one interval). W+ and the ties change
   only at the distinct Walsh averages w[0..K) of the finite differences: p is constant on each
   of the K + 1 open gaps between them, and each average itself is tried too, so the interval is
   exactly the accepted set; an end whose Walsh average is rejected is open (*lo_open, *hi_open).
   Up to STATS_EXACT_MAX ranks every point is tried; above, bisection over the 2K + 1 points
   (gap, average, gap, ...) from the estimate's point finds the ends. w == NULL (too many
   differences to store their averages): bisection over theta itself, ends to 1e-9 of the range. */
typedef struct {
  const double *d;
  int n;
  Abs *v;
  long *r2;
  double alpha;
} SrCtx;

static int accepted_at(const SrCtx *c, double theta) { return sr_p(c->d, c->n, theta, c->v, c->r2, NULL, NULL) >= c->alpha; }

/* point j of 0..2K: even j the gap j/2, odd j the average w[(j-1)/2] */
static double point_theta(const double *w, long K, long j) {
  if (j % 2) return w[(j - 1) / 2];
  long g = j / 2;
  return g == 0 ? w[0] - 1.0 : g == K ? w[K - 1] + 1.0 : 0.5 * (w[g - 1] + w[g]);
}

static void sr_interval(const SrCtx *c, const double *w, long K, double est, int exact, double *lo, double *hi,
                        int *lo_open, int *hi_open) {
  *lo_open = *hi_open = 0;
  long P = 2 * K + 1, g = 0, hi_g = K; /* g: how many averages lie below the estimate */
  while (g < hi_g) {
    long m = g + (hi_g - g) / 2;
    if (w[m] < est) g = m + 1;
    else hi_g = m;
  }
  const long e = g < K && w[g] == est ? 2 * g + 1 : 2 * g; /* the estimate's point: an average, or a gap */
  if (!accepted_at(c, point_theta(w, K, e))) { /* only with every shift rejected (censored signs decide) */
    *lo = *hi = censored_side(c->d, c->n, c->v, c->r2);
    return;
  }
  long a = e, b = e;
  if (exact) {
    while (a > 0 && accepted_at(c, point_theta(w, K, a - 1))) a--;
    while (b < P - 1 && accepted_at(c, point_theta(w, K, b + 1))) b++;
  } else {
    long x = 0, y = e; /* first accepted in [x, y] */
    while (x < y) {
      long m = x + (y - x) / 2;
      if (accepted_at(c, point_theta(w, K, m))) y = m;
      else x = m + 1;
    }
    a = x;
    x = e, y = P - 1; /* last accepted in [x, y] */
    while (x < y) {
      long m = y - (y - x) / 2;
      if (accepted_at(c, point_theta(w, K, m))) x = m;
      else y = m - 1;
    }
    b = x;
  }
  /* an accepted gap's outer edge is the rejected average beside it: an open end */
  *lo = a == 0 ? -INFINITY : a % 2 ? w[(a - 1) / 2] : w[a / 2 - 1];
  *hi = b == P - 1 ? INFINITY : b % 2 ? w[(b - 1) / 2] : w[b / 2];
  *lo_open = a % 2 == 0 && a > 0;
  *hi_open = b % 2 == 0 && b < P - 1;
}

/* The same by bisection over theta, for more differences than their averages can be stored. */
static void sr_interval_theta(const SrCtx *c, const double *x, int k, double est, double *lo, double *hi) {
  const double span = x[k - 1] - x[0] + 1.0, tol = 1e-9 * span;
  if (!accepted_at(c, est)) {
    *lo = *hi = censored_side(c->d, c->n, c->v, c->r2);
    return;
  }
  double a = x[0] - 1.0, b = est; /* rejected at a (or -inf accepted), accepted at b */
  if (accepted_at(c, a)) *lo = -INFINITY;
  else {
    while (b - a > tol) {
      double m = 0.5 * (a + b);
      if (accepted_at(c, m)) b = m;
      else a = m;
    }
    *lo = b;
  }
  a = est, b = x[k - 1] + 1.0; /* accepted at a, rejected at b */
  if (accepted_at(c, b)) *hi = INFINITY;
  else {
    while (b - a > tol) {
      double m = 0.5 * (a + b);
      if (accepted_at(c, m)) a = m;
      else b = m;
    }
    *hi = a;
  }
}

/* Hodges–Lehmann: the median of the Walsh averages of the determinate differences, censored
   ones (+-inf) included (an inf with a finite one is inf; +inf with -inf is left out); NaN when
   that median is infinite: the observed pairs cannot estimate the shift. x: the sorted finite
   differences; npos, nneg: the +inf and -inf ones. */
static double hl_estimate(const double *x, int k, int npos, int nneg) {
  /* averages: finite-finite k(k+1)/2; with +inf: npos*k + npos(npos+1)/2; with -inf likewise */
  const long ff = (long)k * (k + 1) / 2, pi = (long)npos * k + (long)npos * (npos + 1) / 2,
             ni = (long)nneg * k + (long)nneg * (nneg + 1) / 2, N = ff + pi + ni;
  if (N == 0) return NAN;
  /* sorted: ni of -inf, then ff finite, then pi of +inf */
  double m[2];
  long q[2] = {(N - 1) / 2, N / 2};
  for (int t = 0; t < 2; t++) {
    long r = q[t];
    m[t] = r < ni ? -INFINITY : r < ni + ff ? walsh_select(x, k, r - ni) : INFINITY;
  }
  double h = 0.5 * (m[0] + m[1]);
  return isfinite(h) ? h : NAN;
}

int stats_signed_rank(const double *d_in, int n, double grid, double level, SignedRank *o) {
  memset(o, 0, sizeof *o);
  o->n = n;
  o->estimate = o->lo = o->hi = o->p = o->p_min = NAN;
  double *d = malloc(sizeof(double) * (size_t)(n ? n : 1)), *x = malloc(sizeof(double) * (size_t)(n ? n : 1));
  Abs *v = malloc(sizeof(Abs) * (size_t)(n ? n : 1));
  long *r2 = malloc(sizeof(long) * (size_t)(n ? n : 1));
  int k = 0, npos = 0, nneg = 0; /* finite differences; censored ones of each sign */
  for (int i = 0; d && x && i < n; i++) {
    d[i] = isfinite(d_in[i]) && grid > 0 ? nearbyint(d_in[i] / grid) : d_in[i]; /* in units of the grid */
    o->undetermined += isnan(d[i]);
    o->worst += isinf(d[i]) != 0;
    npos += d[i] == INFINITY;
    nneg += d[i] == -INFINITY;
    if (isfinite(d[i])) x[k++] = d[i];
  }
  enum { WALSH_MAX = 4000 }; /* finite differences whose Walsh averages are formed (64 MB) */
  double *w = d && k <= WALSH_MAX ? malloc(sizeof(double) * ((size_t)k * (size_t)(k + 1) / 2 + 1)) : NULL;
  if (!d || !x || !v || !r2 || (k <= WALSH_MAX && !w)) {
    free(d); free(x); free(v); free(r2); free(w);
    return -1;
  }
  o->p = sr_p(d, n, 0.0, v, r2, &o->used, &o->zeros);
  o->p_floor = o->p <= STATS_P_FLOOR;
  o->exact = o->used <= STATS_EXACT_MAX;
  o->p_min = fmin(1.0, ldexp(2.0, -o->used));
  qsort(x, (size_t)k, sizeof(double), cmp_double);
  const double est = hl_estimate(x, k, npos, nneg);
  const SrCtx c = {d, n, v, r2, 1 - level};
  /* where the interval is sought from: the estimate, else (all censored) the middle of the data */
  const double from = isfinite(est) ? est : k ? x[k / 2] : 0.0;
  if (k == 0) { /* nothing finite: p does not move with theta */
    if (o->p >= 1 - level) o->lo = -INFINITY, o->hi = INFINITY;
    else o->lo = o->hi = censored_side(d, n, v, r2);
  } else if (w) {
    long K = 0;
    for (int i = 0; i < k; i++) /* Walsh averages (x_i + x_j) / 2, i <= j, of the finite differences */
      for (int j = i; j < k; j++) w[K++] = 0.5 * (x[i] + x[j]);
    qsort(w, (size_t)K, sizeof(double), cmp_double);
    long u = 0; /* distinct */
    for (long i = 0; i < K; i++)
      if (u == 0 || w[i] != w[u - 1]) w[u++] = w[i];
    sr_interval(&c, w, u, from, o->used <= STATS_EXACT_MAX, &o->lo, &o->hi, &o->lo_open, &o->hi_open);
  } else {
    sr_interval_theta(&c, x, k, from, &o->lo, &o->hi);
  }
  /* an estimate outside its own interval (censored pairs pull the interval, the estimate
     cannot follow): not estimable */
  o->estimate = isfinite(est) && est >= o->lo && est <= o->hi ? est : NAN;
  if (grid > 0) {
    o->estimate *= grid;
    o->lo *= grid;
    o->hi *= grid;
  }
  free(d);
  free(x);
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

/* Pool-adjacent-violators (Ayer et al. 1955; Barlow et al. 1972): the monotone (non-increasing
   when dir < 0, non-decreasing when dir > 0) least-squares fit of the finite y[i] at x[i]
   (x increasing; NULL: x[i] = i + 1) as blocks of equal fitted value; then the crossing of
   threshold by that fit read between block centres (the mean x of each block's points), by
   linear interpolation: a flat block's start would move earlier as noise lengthens the blocks,
   its centre does not. Returns the crossing x (fractional), or -1 when the fit never reaches
   threshold. */
double stats_isotonic_crossing(const float *y, const double *x, long n, int dir, double threshold) {
  typedef struct { double sum, xsum; long k; } Block;
  Block *b = malloc(sizeof(Block) * (size_t)(n > 0 ? n : 1));
  if (!b) return -1;
  long nb = 0;
  double first = -1; /* the first point's x: where a fit that starts at the threshold crosses */
  const double sgn = dir < 0 ? -1.0 : 1.0; /* fit sgn * y non-decreasing */
  for (long i = 0; i < n; i++) {
    if (!isfinite(y[i])) continue;
    if (first < 0) first = x ? x[i] : (double)(i + 1);
    b[nb++] = (Block){sgn * y[i], x ? x[i] : (double)(i + 1), 1};
    while (nb > 1 && b[nb - 2].sum / b[nb - 2].k > b[nb - 1].sum / b[nb - 1].k) { /* a violation: pool */
      b[nb - 2].sum += b[nb - 1].sum;
      b[nb - 2].xsum += b[nb - 1].xsum;
      b[nb - 2].k += b[nb - 1].k;
      nb--;
    }
  }
  const double t = sgn * threshold; /* reached: fitted sgn * y >= t */
  double at = -1;
  for (long j = 0; j < nb; j++) {
    const double m = b[j].sum / b[j].k, c = b[j].xsum / b[j].k;
    if (m < t) continue;
    if (j == 0) at = first;
    else {
      const double m0 = b[j - 1].sum / b[j - 1].k, c0 = b[j - 1].xsum / b[j - 1].k;
      at = c0 + (t - m0) / (m - m0) * (c - c0);
    }
    break;
  }
  free(b);
  return at;
}

/* ---- power of the test actually used, by simulation ---- */

static double std_normal(Rng *r) {
  double u1 = rng_uniform53(r), u2 = rng_uniform53(r);
  return sqrt(-2 * log(1 - u1)) * cos(6.283185307179586 * u2);
}

double stats_signed_rank_power(double sd, int n, int sd_from, double delta, double grid, double alpha, int draws,
                               uint64_t seed) {
  if (n <= 0 || draws <= 0 || !(sd >= 0) || !isfinite(delta)) return NAN;
  double *d = malloc(sizeof(double) * (size_t)n);
  Abs *v = malloc(sizeof(Abs) * (size_t)n);
  long *r2 = malloc(sizeof(long) * (size_t)n);
  int hits = 0;
  for (int k = 0; d && v && r2 && k < draws; k++) {
    Rng r;
    rng_init(&r, seed, (uint64_t)k); /* draw k: the same noise for every delta (common random numbers) */
    /* the sd as it may be, given its estimate from sd_from pairs: s sqrt((f - 1) / chi2(f - 1)) */
    double scale = 1;
    if (sd_from > 1) {
      double chi2 = 0;
      for (int j = 0; j < sd_from - 1; j++) {
        const double z = std_normal(&r);
        chi2 += z * z;
      }
      scale = sqrt((sd_from - 1) / fmax(chi2, 1e-12));
    }
    for (int i = 0; i < n; i++) {
      double x = delta + sd * scale * std_normal(&r);
      d[i] = grid > 0 ? nearbyint(x / grid) : x;
    }
    hits += sr_p(d, n, 0.0, v, r2, NULL, NULL) <= alpha;
  }
  int ok = d && v && r2;
  free(d);
  free(v);
  free(r2);
  return ok ? (double)hits / draws : NAN;
}

double stats_signed_rank_mde_sim(double sd, int n, int sd_from, double grid, double alpha, double power, int draws,
                                 uint64_t seed) {
  if (!(sd > 0) || n < min_pairs(alpha)) return INFINITY;
  double lo = 0, hi = sd;
  while (stats_signed_rank_power(sd, n, sd_from, hi, grid, alpha, draws, seed) < power)
    if ((hi *= 2) > 1e4 * sd) return INFINITY; /* ties or the grid keep it from ever rejecting */
  for (int it = 0; it < 40 && hi - lo > 1e-3 * sd; it++) {
    double mid = 0.5 * (lo + hi);
    if (stats_signed_rank_power(sd, n, sd_from, mid, grid, alpha, draws, seed) >= power) hi = mid;
    else lo = mid;
  }
  return hi;
}

int stats_signed_rank_pairs_sim(double sd, int sd_from, double delta, double grid, double alpha, double power,
                                int draws, uint64_t seed) {
  if (!(sd >= 0) || !(fabs(delta) > 0)) return -1;
  int lo = min_pairs(alpha), hi = lo;
  while (stats_signed_rank_power(sd, hi, sd_from, fabs(delta), grid, alpha, draws, seed) < power)
    if ((hi *= 2) > 20000) return -1;
  lo = hi / 2 < lo ? lo : hi / 2;
  while (lo < hi) { /* the fewest with power (near-monotone in n: a tie is settled by the search) */
    int mid = lo + (hi - lo) / 2;
    if (stats_signed_rank_power(sd, mid, sd_from, fabs(delta), grid, alpha, draws, seed) >= power) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

/* Tarone (1990): the smallest family size k such that at most k tests can reach alpha / k
   (p_min <= alpha / k); tests that cannot are left out of the family. */
int stats_tarone(const double *p_min, int n, double alpha) {
  for (int k = 1; k <= n; k++) {
    int can = 0;
    for (int i = 0; i < n; i++) can += p_min[i] <= alpha / k;
    if (can <= k) return k;
  }
  return n;
}
