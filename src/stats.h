/* Statistics for comparing groups of runs. */
#ifndef BS_STATS_H
#define BS_STATS_H
#include <stdint.h>

double stats_mean(const double *x, int n);
double stats_std(const double *x, int n); /* sample standard deviation (n - 1) */
double stats_median(const double *x, int n);
/* Percentile bootstrap confidence interval of the mean of x (level e.g. 0.95). */
void stats_bootstrap_ci(const double *x, int n, int iters, double level, uint64_t seed, double *lo, double *hi);
/* The same for the mean (median 0) or the median (median 1); non-finite values skipped. */
void stats_bootstrap_ci_stat(const double *x, int n, int iters, double level, uint64_t seed, int median, double *lo,
                             double *hi);
/* Two-sided Wilcoxon signed-rank test of paired differences d against 0 (zeros dropped, ties
   get average ranks): exact for up to 25 non-zero differences without ties, else the normal
   approximation with tie correction and continuity correction. Returns the p-value (1 when
   no non-zero differences). */
double stats_wilcoxon(const double *d, int n);
/* Steps until a moving average (window w) of y[0..n) first falls to threshold; -1 if never. */
long stats_first_below(const float *y, long n, int w, double threshold);

#endif
