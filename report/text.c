/* The report as text (the terminal's table) and Markdown: per file a header with the
   parameters and the guarantee, the groups table, runs that could not run, and one verdict
   paragraph per comparison, worded only as the adjusted tests and their intervals allow. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "report/emit.h"

typedef struct {
  char *buf;
  size_t len, cap;
  int failed;
} Text;

static void add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || t->failed) return;
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = (t->cap + (size_t)n + 1) * 2;
    char *b = realloc(t->buf, cap);
    if (!b) { t->failed = 1; return; }
    t->buf = b;
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

/* A number as the report prints it: "-" when missing, "+inf"/"-inf" for an open interval end. */
static const char *fnum(char *out, size_t n, double x, int digits, int sign) {
  if (isnan(x)) snprintf(out, n, "-");
  else if (isinf(x)) snprintf(out, n, "%sinf", x < 0 ? "-" : sign ? "+" : "");
  else snprintf(out, n, sign ? "%+.*f" : "%.*f", digits, x);
  return out;
}

/* An interval end rounded outward to `digits` (down for the lower end, up for the upper): a
   printed interval never claims more than the computed one. */
static const char *fend(char *out, size_t n, double x, int digits, int upper) {
  if (!isfinite(x)) return fnum(out, n, x, digits, 1);
  const double scale = pow(10, digits), v = x * scale, r = nearbyint(v);
  const double y = fabs(v - r) < 1e-9 * fmax(1.0, fabs(v)) ? r : upper ? ceil(v) : floor(v);
  return fnum(out, n, y / scale, digits, 1);
}

/* "p = 0.031", or the floor's bound "p < 1e-300" */
static const char *pval(char *out, size_t n, const SignedRank *t) {
  if (t->p_floor) snprintf(out, n, "p < %.0e", STATS_P_FLOOR);
  else snprintf(out, n, "p = %.3g", t->p);
  return out;
}

static const char *value_of(const Analysis *A, int g, int col) { return A->d->values[A->g[g].first][col]; }

/* "k1=v1, k2=v2" of a comparison's key in group g. */
static void key_values(const Analysis *A, const Comparison *c, int g, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; k < c->ncols && len < size; k++)
    len += (size_t)snprintf(out + len, size - len, "%s%s=%s", k ? ", " : "", A->d->colname[c->cols[k]],
                            value_of(A, g, c->cols[k]));
}

/* The other keys' values, which the two groups share. */
static void context(const Analysis *A, const Comparison *c, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; k < A->d->ncols && len < size; k++) {
    int in_key = 0;
    for (int j = 0; j < c->ncols; j++) in_key |= c->cols[j] == k;
    if (!in_key)
      len += (size_t)snprintf(out + len, size - len, "%s%s=%s", len ? ", " : "", A->d->colname[k], value_of(A, c->g1, k));
  }
}

/* The words of an outcome's verdict for the second group (who). */
static void verdict_words(Text *t, const Outcome *o, const OutcomeSpec *s, const char *who) {
  switch (o->verdict) {
  case V_HIGHER:
  case V_LOWER: {
    const char *word = (o->verdict < 0) == (s->lower_is_better != 0) ? s->better : s->worse;
    add(t, "%s %s%s", who, strncmp(word, "fits", 4) ? "is " : "", word); /* "X fits ...", "X is faster" */
    break;
  }
  case V_CANNOT_REACH:
    add(t, "cannot reach p < 0.05 with %d pair%s of a known sign", o->t.used, o->t.used == 1 ? "" : "s");
    if (o->family_m > 1) add(t, " after adjusting for %d tests", o->family_m);
    add(t, " (smallest possible p = %.3g)", o->t.p_min);
    break;
  case V_WITHHELD: add(t, "withheld (see above)"); break;
  case V_EXPLORATORY: add(t, "exploratory, no verdict (secondary outcomes are tested only when every primary comparison is decided)"); break;
  default: add(t, "no clear difference"); break;
  }
}

/* ": shift -95 [-128, -81] steps, p = 0.002 (Holm 0.002; 10 pairs, 2 censored, 1 undetermined)" */
static void shift_text(Text *t, const Outcome *o, const OutcomeSpec *s) {
  char e[32], lo[32], hi[32];
  int dg = s->digits;
  if (o->verdict == V_CANNOT_REACH) { /* nothing to estimate a verdict from: say so, not an interval of the whole line */
    add(t, "%d pair%s", o->t.n, o->t.n == 1 ? "" : "s");
    if (o->t.worst) add(t, ", %d censored at the worst rank", o->t.worst);
    if (o->t.undetermined) add(t, ", %d undetermined", o->t.undetermined);
    return;
  }
  char pv[40], adj[40];
  if (isnan(o->t.estimate)) add(t, "shift not estimable from the observed pairs, 95%% interval ");
  else add(t, "shift %s ", fnum(e, sizeof e, o->t.estimate, dg, 1));
  if (o->verdict == V_EXPLORATORY || isnan(o->p_adj)) snprintf(adj, sizeof adj, "unadjusted");
  else snprintf(adj, sizeof adj, "Holm %.3g", o->p_adj);
  add(t, "%s%s, %s%s%s%s, %s (%s; %d pair%s", o->t.lo_open ? "(" : "[", fend(lo, sizeof lo, o->t.lo, dg, 0),
      fend(hi, sizeof hi, o->t.hi, dg, 1), o->t.hi_open ? ")" : "]", s->units[0] ? " " : "", s->units,
      pval(pv, sizeof pv, &o->t), adj, o->t.n, o->t.n == 1 ? "" : "s");
  if (o->t.worst) add(t, ", %d censored at the worst rank", o->t.worst);
  if (o->t.undetermined) add(t, ", %d undetermined", o->t.undetermined);
  if (o->t.zeros) add(t, ", %d tied (ranked, signless: Pratt)", o->t.zeros);
  add(t, ")");
}

static void speed_text(Text *t, const Comparison *c, int k, const char *who) {
  const Outcome *o = &c->out[k];
  const int w = k == O_LOSS_SPEED ? 0 : 1;
  char tg[32];
  const char *what = w == 0 ? "Training loss (its isotonic fit) reaches" : "Dev accuracy (its isotonic fit) reaches";
  if (!isfinite(c->target[w])) {
    add(t, "%s: no common target (neither group improved on the baseline). ", what);
    return;
  }
  char k1[32], k2[32];
  add(t, "%s %s: Kaplan-Meier median %s%s vs %s%s steps (never reached %d/%d vs %d/%d); ", what,
      fnum(tg, sizeof tg, c->target[w], 4, 0), c->km_reached[w][0] ? "" : ">= ", fnum(k1, sizeof k1, c->km[w][0], 0, 0),
      c->km_reached[w][1] ? "" : ">= ", fnum(k2, sizeof k2, c->km[w][1], 0, 0), o->censored[0], c->finished[0],
      o->censored[1], c->finished[1]);
  shift_text(t, o, &OUTCOME[k]);
  add(t, ": ");
  verdict_words(t, o, &OUTCOME[k], who);
  add(t, ". ");
}

static void stat_text(Text *t, const Comparison *c, int k, const char *who, int capital) {
  const Outcome *o = &c->out[k];
  const OutcomeSpec *s = &OUTCOME[k];
  char m1[32], m2[32];
  add(t, "%c%s %s vs %s: ", capital ? s->what[0] - 'a' + 'A' : s->what[0], s->what + 1,
      fnum(m1, sizeof m1, o->mean[0], s->digits, 0), fnum(m2, sizeof m2, o->mean[1], s->digits, 0));
  shift_text(t, o, s);
  add(t, ": ");
  verdict_words(t, o, s, who);
  add(t, ". ");
}

static void steadiness_text(Text *t, const Analysis *A, const Comparison *c, const char *who) {
  const Outcome *o = &c->out[O_NOISE];
  if (c->learned_pairs < 2) {
    add(t, "Steadiness not compared: %d pair(s) in which both runs learned (a run stuck at the majority class is "
           "flat, not steady). ", c->learned_pairs);
    return;
  }
  char l[3][32], g[32], m1[32], m2[32], lv1[32], lv2[32];
  if (c->nlevels == 0) {
    add(t, "Steadiness at equal loss not compared: the groups share no loss level below the target. ");
  } else {
    add(t, "Training-loss noise at equal loss (std about the trend in windows where each run's loss first reaches %s, "
           "%s and %s; the compared windows' mean losses differ by %s%% in the median pair, tolerance %.0f%%): ",
        fnum(l[0], 32, c->levels[2], 3, 0), fnum(l[1], 32, c->levels[1], 3, 0), fnum(l[2], 32, c->levels[0], 3, 0),
        fnum(g, sizeof g, 100 * c->level_gap, 1, 0), 100 * A->o.level_tolerance);
    if (o->verdict == V_WITHHELD) {
      add(t, "not judged, the levels differ by more than the tolerance. ");
    } else {
      add(t, "%s vs %s, ", fnum(m1, sizeof m1, o->mean[0], 4, 0), fnum(m2, sizeof m2, o->mean[1], 4, 0));
      shift_text(t, o, &OUTCOME[O_NOISE]);
      add(t, ": ");
      verdict_words(t, o, &OUTCOME[O_NOISE], who);
      add(t, ". ");
    }
  }
  if (isfinite(c->late_level[0]) && isfinite(c->late_level[1]) &&
      fabs(c->late_level[1] - c->late_level[0]) > A->o.level_tolerance * fmax(c->late_level[0], c->late_level[1]))
    add(t, "(The late-loss std of the group table is not compared: the runs end at loss %s vs %s, and a lower loss "
           "varies less.) ",
        fnum(lv1, sizeof lv1, c->late_level[0], 3, 0), fnum(lv2, sizeof lv2, c->late_level[1], 3, 0));
}

/* Seeds: how a resume adds pairs (the config's sweep.seeds, as it is written). */
static void seeds_advice(Text *t, const Analysis *A, int need) {
  cJSON *root = A->d->sweep_json ? cJSON_Parse(A->d->sweep_json) : NULL;
  const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "sweep"), "seeds");
  const cJSON *from = cJSON_GetObjectItemCaseSensitive(seeds, "from");
  if (cJSON_IsObject(seeds) && cJSON_IsNumber(from))
    add(t, "set \"sweep.seeds\": {\"from\": %d, \"count\": %d} in the config and run the same sweep command: the "
           "resume keeps the finished runs and adds the new seeds", from->valueint, need);
  else
    add(t, "list %d seeds in \"sweep.seeds\" (the present ones first) and run the same sweep command: the resume keeps "
           "the finished runs and adds the new seeds", need);
  cJSON_Delete(root);
}

static void power_text(Text *t, const Analysis *A, const Comparison *c) {
  const Outcome *o = &c->out[O_LOSS_SPEED];
  char m[32], sd[32], ef[32];
  if (!isfinite(o->sd) || A->o.power_draws <= 0) {
    add(t, "Power: not estimable (fewer than 2 pairs reached the loss target in both runs). ");
    return;
  }
  const double mc = 100 * sqrt(0.8 * 0.2 / A->o.power_draws);
  add(t, "Power (primary; simulated: %d sets of normal paired differences with the observed sd %s steps, tested as "
         "above at alpha %.3g, Holm rank %d of %d; seed %u, Monte-Carlo error about %.1f%%): detected 80%% of the "
         "time: ",
      A->o.power_draws, fnum(sd, sizeof sd, o->sd, 1, 0), c->alpha_primary, c->primary_rank, c->primary_m,
      ANALYSIS_POWER_SEED, mc);
  for (int r = 0; r < NPOWER_ROWS; r++) {
    const int n = c->pairs * POWER_MULTIPLE[r];
    if (isinf(c->mde_table[r])) add(t, "%sno shift with %d pairs", r ? ", " : "", n);
    else add(t, "%sa shift of %s steps with %d pairs", r ? ", " : "", fnum(m, sizeof m, c->mde_table[r], 1, 0), n);
  }
  if (isfinite(A->o.effect)) {
    if (c->pairs_needed > 0) add(t, "; the named shift of %s steps needs %d pairs", fnum(ef, sizeof ef, c->effect, 0, 0),
                                 c->pairs_needed);
    else add(t, "; the named shift of %s steps: more than 20000 pairs", fnum(ef, sizeof ef, c->effect, 0, 0));
    if (c->pairs_needed > c->pairs) {
      add(t, ": ");
      seeds_advice(t, A, c->pairs_needed);
    }
  } else {
    add(t, " (name the shift that matters with --effect STEPS for the pairs it needs)");
  }
  add(t, ". ");
}

/* Outcome i of the paragraph: OUTCOME's rows by text_order, ties in table order. */
static int by_text_order(int i) {
  int order[NOUTCOMES];
  for (int k = 0; k < NOUTCOMES; k++) order[k] = k;
  for (int a = 1; a < NOUTCOMES; a++) /* insertion sort: stable */
    for (int b = a; b > 0 && OUTCOME[order[b - 1]].text_order > OUTCOME[order[b]].text_order; b--) {
      int x = order[b];
      order[b] = order[b - 1];
      order[b - 1] = x;
    }
  return order[i];
}

/* Outcome k among the secondary ones, as its table row says it is written. */
static void secondary_text(Text *t, const Analysis *A, const Comparison *c, int k, const char *who) {
  if (k == O_LOSS_SPEED) return; /* the primary leads the paragraph */
  switch (OUTCOME[k].how) {
  case OT_SPEED: speed_text(t, c, k, who); break;
  case OT_STAT: stat_text(t, c, k, who, 1); break;
  case OT_STEADINESS: steadiness_text(t, A, c, who); break;
  case OT_STAT_LEARNED:
    if (c->learned_pairs >= 2) stat_text(t, c, k, who, 1);
    break;
  }
}

/* One paragraph a user can paste: the primary outcome, power, then the secondary ones. */
char *report_verdict_text(const Analysis *A, const Comparison *c) {
  Text t = {0};
  const Group *a = &A->g[c->g1], *b = &A->g[c->g2];
  char ctx[1024], va[512], vb[512];
  context(A, c, ctx, sizeof ctx);
  key_values(A, c, c->g1, va, sizeof va);
  key_values(A, c, c->g2, vb, sizeof vb);
  add(&t, "%s vs %s%s%s%s, %d pairs of seeds. ", va, vb, ctx[0] ? " (" : "", ctx, ctx[0] ? ")" : "", c->pairs);
  if (c->pairs == 0) {
    add(&t, "No seed has finished in both groups (finished runs %d vs %d, unfinished %d vs %d): nothing is compared yet.",
        a->finished, b->finished, a->unfinished, b->unfinished);
    return t.failed ? (free(t.buf), NULL) : t.buf;
  }
  add(&t, "Primary: ");
  speed_text(&t, c, O_LOSS_SPEED, vb);
  const Outcome *p = &c->out[O_LOSS_SPEED], *dm = &c->out[O_DEV_MIN];
  if ((p->verdict == V_HIGHER || p->verdict == V_LOWER) && dm->verdict != V_CANNOT_REACH) {
    char x[32], y[32], s1[32], s2[32];
    add(&t, "This is speed on the training set; on the dev set the minimum loss is %s vs %s (",
        fnum(x, sizeof x, dm->mean[0], 3, 0), fnum(y, sizeof y, dm->mean[1], 3, 0));
    verdict_words(&t, dm, &OUTCOME[O_DEV_MIN], vb);
    add(&t, "), reached at step %s vs %s on average. ", fnum(s1, sizeof s1, c->out[O_DEV_MIN_STEP].mean[0], 0, 0),
        fnum(s2, sizeof s2, c->out[O_DEV_MIN_STEP].mean[1], 0, 0));
  }
  const Outcome *nz = &c->out[O_NOISE];
  if (p->verdict == V_HIGHER || p->verdict == V_LOWER) { /* the seed's confound: is the faster group also noisier? */
    const int faster_noisier =
        (p->verdict == V_LOWER && nz->verdict == V_HIGHER) || (p->verdict == V_HIGHER && nz->verdict == V_LOWER);
    if (faster_noisier)
      add(&t, "The faster group is also less steady (noise at equal loss, below): the speed measure, an isotonic fit's "
              "crossing, is built not to read noise as speed (on known-truth sweeps a twice as noisy group was called "
              "faster in about 1%% of them). ");
    else if (nz->verdict == V_WITHHELD || nz->verdict == V_NONE || nz->verdict == V_CANNOT_REACH)
      add(&t, "Whether the groups differ in steadiness is not established (below): the speed verdict does not depend "
              "on it. ");
  }
  power_text(&t, A, c);
  if (ldexp(2.0, -c->pairs) > 0.05) { /* nothing secondary can be tested either: the group table has the means */
    add(&t, "Secondary outcomes cannot be tested with %d pairs either (the group table has their means). ", c->pairs);
    add(&t, "Failed runs %d/%d vs %d/%d.", a->failed, a->finished + a->not_run, b->failed, b->finished + b->not_run);
    return t.failed ? (free(t.buf), NULL) : t.buf;
  }
  add(&t, "Secondary: ");
  for (int i = 0; i < NOUTCOMES; i++) secondary_text(&t, A, c, by_text_order(i), vb);
  add(&t, "Failed runs %d/%d vs %d/%d", a->failed, a->finished + a->not_run, b->failed, b->finished + b->not_run);
  if (a->not_run || b->not_run) add(&t, " (could not run %d vs %d)", a->not_run, b->not_run);
  if (a->diverged || b->diverged) add(&t, " (diverged %d vs %d)", a->diverged, b->diverged);
  add(&t, ".");
  if (c->warning[0]) add(&t, " Warning: %s.", c->warning);
  if (t.failed) {
    free(t.buf);
    return NULL;
  }
  return t.buf;
}


static void header(const Analysis *A, const char *label, const char *path, FILE *out, int md, int mp, int ms) {
  const ResultsData *d = A->d;
  int done = 0, diverged = 0, not_run = 0;
  for (int r = 0; r < d->nruns; r++) {
    done += A->rs[r].done;
    diverged += A->rs[r].diverged;
    not_run += A->rs[r].not_run;
  }
  const AnalysisOptions *o = &A->o;
  char lt[32], at[64];
  if (isnan(o->loss_target)) snprintf(lt, sizeof lt, "per comparison");
  else snprintf(lt, sizeof lt, "%g", o->loss_target);
  if (isnan(o->acc_target)) snprintf(at, sizeof at, "per comparison (fraction %g)", o->acc_fraction);
  else snprintf(at, sizeof at, "%g", o->acc_target);
  fprintf(out, "%s%s (%s): %d runs (%d done, %d diverged and %d that could not run, both counted as failed, %d "
               "unfinished and left out), %d groups\n",
          md ? "### " : "", label, path, d->nruns, done, diverged, not_run, d->nruns - done - diverged - not_run, A->ng);
  fprintf(out, "parameters: loss target %s (read where each run's isotonic loss fit crosses it; steadiness windows: "
               "moving average of %d steps); accuracy target %s; failed = final accuracy <= majority-class baseline, or "
               "diverged; runs that never reach a target are censored where they stopped (Kaplan-Meier medians; worst "
               "rank in pairs)\n",
          lt, o->smooth, at);
  fprintf(out, "guarantee: the chance of any false verdict in this whole report is at most 5%% (family-wise error: Holm "
               "over the %d primary test%s that can reach it, then the %d secondary one%s only when every primary one is "
               "decided%s)\n",
          mp, mp == 1 ? "" : "s", ms, ms == 1 ? "" : "s",
          A->gate_open ? "" : "; here they are not: the secondary outcomes are exploratory");
  fprintf(out, "rule: one primary outcome per comparison (steps to the loss target, where each run's isotonic loss fit "
               "crosses it), the rest secondary; p from the exact Wilcoxon signed-rank test paired by seed (zeros as "
               "Pratt; normal above %d pairs), shift = Hodges-Lehmann estimate with the 95%% interval of the shifts the "
               "test accepts; a verdict needs Holm p <= 0.05 (a test that cannot reach it is left out: Tarone)\n\n",
          STATS_EXACT_MAX);
}

static void group_table(const Analysis *A, FILE *out, int md) {
  int kw = 5;
  for (int i = 0; i < A->ng; i++) kw = (int)strlen(A->g[i].key) > kw ? (int)strlen(A->g[i].key) : kw;
  if (md) {
    fprintf(out, "| group | runs | unfinished | failed | diverged |");
    for (int k = 0; k < NSTATS; k++) fprintf(out, " %s mean ± sd (median) |", STAT[k].head);
    fprintf(out, " majority class | bag-of-words |\n|---|---|---|---|---|");
    for (int k = 0; k < NSTATS; k++) fprintf(out, "---|");
    fprintf(out, "---|---|");
  } else {
    fprintf(out, "%-*s runs unfin failed diverg", kw, "group");
    for (int k = 0; k < NSTATS; k++) fprintf(out, "  %-24s", STAT[k].head);
    fprintf(out, "  majority  bag-of-words");
  }
  fprintf(out, "\n");
  for (int i = 0; i < A->ng; i++) {
    const Group *g = &A->g[i];
    if (md) fprintf(out, "| %s | %d | %d | %d | %d |", g->key, g->n, g->unfinished, g->failed, g->diverged);
    else fprintf(out, "%-*s %4d %5d %6d %6d", kw, g->key, g->n, g->unfinished, g->failed, g->diverged);
    for (int k = 0; k < NSTATS; k++) {
      char m[32], s[32], me[32], cell[100];
      snprintf(cell, sizeof cell, "%s±%s (%s)", fnum(m, sizeof m, g->mean[k], STAT[k].digits, 0),
               fnum(s, sizeof s, g->std[k], STAT[k].digits, 0), fnum(me, sizeof me, g->median[k], STAT[k].digits, 0));
      if (md) fprintf(out, " %s |", cell);
      else fprintf(out, "  %-24s", cell);
    }
    char bm[32], bb[32];
    fnum(bm, sizeof bm, g->majority, 3, 0);
    fnum(bb, sizeof bb, g->bow, 3, 0);
    if (md) fprintf(out, " %s | %s |", bm, bb);
    else fprintf(out, "  %-8s  %s", bm, bb);
    fprintf(out, "\n");
  }
}

static void correlation_text(const Analysis *A, FILE *out, int md) {
  if (!A->ncorr) return;
  fprintf(out, "\n%sRandomly sampled keys: Spearman rank correlation with each run's outcome (p from Student's t, Holm "
               "with the secondary tests)\n\n",
          md ? "#### " : "");
  for (int i = 0; i < A->ncorr; i++) {
    const Correlation *c = &A->corr[i];
    char r[32];
    fprintf(out, "%s%s%s%s%s vs %s: rho %s over %d runs, p = %.3g (Holm %.3g)%s\n", md ? "- " : "",
            A->d->colname[c->col], A->col_random[c->col] == 2 ? " (log-uniform)" : "", c->context[0] ? " at " : "",
            c->context, STAT[c->stat].name, fnum(r, sizeof r, c->rho, 3, 1), c->n, c->p, c->p_adj,
            c->p_adj < 0.05 ? (c->rho > 0 ? ": rises with the key" : ": falls as the key rises") : "");
  }
}

/* Runs that could not run, with their reasons. */
static void not_run_list(const Analysis *A, FILE *out, int md) {
  const ResultsData *d = A->d;
  int first = 1;
  for (int r = 0; r < d->nruns; r++) {
    if (!A->rs[r].not_run) continue;
    if (first) fprintf(out, "\n%sRuns that could not run (counted as failed):\n%s", md ? "#### " : "", md ? "\n" : "");
    first = 0;
    char key[1024];
    snprintf(key, sizeof key, "%s", "");
    for (int g = 0; g < A->ng; g++)
      if (analysis_same_group(d, A->g[g].first, r)) snprintf(key, sizeof key, "%s", A->g[g].key);
    fprintf(out, "%srun %d (%s, seed %d): %s\n", md ? "- " : "  ", r, key, d->seed[r],
            d->error[r][0] ? d->error[r] : "(no reason recorded)");
  }
}

static void unk_note(const ResultsData *d, FILE *out, int md) {
  double worst;
  int n = analysis_unk_runs(d, &worst);
  if (n)
    fprintf(out, "\n%sTokenizer: %d of %d runs turned more than %.0f%% of their training tokens into [UNK] (up to "
                 "%.1f%%); the vocabulary may not fit the data (each run's output named the likely cause).\n",
            md ? "**Warning.** " : "Warning. ", n, d->nruns, 100 * UNK_WARN, 100 * worst);
}

static void write_text(const Section *s, FILE *out, int md, int mp, int ms) {
  const Analysis *A = &s->A;
  header(A, s->label, s->path, out, md, mp, ms);
  group_table(A, out, md);
  not_run_list(A, out, md);
  unk_note(A->d, out, md);
  if (A->note[0]) fprintf(out, "\n%s.\n", A->note);
  if (A->nc) fprintf(out, "\n%sVerdicts (second against first, paired by seed)\n\n", md ? "#### " : "");
  for (int i = 0; i < A->nc; i++) {
    char *v = report_verdict_text(A, &A->c[i]);
    fprintf(out, "%s%s\n\n", md ? "- " : "", v ? v : "(out of memory)");
    free(v);
  }
  correlation_text(A, out, md);
}


static int emit_sections(const Report *r, FILE *out, int md) {
  for (int i = 0; i < r->n; i++) write_text(&r->secs[i], out, md, r->mp, r->ms);
  return 0;
}

int emit_text(const Report *r, FILE *out, Err *e) {
  (void)e;
  return emit_sections(r, out, 0);
}

int emit_markdown(const Report *r, FILE *out, Err *e) {
  (void)e;
  return emit_sections(r, out, 1);
}
