/* Statistics against values worked out by hand (and as scipy.stats reports them). With
   arguments, a case runner for tests/stats_scipy.py: `test_stats --cases` reads lines
   "grid n d1 ... dn" (inf, -inf, nan allowed) and prints "used p estimate lo hi" per line. */
#include <string.h>
#include "src/stats.h"
#include "tests/check.h"

static int run_cases(void) {
  double grid, d[4096];
  int n;
  while (scanf("%lf %d", &grid, &n) == 2) {
    if (n < 0 || n > 4096) return 2;
    for (int i = 0; i < n; i++)
      if (scanf("%lf", &d[i]) != 1) return 2;
    SignedRank s;
    if (stats_signed_rank(d, n, grid, 0.95, &s)) return 3;
    printf("%d %.17g %.17g %.17g %.17g\n", s.used, s.p, s.estimate, s.lo, s.hi);
  }
  return 0;
}

static void signed_rank_by_hand(void) {
  double a[5] = {1, 2, 3, 4, 5};
  CHECK(fabs(stats_wilcoxon(a, 5) - 0.0625) < 1e-12, "wilcoxon all-positive n=5: %g", stats_wilcoxon(a, 5));
  double b[8] = {1.5, -2, 3, 4, -5, 6, 7, 8}; /* W- = 7: 19 of 256 subsets have sum <= 7 */
  CHECK(fabs(stats_wilcoxon(b, 8) - 2.0 * 19 / 256) < 1e-12, "wilcoxon n=8: %g", stats_wilcoxon(b, 8));
  double c[10];
  for (int i = 0; i < 10; i++) c[i] = -(i + 1) * 0.1;
  CHECK(fabs(stats_wilcoxon(c, 10) - 2.0 / 1024) < 1e-12, "wilcoxon all-negative n=10");
  double z[4] = {0, 0, 0, 0};
  CHECK(stats_wilcoxon(z, 4) == 1.0, "all-zero differences must give p = 1");
  /* ties, exact: d = 1,1,1,1,2,2,-3: mid-ranks 2.5 x4, 5.5 x2, 7; W+ = 21 of a total 28; the
     sign patterns with W+ >= 21 are those whose negatives sum to <= 7 over {2.5 x4, 5.5 x2, 7}:
     {} 1, {2.5} 4, {2.5,2.5} 6, {5.5} 2, {7} 1 -> 14 of 128; two-sided 28/128 */
  double t[7] = {1, 1, 1, 1, 2, 2, -3};
  CHECK(fabs(stats_wilcoxon(t, 7) - 28.0 / 128) < 1e-12, "wilcoxon with ties (exact): %g", stats_wilcoxon(t, 7));
  /* the l3 finding: 5 tied pairs all one way can never reach p < 0.0625 */
  double l3[5] = {-48, -48, -48, -96, -48};
  CHECK(fabs(stats_wilcoxon(l3, 5) - 0.0625) < 1e-12, "5 tied pairs: %g", stats_wilcoxon(l3, 5));

  /* 10 pairs all negative: p = 2/1024 exactly, HL = median of Walsh averages, and the 95%
     interval excludes 0: with n = 10 the exact critical W is 8 (P(W <= 8) = 0.0244), so the
     interval is [W_(9), W_(47)] of the 55 sorted Walsh averages */
  double ten[10] = {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10};
  SignedRank s;
  CHECK(stats_signed_rank(ten, 10, 1, 0.95, &s) == 0, "signed_rank");
  CHECK(s.p == 2.0 / 1024 && s.used == 10 && s.exact, "10 one-way pairs: p %.17g used %d", s.p, s.used);
  CHECK(s.estimate == -5.5, "HL of -1..-10: %g", s.estimate);
  double w[55];
  int k = 0;
  for (int i = 0; i < 10; i++)
    for (int j = i; j < 10; j++) w[k++] = 0.5 * (ten[i] + ten[j]);
  for (int i = 1; i < 55; i++) /* sort */
    for (int j = i; j > 0 && w[j] < w[j - 1]; j--) { double x = w[j]; w[j] = w[j - 1]; w[j - 1] = x; }
  CHECK(s.lo == w[8] && s.hi == w[46] && s.hi < 0, "HL interval [%g, %g], expected [%g, %g]", s.lo, s.hi, w[8], w[46]);
  CHECK(fabs(s.p_min - 2.0 / 1024) < 1e-15, "p_min %g", s.p_min);

  /* 3 pairs: nothing rejects; the interval is the whole line */
  double three[3] = {5, 6, 7};
  stats_signed_rank(three, 3, 1, 0.95, &s);
  CHECK(s.p == 0.25 && s.p_min == 0.25 && isinf(s.lo) && s.lo < 0 && isinf(s.hi) && s.hi > 0,
        "3 pairs: p %g, [%g, %g]", s.p, s.lo, s.hi);

  /* the grid: differences equal in counts tie exactly though they differ as doubles */
  double acc[6] = {1.0 / 600 + 1e-9, 1.0 / 600 - 2e-9, 2.0 / 600, 2.0 / 600 + 3e-9, 3.0 / 600, -1.0 / 600};
  double units[6] = {1, 1, 2, 2, 3, -1};
  SignedRank g1, g2;
  stats_signed_rank(acc, 6, 1.0 / 600, 0.95, &g1);
  stats_signed_rank(units, 6, 1, 0.95, &g2);
  CHECK(g1.p == g2.p && fabs(g1.estimate * 600 - g2.estimate) < 1e-9, "grid rounding: p %g vs %g", g1.p, g2.p);

  /* censoring, worst rank: a run that never reached the target while its pair did ranks above
     every finite difference, with its known sign; both censored: undetermined, dropped */
  double cens[8] = {10, 20, 30, 40, 50, INFINITY, INFINITY, NAN};
  stats_signed_rank(cens, 8, 1, 0.95, &s);
  CHECK(s.used == 7 && s.worst == 2 && s.undetermined == 1 && s.p == 2.0 / 128, "censored: used %d worst %d p %g",
        s.used, s.worst, s.p);
  /* the estimate counts the censored pairs too: 28 Walsh averages, 15 finite then 13 infinite;
     the middle two are the 14th and 15th finite ones of 10..50 (45, 50) */
  CHECK(s.estimate == 47.5 && s.lo > 0 && s.hi == INFINITY && s.estimate >= s.lo, "censored estimate %g, [%g, %g]",
        s.estimate, s.lo, s.hi);
  /* six of ten never reach the target: the estimate would be infinite: not estimable */
  double most[10] = {-17, -20, -12, -25, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
  stats_signed_rank(most, 10, 1, 0.95, &s);
  CHECK(isnan(s.estimate) && s.hi == INFINITY, "mostly censored: estimate %g [%g, %g]", s.estimate, s.lo, s.hi);

  /* Pratt's zeros (the example): p(theta) falls monotonically as the shift passes the
     zero at 7 (Wilcoxon's dropping gave p(7) = 0.055 > p(6) = 0.049); the interval's upper
     end is the Walsh average 5.5, where p = 33/512 still accepts, closed */
  double pz[10] = {-21, -13, -11, -7, -4, -1, 0, 4, 7, 22};
  CHECK(stats_signed_rank_p(pz, 10, 0) == 468.0 / 1024 && stats_signed_rank_p(pz, 10, 5.5) == 33.0 / 512 &&
            stats_signed_rank_p(pz, 10, 6) == 50.0 / 1024 && stats_signed_rank_p(pz, 10, 7) == 22.0 / 512 &&
            stats_signed_rank_p(pz, 10, 7.25) == 38.0 / 1024,
        "Pratt p(0, 5.5, 6, 7, 7.25) = %.9g %.9g %.9g %.9g %.9g", stats_signed_rank_p(pz, 10, 0),
        stats_signed_rank_p(pz, 10, 5.5), stats_signed_rank_p(pz, 10, 6), stats_signed_rank_p(pz, 10, 7),
        stats_signed_rank_p(pz, 10, 7.25));
  stats_signed_rank(pz, 10, 1, 0.95, &s);
  CHECK(s.hi == 5.5 && !s.hi_open && s.zeros == 1 && s.used == 9, "Pratt interval [%g, %g] (open %d), zeros %d",
        s.lo, s.hi, s.hi_open, s.zeros);
  double stuck[10];
  for (int i = 0; i < 10; i++) stuck[i] = INFINITY;
  stats_signed_rank(stuck, 10, 1, 0.95, &s);
  CHECK(s.p == 2.0 / 1024 && s.lo == INFINITY && s.hi == INFINITY && isnan(s.estimate),
        "all censored one way: p %g [%g, %g] est %g", s.p, s.lo, s.hi, s.estimate);
}

/* Any number of pairs (the item 8): an 8-step effect with noise of sd ~10 steps,
   rounded to steps, at 26 to 5,000 pairs: a finite interval around the estimate, excluding 0,
   p > 0 (at 5,000 pairs the floor 1e-300, flagged), and no Walsh averages stored past 4,000. */
static void large_samples(void) {
  static double d[5000];
  unsigned long long st = 20261207;
  for (int i = 0; i < 5000; i++) {
    double u = 0;
    for (int k = 0; k < 12; k++) { /* Irwin-Hall: ~N(6, 1) */
      st = st * 6364136223846793005ULL + 1442695040888963407ULL;
      u += (double)(st >> 11) / 9007199254740992.0;
    }
    d[i] = nearbyint(-8 + 10 * (u - 6));
  }
  const int ns[4] = {26, 300, 1000, 5000};
  for (int t = 0; t < 4; t++) {
    SignedRank s;
    CHECK(stats_signed_rank(d, ns[t], 1, 0.95, &s) == 0, "signed_rank n=%d", ns[t]);
    CHECK(isfinite(s.lo) && isfinite(s.hi) && s.lo <= s.estimate && s.estimate <= s.hi && s.hi < 0 && s.p > 0 &&
              fabs(s.estimate + 8) < (t == 0 ? 6 : 2),
          "n=%d: shift %g [%g, %g], p %g", ns[t], s.estimate, s.lo, s.hi, s.p);
    if (ns[t] == 5000) CHECK(s.p_floor && s.p == STATS_P_FLOOR, "n=5000: p %g is the floor, flagged %d", s.p, s.p_floor);
  }
}

static void holm_power_spearman(void) {
  double p[5] = {0.01, 0.04, NAN, 0.03, 0.5}, adj[5];
  stats_holm(p, 5, adj); /* m = 4: 0.01*4 = 0.04; 0.03*3 = 0.09; 0.04*2 = 0.08 -> 0.09 (monotone); 0.5 */
  CHECK(fabs(adj[0] - 0.04) < 1e-15 && fabs(adj[3] - 0.09) < 1e-15 && fabs(adj[1] - 0.09) < 1e-15 &&
            fabs(adj[4] - 0.5) < 1e-15 && isnan(adj[2]),
        "holm %g %g %g %g %g", adj[0], adj[1], adj[2], adj[3], adj[4]);
  CHECK(fabs(stats_norm_quantile(0.975) - 1.959963984540054) < 1e-12, "z 0.975 %.15g", stats_norm_quantile(0.975));
  CHECK(fabs(stats_norm_quantile(0.8) - 0.8416212335729143) < 1e-12, "z 0.8");
  /* sd 30, 10 pairs, alpha 0.05: (1.95996 + 0.84162) * 30 / sqrt(10 * 3 / pi) */
  double mde = stats_signed_rank_mde(30, 10, 0.05, 0.8);
  CHECK(fabs(mde - (1.959963984540054 + 0.8416212335729143) * 30 / sqrt(10 * 3 / 3.14159265358979323846)) < 1e-9, "mde %.10g", mde);
  CHECK(isinf(stats_signed_rank_mde(30, 5, 0.05, 0.8)), "5 pairs cannot reach 0.05");
  /* delta 20: ((2.80158 * 30 / 20)^2 * pi / 3 = 18.49 -> 19 */
  CHECK(stats_signed_rank_pairs(30, 20, 0.05, 0.8) == 19, "pairs %d", stats_signed_rank_pairs(30, 20, 0.05, 0.8));
  CHECK(stats_signed_rank_pairs(1, 100, 0.05, 0.8) == 6, "floor of 6 pairs: %d", stats_signed_rank_pairs(1, 100, 0.05, 0.8));
  double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {2, 1, 4, 3, 6, 5}, rho, pp;
  int used;
  stats_spearman(x, y, 6, &rho, &pp, &used); /* scipy.stats.spearmanr: 0.8285714285714287, p 0.04156268221574334 */
  CHECK(used == 6 && fabs(rho - 0.8285714285714287) < 1e-12 && fabs(pp - 0.04156268221574334) < 1e-9,
        "spearman %.16g p %.16g", rho, pp);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--cases") == 0) return run_cases();
  signed_rank_by_hand();
  large_samples();
  holm_power_spearman();
  double x[6] = {3, 1, 4, 1, 5, 9};
  CHECK(fabs(stats_mean(x, 6) - 23.0 / 6) < 1e-12, "mean");
  CHECK(fabs(stats_median(x, 6) - 3.5) < 1e-12, "median %g", stats_median(x, 6));
  CHECK(fabs(stats_std(x, 6) - sqrt(44.833333333333336 / 5)) < 1e-12, "std %.17g", stats_std(x, 6));
  float y[8] = {5, 4, 3, 2, 1, 0.5f, 0.4f, 0.3f};
  CHECK(stats_first_below(y, 8, 1, 2.0) == 4, "first_below w=1: %ld", stats_first_below(y, 8, 1, 2.0));
  CHECK(stats_first_below(y, 8, 2, 2.0) == 5, "first_below w=2: %ld", stats_first_below(y, 8, 2, 2.0));
  CHECK(stats_first_below(y, 8, 2, 0.1) == -1, "first_below never");
  return check_done();
}
