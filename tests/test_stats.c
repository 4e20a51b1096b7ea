/* Statistics against values worked out by hand (and as scipy.stats.wilcoxon reports them). */
#include "src/stats.h"
#include "tests/check.h"

int main(void) {
  double a[5] = {1, 2, 3, 4, 5};
  CHECK(fabs(stats_wilcoxon(a, 5) - 0.0625) < 1e-12, "wilcoxon all-positive n=5: %g", stats_wilcoxon(a, 5));
  double b[8] = {1.5, -2, 3, 4, -5, 6, 7, 8}; /* W- = 7: 19 of 256 subsets have sum <= 7 */
  CHECK(fabs(stats_wilcoxon(b, 8) - 2.0 * 19 / 256) < 1e-12, "wilcoxon n=8: %g", stats_wilcoxon(b, 8));
  double c[10];
  for (int i = 0; i < 10; i++) c[i] = -(i + 1) * 0.1;
  CHECK(fabs(stats_wilcoxon(c, 10) - 2.0 / 1024) < 1e-12, "wilcoxon all-negative n=10");
  double z[4] = {0, 0, 0, 0};
  CHECK(stats_wilcoxon(z, 4) == 1.0, "all-zero differences must give p = 1");
  /* ties -> normal approximation: d = 1,1,1,1,2,2,-3 ... computed from the formula by hand */
  double t[7] = {1, 1, 1, 1, 2, 2, -3};
  /* ranks: 1s -> 2.5, 2s -> 5.5, 3 -> 7; W+ = 4*2.5 + 2*5.5 = 21; mu = 14; var = 35 - (60+6)/48 */
  double var = 7 * 8 * 15 / 24.0 - (60.0 + 6.0) / 48.0, zz = (fabs(21 - 14.0) - 0.5) / sqrt(var);
  CHECK(fabs(stats_wilcoxon(t, 7) - erfc(zz / sqrt(2.0))) < 1e-12, "wilcoxon with ties: %g", stats_wilcoxon(t, 7));

  double x[6] = {3, 1, 4, 1, 5, 9};
  CHECK(fabs(stats_mean(x, 6) - 23.0 / 6) < 1e-12, "mean");
  CHECK(fabs(stats_median(x, 6) - 3.5) < 1e-12, "median %g", stats_median(x, 6));
  CHECK(fabs(stats_std(x, 6) - sqrt(44.833333333333336 / 5)) < 1e-12, "std %.17g", stats_std(x, 6));
  double lo, hi;
  stats_bootstrap_ci(x, 6, 5000, 0.95, 1, &lo, &hi);
  CHECK(lo < stats_mean(x, 6) && hi > stats_mean(x, 6) && lo >= 1 && hi <= 9 && hi - lo > 1, "bootstrap CI [%g, %g]", lo, hi);
  double lo2, hi2;
  stats_bootstrap_ci(x, 6, 5000, 0.95, 1, &lo2, &hi2);
  CHECK(lo == lo2 && hi == hi2, "bootstrap not deterministic for a fixed seed");
  float y[8] = {5, 4, 3, 2, 1, 0.5f, 0.4f, 0.3f};
  CHECK(stats_first_below(y, 8, 1, 2.0) == 4, "first_below w=1: %ld", stats_first_below(y, 8, 1, 2.0));
  CHECK(stats_first_below(y, 8, 2, 2.0) == 5, "first_below w=2: %ld", stats_first_below(y, 8, 2, 2.0));
  CHECK(stats_first_below(y, 8, 2, 0.1) == -1, "first_below never");
  return check_done();
}
