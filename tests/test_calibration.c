/* Known-truth sweeps by the thousand through the report's analysis (report/analysis.c, the
   code `bertsweep report` runs), the metrics written directly: two groups paired by seed,
   decaying training-loss curves with autocorrelated noise whose size follows the loss level,
   a per-seed speed shared by both groups, dev accuracy and loss at every 10th step. Checked,
   each with the count of sweeps and a 95% (Wilson) interval printed:

   A rate "<= 5%" holds when its 95% interval reaches 5% or lies below (the counts cannot tell a
   true 5% from 5.5%; they tell 7% from 5% at these counts: the failures were 7-33%).

   - no true difference: the share of reports with any verdict at all <= 5% (6, 10, 20 pairs);
   - the shift the power line claims is detected 80% of the time: detected >= 75% (6, 8, 12);
   - the same loss trend, one group noisier (x1.5, x2): called faster or slower <= 5%;
   - a genuinely faster group (and one faster and noisier): detected (the power is printed);
   - every estimate inside its interval; every verdict's interval excludes 0;
   - `--table`: the candidate speed measures compared on the same sweeps (docs/decisions.md).

   Deterministic (Philox streams of fixed seeds): the same counts every run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/analysis.h"
#include "report/report.h"
#include "src/rng.h"
#include "tests/check.h"

enum { T = 300, E = 30, EVERY = 10 };

typedef struct {
  int pairs;
  double noise_b; /* group B's noise relative to A's */
  double ahead_b; /* steps B's curve is ahead of A's (its loss at t is A's at t + ahead) */
} Scenario;

static double normal(Rng *r) {
  double u1 = rng_uniform53(r), u2 = rng_uniform53(r);
  return sqrt(-2 * log(1 - u1)) * cos(6.283185307179586 * u2);
}

/* One sweep's data in memory, as results_load would give it. */
typedef struct {
  ResultsData d;
  char *vals[2];
  char **rowvals[64];
} Sweep2;

static void sweep_free2(Sweep2 *s) {
  free(s->d.seed);
  free(s->d.status);
  free(s->d.total_steps);
  free(s->d.steps_done);
  free(s->d.best_acc);
  free(s->d.final_acc);
  free(s->d.majority);
  free(s->d.bow);
  free(s->d.unk);
  free(s->d.labels);
  for (int k = 0; k < NMETRICS; k++) free(s->d.metric[k].f), free(s->d.metric[k].i);
  free(s->d.values);
  free(s->d.error);
}

static void make_sweep(Sweep2 *s, const Scenario *sc, uint64_t seed) {
  memset(s, 0, sizeof *s);
  ResultsData *d = &s->d;
  const int n = 2 * sc->pairs;
  d->nruns = n;
  d->ncols = 1;
  d->max_steps = T;
  d->max_evals = E;
  snprintf(d->colname[0], sizeof d->colname[0], "optimizer.correct_bias");
  d->coltype[0] = VT_BOOL;
  s->vals[0] = "true";
  s->vals[1] = "false";
  d->values = calloc((size_t)n, sizeof(char **));
  d->seed = calloc((size_t)n, sizeof(int));
  d->status = calloc((size_t)n, sizeof *d->status);
  d->total_steps = calloc((size_t)n, sizeof(long));
  d->steps_done = calloc((size_t)n, sizeof(long));
  d->best_acc = calloc((size_t)n, sizeof(double));
  d->final_acc = calloc((size_t)n, sizeof(double));
  d->majority = calloc((size_t)n, sizeof(double));
  d->bow = calloc((size_t)n, sizeof(double));
  d->unk = calloc((size_t)n, sizeof(double));
  d->labels = calloc((size_t)n, sizeof(int));
  if (results_metrics_alloc(d)) abort();
  float *loss = d->metric[DS_LOSS].f, *accs = d->metric[DS_ACC].f, *eloss = d->metric[DS_ELOSS].f;
  long *estep = d->metric[DS_ESTEP].i;
  d->error = calloc((size_t)n, sizeof *d->error);
  for (int p = 0; p < sc->pairs; p++) {
    Rng shared;
    rng_init(&shared, seed, 1000000 + (uint64_t)p);
    const double tau = 60 * exp(0.15 * normal(&shared)); /* the seed's own speed, both groups */
    for (int g = 0; g < 2; g++) {
      const int r = g * sc->pairs + p;
      Rng rng;
      rng_init(&rng, seed, (uint64_t)r);
      s->rowvals[r] = &s->vals[g];
      d->values[r] = s->rowvals[r];
      d->seed[r] = p + 1;
      snprintf(d->status[r], STATUS_LEN, "done");
      d->total_steps[r] = d->steps_done[r] = T;
      d->majority[r] = 0.34;
      d->bow[r] = 0.5;
      d->unk[r] = NAN;
      d->labels[r] = 3;
      const double k = g ? sc->noise_b : 1.0, ahead = g ? sc->ahead_b : 0.0, phi = 0.6;
      double e = 0, best = 0;
      for (int t = 0; t < T; t++) {
        const double level = 0.35 + 0.75 * exp(-(t + 1 + ahead) / tau);
        e = phi * e + sqrt(1 - phi * phi) * 0.12 * k * level * normal(&rng); /* AR(1), level-dependent */
        loss[(size_t)r * T + t] = (float)fmax(0.01, level + e);
      }
      for (int j = 0; j < E; j++) {
        const int t = (j + 1) * EVERY;
        const double a = 0.34 + 0.5 * (1 - exp(-(t + ahead) / tau)) + 0.02 * k * normal(&rng);
        const float acc = (float)(nearbyint(fmin(1, fmax(0, a)) * 200) / 200); /* 200 dev examples */
        accs[(size_t)r * E + j] = acc;
        estep[(size_t)r * E + j] = t;
        eloss[(size_t)r * E + j] = (float)(0.45 + 0.7 * exp(-(t + ahead) / tau) + 0.03 * k * normal(&rng));
        best = fmax(best, acc);
      }
      d->best_acc[r] = best;
      d->final_acc[r] = accs[(size_t)r * E + E - 1];
    }
  }
}

typedef struct {
  int sweeps, any, primary, faster, outside, bad_verdict;
  double mde_sum;
  int mde_n;
} Tally;

static void wilson(int k, int n, double *lo, double *hi) {
  const double z = 1.959963984540054, p = n ? (double)k / n : 0, z2 = z * z / n;
  const double c = (p + z2 / 2) / (1 + z2), h = z * sqrt(p * (1 - p) / n + z2 / (4.0 * n)) / (1 + z2);
  *lo = fmax(0, c - h);
  *hi = fmin(1, c + h);
}

/* Runs `sweeps` sweeps of the scenario through analysis_run and analysis_adjust. */
static void run_scenario(const Scenario *sc, int sweeps, int power_draws, uint64_t seed0, Tally *t) {
  memset(t, 0, sizeof *t);
  ReportOptions ro;
  report_defaults(&ro);
  ro.a.power_draws = power_draws;
  for (int k = 0; k < sweeps; k++) {
    Sweep2 s;
    make_sweep(&s, sc, seed0 + (uint64_t)k);
    Analysis A;
    Err e = {{0}, 0};
    if (analysis_run(&A, &s.d, &ro.a, &e)) {
      CHECK(0, "analysis_run: %s", e.msg);
      sweep_free2(&s);
      return;
    }
    int mp, ms, gate;
    analysis_adjust(&A, 1, &mp, &ms, &gate);
    t->sweeps++;
    int any = 0;
    for (int c = 0; c < A.nc; c++) {
      const Comparison *cp = &A.c[c];
      for (int o = 0; o < NOUTCOMES; o++) {
        const Outcome *out = &cp->out[o];
        any |= out->verdict == 1 || out->verdict == -1;
        t->outside += isfinite(out->t.estimate) && !(out->t.lo <= out->t.estimate && out->t.estimate <= out->t.hi);
        /* a verdict's interval excludes 0 (its side is the verdict's direction) */
        if (out->verdict == 1) t->bad_verdict += !(out->t.lo > 0 || (out->t.lo == 0 && out->t.lo_open));
        if (out->verdict == -1) t->bad_verdict += !(out->t.hi < 0 || (out->t.hi == 0 && out->t.hi_open));
        t->bad_verdict += out->verdict == 3;
      }
      const int v = cp->out[O_LOSS_SPEED].verdict;
      t->primary += v == 1 || v == -1;
      t->faster += v == -1; /* B ("false", the second group) needs fewer steps */
      if (isfinite(cp->mde)) {
        t->mde_sum += cp->mde;
        t->mde_n++;
      }
    }
    t->any += any;
    analysis_free(&A);
    sweep_free2(&s);
  }
}

/* 1 when k of n is consistent with a rate of at most r: the interval's lower end <= r */
static int at_most(int k, int n, double r) {
  double lo, hi;
  wilson(k, n, &lo, &hi);
  return lo <= r;
}

static void show(const char *what, int k, int n) {
  double lo, hi;
  wilson(k, n, &lo, &hi);
  printf("  %-58s %4d / %4d = %5.1f%%  (95%% CI %4.1f-%4.1f%%)\n", what, k, n, 100.0 * k / n, 100 * lo, 100 * hi);
}

/* The candidate speed measures, per run: steps to the target. */
static double measure(int which, const float *y, double target) {
  switch (which) {
  case 0: return (double)stats_first_below(y, T, 10, target); /* first crossing of a 10-step moving average */
  case 1: { /* the first step from which the moving average stays below */
    long last = -1;
    double s = 0;
    for (long i = 0; i < T; i++) {
      s += y[i];
      if (i >= 10) s -= y[i - 10];
      if (i + 1 >= 10 && s / 10 > target) last = i;
    }
    return last + 2 <= T ? (double)(last + 2) : -1;
  }
  case 2: return (double)stats_first_below(y, T, 40, target); /* a longer window */
  default: return stats_isotonic_crossing(y, NULL, T, -1, target); /* the isotonic fit's crossing */
  }
}

static void candidates_table(void) {
  static const char *const NAME[4] = {"first crossing, 10-step moving average (before)", "stays below, 10-step moving average",
                                      "first crossing, 40-step moving average", "isotonic fit crossing (chosen)"};
  static const Scenario SC[6] = {{10, 1, 0}, {10, 1.5, 0}, {10, 2, 0}, {10, 3, 0}, {10, 1, 12}, {10, 2, 12}};
  static const char *const SCN[6] = {"same", "noise x1.5", "noise x2", "noise x3", "12 steps faster", "faster, noise x2"};
  enum { SWEEPS = 400 };
  printf("| measure | %s | %s | %s | %s | %s | %s |\n|---|---|---|---|---|---|---|\n", SCN[0], SCN[1], SCN[2], SCN[3],
         SCN[4], SCN[5]);
  for (int m = 0; m < 4; m++) {
    printf("| %s |", NAME[m]);
    for (int k = 0; k < 6; k++) {
      int faster = 0, slower = 0;
      for (int w = 0; w < SWEEPS; w++) {
        Sweep2 s;
        make_sweep(&s, &SC[k], 777000 + (uint64_t)w);
        double target = 0, dd[64];
        for (int r = 0; r < s.d.nruns; r++) /* midway between the pooled first 5% and last 10% */
          for (int t = 0; t < T; t++) {
            const float y = s.d.metric[DS_LOSS].f[(size_t)r * T + t];
            if (t < T / 20) target += 0.5 * y / (s.d.nruns * (T / 20));
            if (t >= T - T / 10) target += 0.5 * y / (s.d.nruns * (T / 10));
          }
        for (int p = 0; p < SC[k].pairs; p++) {
          double a = measure(m, s.d.metric[DS_LOSS].f + (size_t)p * T, target), b = measure(m, s.d.metric[DS_LOSS].f + (size_t)(SC[k].pairs + p) * T, target);
          dd[p] = a >= 0 && b >= 0 ? b - a : NAN;
        }
        SignedRank sr;
        stats_signed_rank(dd, SC[k].pairs, 1, 0.95, &sr);
        faster += sr.p <= 0.05 && sr.hi < 0;
        slower += sr.p <= 0.05 && sr.lo > 0;
        sweep_free2(&s);
      }
      printf(" %.1f%% faster, %.1f%% slower |", 100.0 * faster / SWEEPS, 100.0 * slower / SWEEPS);
    }
    printf("\n");
  }
  printf("(%d sweeps each, 10 pairs, paired signed-rank test at 0.05; group B is the second)\n", SWEEPS);
}

/* FWER procedures compared on the same null and alternative sweeps (docs/decisions.md): the
   share of reports with any verdict under each, and how often the primary decides a 12-step
   faster group. The outcomes' raw p and smallest attainable p come from the report's analysis;
   each procedure is then applied to them here. */
static int any_verdict(const Analysis *A, int procedure, int *primary) {
  enum { MAXP = 16 };
  double p[MAXP], pm[MAXP], adj[MAXP];
  int n = 0, any = 0;
  const Comparison *c = &A->c[0];
  for (int o = 0; o < NOUTCOMES; o++) {
    p[n] = c->out[o].t.used > 0 ? c->out[o].t.p : NAN;
    pm[n++] = c->out[o].t.used > 0 ? c->out[o].t.p_min : 1;
  }
  double q[MAXP];
  int m;
  *primary = 0;
  switch (procedure) {
  case 0: /* two Holm families, each at 5% (before) */
  case 2: { /* serial gatekeeping: the secondary family only behind a rejected primary (chosen) */
    *primary = !isnan(p[0]) && pm[0] <= 0.05 && p[0] <= 0.05;
    m = stats_tarone(pm + 1, n - 1, 0.05);
    for (int i = 1; i < n; i++) q[i] = pm[i] <= 0.05 / m ? p[i] : NAN;
    stats_holm(q + 1, n - 1, adj + 1);
    if (procedure == 0 || *primary)
      for (int i = 1; i < n; i++) any |= adj[i] <= 0.05;
    break;
  }
  default: /* one Holm family over every outcome */
    m = stats_tarone(pm, n, 0.05);
    for (int i = 0; i < n; i++) q[i] = pm[i] <= 0.05 / m ? p[i] : NAN;
    stats_holm(q, n, adj);
    *primary = adj[0] <= 0.05;
    for (int i = 1; i < n; i++) any |= adj[i] <= 0.05;
  }
  return any || *primary;
}

static void fwer_table(void) {
  static const char *const NAME[3] = {"Holm within primary and within secondary, each at 5% (before)",
                                      "one Holm family over all ten outcomes", "serial gatekeeping (chosen)"};
  enum { SWEEPS = 600 };
  const int pairs[3] = {6, 10, 20};
  ReportOptions ro;
  report_defaults(&ro);
  ro.a.power_draws = 0;
  printf("| procedure | any verdict, null, 6 pairs | 10 pairs | 20 pairs | primary decided, 12 steps faster, 10 pairs |\n"
         "|---|---|---|---|---|\n");
  for (int proc = 0; proc < 3; proc++) {
    printf("| %s |", NAME[proc]);
    for (int k = 0; k < 4; k++) {
      const Scenario sc = {k < 3 ? pairs[k] : 10, 1, k < 3 ? 0 : 12};
      int hits = 0, prim = 0;
      for (int w = 0; w < SWEEPS; w++) {
        Sweep2 s;
        make_sweep(&s, &sc, 555000 + 1000 * (uint64_t)k + (uint64_t)w);
        Analysis A;
        Err e = {{0}, 0};
        if (analysis_run(&A, &s.d, &ro.a, &e) == 0) {
          int mp, ms, gate, pr;
          analysis_adjust(&A, 1, &mp, &ms, &gate);
          hits += A.nc && any_verdict(&A, proc, &pr);
          prim += A.nc && pr;
          analysis_free(&A);
        }
        sweep_free2(&s);
      }
      double lo, hi;
      wilson(k < 3 ? hits : prim, SWEEPS, &lo, &hi);
      printf(" %.1f%% (%.1f-%.1f) |", 100.0 * (k < 3 ? hits : prim) / SWEEPS, 100 * lo, 100 * hi);
    }
    printf("\n");
  }
  printf("(%d sweeps each; 95%% Wilson intervals)\n", SWEEPS);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--table") == 0) {
    candidates_table();
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "--fwer") == 0) {
    fwer_table();
    return 0;
  }
  Tally t;
  enum { NULL_SWEEPS = 800, NOISE_SWEEPS = 400, POWER_SWEEPS = 300 };
  printf("null (no true difference): reports with any verdict\n");
  const int null_pairs[3] = {6, 10, 20};
  for (int i = 0; i < 3; i++) {
    const Scenario sc = {null_pairs[i], 1, 0};
    run_scenario(&sc, NULL_SWEEPS, 0, 1000 * (uint64_t)null_pairs[i], &t);
    char what[80];
    snprintf(what, sizeof what, "%d pairs: any verdict", null_pairs[i]);
    show(what, t.any, t.sweeps);
    CHECK(at_most(t.any, t.sweeps, 0.05), "null, %d pairs: %d of %d reports with a verdict", null_pairs[i], t.any, t.sweeps);
    CHECK(t.outside == 0 && t.bad_verdict == 0, "null, %d pairs: %d estimates outside, %d verdicts beside 0",
          null_pairs[i], t.outside, t.bad_verdict);
  }
  printf("the same loss trend, group B noisier: primary verdicts (faster or slower)\n");
  const double noise[2] = {1.5, 2};
  for (int i = 0; i < 2; i++) {
    const Scenario sc = {10, noise[i], 0};
    run_scenario(&sc, NOISE_SWEEPS, 0, 50000 + 1000 * (uint64_t)i, &t);
    char what[80];
    snprintf(what, sizeof what, "10 pairs, noise x%.1f: speed verdict", noise[i]);
    show(what, t.primary, t.sweeps);
    CHECK(at_most(t.primary, t.sweeps, 0.05), "noise x%g: %d of %d sweeps with a speed verdict", noise[i], t.primary,
          t.sweeps);
  }
  printf("the shift the power line claims for 80%%: detected\n");
  const int power_pairs[3] = {6, 8, 12};
  for (int i = 0; i < 3; i++) {
    const Scenario pilot = {power_pairs[i], 1, 0};
    run_scenario(&pilot, 20, ANALYSIS_POWER_DRAWS, 90000 + 1000 * (uint64_t)i, &t); /* the claim on null sweeps */
    const double claim = t.mde_n ? t.mde_sum / t.mde_n : NAN;
    const Scenario sc = {power_pairs[i], 1, claim};
    run_scenario(&sc, POWER_SWEEPS, 0, 70000 + 1000 * (uint64_t)i, &t);
    char what[96];
    snprintf(what, sizeof what, "%d pairs, claimed 80%% shift %.1f steps: detected", power_pairs[i], claim);
    show(what, t.faster, t.sweeps);
    CHECK(isfinite(claim) && (double)t.faster / t.sweeps >= 0.75, "power at %d pairs: %d of %d detected the claimed %g",
          power_pairs[i], t.faster, t.sweeps, claim);
  }
  printf("genuinely faster group B (12 steps ahead)\n");
  const Scenario fast = {10, 1, 12}, fast_noisy = {10, 2, 12};
  run_scenario(&fast, POWER_SWEEPS, 0, 30000, &t);
  show("10 pairs, 12 steps faster: detected", t.faster, t.sweeps);
  CHECK(t.faster > t.sweeps / 2 && t.outside == 0, "a 12-step faster group detected in %d of %d", t.faster, t.sweeps);
  run_scenario(&fast_noisy, POWER_SWEEPS, 0, 40000, &t);
  show("10 pairs, 12 steps faster and noise x2: detected", t.faster, t.sweeps);
  CHECK(t.faster > 0 && t.primary == t.faster, "faster and noisier: %d faster, %d primary verdicts", t.faster, t.primary);
  return check_done();
}
