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

void stats_bootstrap_ci(const double *x, int n, int iters, double level, uint64_t seed, double *lo, double *hi) {
  stats_bootstrap_ci_stat(x, n, iters, level, seed, 0, lo, hi);
}

void stats_bootstrap_ci_stat(const double *x, int n, int iters, double level, uint64_t seed, int median, double *lo,
                             double *hi) {
  *lo = *hi = NAN;
  double *means = n > 0 ? malloc(sizeof(double) * (size_t)iters) : NULL, *sample = n > 0 ? malloc(sizeof(double) * (size_t)n) : NULL;
  if (!means || !sample) { free(means); free(sample); return; }
  Rng r;
  rng_init(&r, seed, 0xB007ull);
  int kept = 0;
  for (int it = 0; it < iters; it++) {
    for (int i = 0; i < n; i++) sample[i] = x[rng_below(&r, (uint32_t)n)];
    double v = median ? stats_median(sample, n) : stats_mean(sample, n);
    if (isfinite(v)) means[kept++] = v;
  }
  free(sample);
  iters = kept;
  if (!iters) { free(means); return; }
  qsort(means, (size_t)iters, sizeof(double), cmp_double);
  double a = (1 - level) / 2;
  *lo = means[(int)floor(a * (iters - 1))];
  *hi = means[(int)ceil((1 - a) * (iters - 1))];
  free(means);
}

typedef struct {
  double a;
  int neg;
} Abs;

static int cmp_abs(const void *p, const void *q) {
  double x = ((const Abs *)p)->a, y = ((const Abs *)q)->a;
  return x < y ? -1 : x > y;
}

/* Exact two-sided p of W+ = w for n untied ranks 1..n: count subsets by rank sum. */
static double exact_p(int n, double w) {
  int max = n * (n + 1) / 2;
  double *cnt = calloc((size_t)max + 1, sizeof(double));
  if (!cnt) return NAN;
  cnt[0] = 1;
  for (int k = 1; k <= n; k++)
    for (int s = max; s >= k; s--) cnt[s] += cnt[s - k];
  double total = ldexp(1.0, n), le = 0, ge = 0;
  for (int s = 0; s <= max; s++) {
    if (s <= w + 1e-9) le += cnt[s];
    if (s >= w - 1e-9) ge += cnt[s];
  }
  free(cnt);
  double p = 2 * (le < ge ? le : ge) / total;
  return p > 1 ? 1 : p;
}

double stats_wilcoxon(const double *d, int n) {
  Abs *v = malloc(sizeof(Abs) * (size_t)(n ? n : 1));
  if (!v) return NAN;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (d[i] != 0 && !isnan(d[i])) v[m++] = (Abs){fabs(d[i]), d[i] < 0};
  if (m == 0) { free(v); return 1.0; }
  qsort(v, (size_t)m, sizeof(Abs), cmp_abs);
  double wplus = 0, tie_term = 0;
  int ties = 0;
  for (int i = 0; i < m;) {
    int j = i;
    while (j < m && v[j].a == v[i].a) j++;
    double rank = 0.5 * (i + 1 + j); /* average of ranks i+1..j */
    for (int k = i; k < j; k++)
      if (!v[k].neg) wplus += rank;
    int t = j - i;
    if (t > 1) { ties = 1; tie_term += (double)t * t * t - t; }
    i = j;
  }
  free(v);
  if (m <= 25 && !ties) return exact_p(m, wplus);
  double mu = m * (m + 1) / 4.0, var = m * (m + 1) * (2.0 * m + 1) / 24.0 - tie_term / 48.0;
  if (var <= 0) return 1.0;
  double z = (fabs(wplus - mu) - 0.5) / sqrt(var);
  if (z < 0) z = 0;
  return erfc(z / sqrt(2.0));
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
