/* Statistics for comparing groups of runs. */
#ifndef BS_STATS_H
#define BS_STATS_H
#include <stdint.h>

double stats_mean(const double *x, int n);
double stats_std(const double *x, int n); /* sample standard deviation (n - 1) */
double stats_median(const double *x, int n);
/* Two-sided p of the signed-rank test of d against 0: stats_signed_rank_p(d, n, 0). */
double stats_wilcoxon(const double *d, int n);
/* The Wilcoxon signed-rank test of paired differences, its Hodges–Lehmann estimate and the
   confidence interval that inverts it, so that estimate, interval and p always agree.
   d[i]: a difference (rounded to multiples of grid first when grid > 0, so that differences
   equal in the measurement's units tie exactly); +-INFINITY: a censored difference whose sign
   is known (worst-rank: tied above every finite one); NaN: undetermined, left out. Zeros follow
   Pratt (1959; SciPy's zero_method="pratt"): ranked with the others, then left out of W+ and of
   its sign distribution; with them the accepted shifts form one interval, so the test at 0
   rejects exactly when 0 is outside the interval (Wilcoxon's dropping of zeros breaks that).
   Ties get mid-ranks, and p comes from the exact permutation distribution of the mid-ranks for
   up to STATS_EXACT_MAX non-zero differences, else from the normal approximation with
   continuity correction, floored at STATS_P_FLOOR. */
enum { STATS_EXACT_MAX = 25 };
#define STATS_P_FLOOR 1e-300
typedef struct {
  int n;            /* differences given */
  int used;         /* non-zero, determinate: the signs of the test */
  int zeros, undetermined, worst; /* ranked but signless (0), dropped (NaN), at the worst rank (+-inf) */
  int exact;        /* 1: exact distribution; 0: normal approximation */
  double p;         /* two-sided; 1 when used == 0 */
  int p_floor;      /* 1: p is STATS_P_FLOOR, a bound: the true p is smaller */
  double p_min;     /* smallest p any data could give with `used` signs: 2 / 2^used */
  double estimate;  /* Hodges–Lehmann: median of the Walsh averages (censored ones included); NaN when
                       it is infinite or outside the interval: not estimable from the observed pairs */
  double lo, hi;    /* the shifts theta the test of d - theta does not reject at 1 - level (may be +-inf;
                       lo = hi = +-inf: every shift rejected, the censored signs decide) */
  int lo_open, hi_open; /* 1: that end itself is rejected (the interval is open there) */
} SignedRank;
int stats_signed_rank(const double *d, int n, double grid, double level, SignedRank *out);
/* The two-sided p of the signed-rank test of d - theta (d as above, already on its grid). */
double stats_signed_rank_p(const double *d, int n, double theta);

/* Holm's step-down adjustment of p[0..n) into adj (NaN entries skipped and not counted). */
void stats_holm(const double *p, int n, double *adj);
/* The standard normal quantile (0 < q < 1). */
double stats_norm_quantile(double q);
/* Power of the signed-rank test, from the normal approximation with the test's efficiency
   3/pi relative to the paired t-test (exact for normal differences, asymptotically): the
   smallest shift detectable with probability `power` at two-sided level alpha with n pairs
   whose differences have standard deviation sd, and the pairs needed for a shift delta. Both
   respect that no n with 2 / 2^n > alpha can reject (INFINITY / that floor). */
double stats_signed_rank_mde(double sd, int n, double alpha, double power);
int stats_signed_rank_pairs(double sd, double delta, double alpha, double power);
/* Power of the signed-rank test as src/stats.c runs it (Pratt's zeros, exact up to
   STATS_EXACT_MAX, the differences rounded to grid when grid > 0), by simulation: the share of
   `draws` sets of n differences delta + sd' * z (z standard normal, Philox stream k of seed for
   set k: the same noise for every delta) whose p <= alpha. sd' allows for sd being estimated
   from sd_from pairs: sd sqrt((f - 1) / chi2_{f-1}) drawn per set (the expected power over what
   the sd may be; sd_from <= 1: sd' = sd). Monte-Carlo error about sqrt(power (1 - power) / draws). */
double stats_signed_rank_power(double sd, int n, int sd_from, double delta, double grid, double alpha, int draws,
                               uint64_t seed);
/* The smallest shift detected with probability `power` (bisection over the simulated power;
   INFINITY when no shift is: too few pairs for alpha), and the fewest pairs for shift delta
   (-1: more than 20,000). */
double stats_signed_rank_mde_sim(double sd, int n, int sd_from, double grid, double alpha, double power, int draws,
                                 uint64_t seed);
int stats_signed_rank_pairs_sim(double sd, int sd_from, double delta, double grid, double alpha, double power,
                                int draws, uint64_t seed);
/* Tarone's family size for discrete tests of smallest attainable p p_min[0..n) at level alpha. */
int stats_tarone(const double *p_min, int n, double alpha);

/* Spearman's rank correlation of (x, y) over pairs where both are finite (mid-ranks), and its
   two-sided p from Student's t with n - 2 degrees of freedom (as scipy.stats.spearmanr). *used:
   pairs counted. rho NaN when fewer than 3 or either side is constant. */
void stats_spearman(const double *x, const double *y, int n, double *rho, double *p, int *used);

/* The crossing of threshold by the monotone least-squares fit of y (isotonic regression,
   non-increasing for dir < 0, non-decreasing for dir > 0) at x (NULL: 1, 2, ...), interpolated
   between the fit's block centres; -1 when never. The report's speed measure: unlike the first
   crossing of a moving average, noise does not move it earlier (docs/decisions.md). */
double stats_isotonic_crossing(const float *y, const double *x, long n, int dir, double threshold);

/* Steps until a moving average (window w) of y[0..n) first falls to threshold; -1 if never. */
long stats_first_below(const float *y, long n, int w, double threshold);

#endif
