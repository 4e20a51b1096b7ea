#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "report/html.h"
#include "report/report.h"

const char *const REPORT_FORMAT_NAME[NREPORT_FORMATS] = {
    [REPORT_TABLE] = "table", [REPORT_CSV] = "csv", [REPORT_JSON] = "json", [REPORT_MARKDOWN] = "markdown",
    [REPORT_RUNS_CSV] = "runs-csv", [REPORT_HTML] = "html"};
static_assert(NREPORT_FORMATS == 6, "REPORT_FORMAT_NAME has one name per format");

/* What a verdict code of an outcome (Outcome.verdict) is called in JSON and CSV. */
static const char *verdict_name(int v) {
  switch (v) {
  case -1: return "second_lower";
  case 1: return "second_higher";
  case 2: return "cannot_reach_significance";
  case 4: return "withheld";
  case 5: return "exploratory";
  default: return "no_clear_difference";
  }
}

void report_defaults(ReportOptions *o) {
  memset(o, 0, sizeof *o);
  o->format = REPORT_TABLE;
  o->a = (AnalysisOptions){.loss_target = NAN, .acc_target = NAN, .acc_fraction = 0.9, .smooth = 10, .effect = NAN,
                           .level_tolerance = 0.10, .power_draws = ANALYSIS_POWER_DRAWS};
}

/* ---- the config's "report" section ---- */

int report_file_options(const ReportOptions *o, const ResultsData *d, const char *path, AnalysisOptions *out,
                        char *label, size_t label_size, Err *e) {
  *out = o->a;
  const char *slash = strrchr(path, '/');
  snprintf(label, label_size, "%s", slash ? slash + 1 : path);
  cJSON *root = d->sweep_json ? cJSON_Parse(d->sweep_json) : NULL;
  const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "report");
  int rc = 0;
  if (sec && !cJSON_IsObject(sec)) rc = errf(e, "%s: the sweep config's \"report\" must be an object", path);
  for (const cJSON *it = sec ? sec->child : NULL; it && !rc; it = it->next) {
    const char *k = it->string;
    if (strcmp(k, "label") == 0) {
      if (!cJSON_IsString(it)) rc = errf(e, "%s: \"report.label\" must be a string", path);
      else snprintf(label, label_size, "%s", it->valuestring);
      continue;
    }
    if (strcmp(k, "bootstrap") == 0) continue; /* files of earlier versions: intervals are exact now */
    struct { const char *key; int flag; double *dst; double lo, hi; } NUM[] = {
        {"loss_target", SET_LOSS, &out->loss_target, 0, 1e9},
        {"acc_target", SET_ACC, &out->acc_target, 0, 1},
        {"acc_fraction", SET_FRACTION, &out->acc_fraction, 1e-9, 1},
        {"effect", SET_EFFECT, &out->effect, 1e-9, 1e12},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof NUM / sizeof *NUM && !found; i++) {
      if (strcmp(k, NUM[i].key) != 0) continue;
      found = 1;
      if (!cJSON_IsNumber(it) || !(it->valuedouble >= NUM[i].lo && it->valuedouble <= NUM[i].hi))
        rc = errf(e, "%s: \"report.%s\" must be a number in [%g, %g]", path, k, NUM[i].lo, NUM[i].hi);
      else if (!(o->set & NUM[i].flag)) *NUM[i].dst = it->valuedouble;
    }
    if (found) continue;
    if (strcmp(k, "smooth") != 0)
      rc = errf(e, "%s: unknown key \"report.%s\" (loss_target, acc_target, acc_fraction, smooth, effect, label)", path, k);
    else if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 1 || it->valuedouble > 1e6)
      rc = errf(e, "%s: \"report.%s\" must be a positive integer", path, k);
    else if (!(o->set & SET_SMOOTH)) out->smooth = (int)it->valuedouble;
  }
  cJSON_Delete(root);
  return rc;
}

int report_check_config(const char *config_json, const char *path, Err *e) {
  ResultsData d;
  memset(&d, 0, sizeof d);
  d.sweep_json = (char *)config_json; /* read only */
  ReportOptions o;
  report_defaults(&o);
  AnalysisOptions ao;
  char label[256];
  return report_file_options(&o, &d, path, &ao, label, sizeof label, e);
}

/* ---- text ---- */

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

/* Whether runs r and s have the same grid values (one group). */
static int same_group(const ResultsData *d, int r, int s) {
  for (int c = 0; c < d->ncols; c++)
    if (strcmp(d->values[r][c], d->values[s][c]) != 0) return 0;
  return 1;
}

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
  case 1:
  case -1: {
    const char *word = (o->verdict < 0) == (s->lower_is_better != 0) ? s->better : s->worse;
    add(t, "%s %s%s", who, strncmp(word, "fits", 4) ? "is " : "", word); /* "X fits ...", "X is faster" */
    break;
  }
  case 2:
    add(t, "cannot reach p < 0.05 with %d pair%s of a known sign", o->t.used, o->t.used == 1 ? "" : "s");
    if (o->family_m > 1) add(t, " after adjusting for %d tests", o->family_m);
    add(t, " (smallest possible p = %.3g)", o->t.p_min);
    break;
  case 4: add(t, "withheld (see above)"); break;
  case 5: add(t, "exploratory, no verdict (secondary outcomes are tested only when every primary comparison is decided)"); break;
  default: add(t, "no clear difference"); break;
  }
}

/* ": shift -95 [-128, -81] steps, p = 0.002 (Holm 0.002; 10 pairs, 2 censored, 1 undetermined)" */
static void shift_text(Text *t, const Outcome *o, const OutcomeSpec *s) {
  char e[32], lo[32], hi[32];
  int dg = s->digits;
  if (o->verdict == 2) { /* nothing to estimate a verdict from: say so, not an interval of the whole line */
    add(t, "%d pair%s", o->t.n, o->t.n == 1 ? "" : "s");
    if (o->t.worst) add(t, ", %d censored at the worst rank", o->t.worst);
    if (o->t.undetermined) add(t, ", %d undetermined", o->t.undetermined);
    return;
  }
  char pv[40], adj[40];
  if (isnan(o->t.estimate)) add(t, "shift not estimable from the observed pairs, 95%% interval ");
  else add(t, "shift %s ", fnum(e, sizeof e, o->t.estimate, dg, 1));
  if (o->verdict == 5 || isnan(o->p_adj)) snprintf(adj, sizeof adj, "unadjusted");
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
    if (o->verdict == 4) {
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

/* One paragraph a user can paste: the primary outcome, power, then the secondary ones. */
static char *verdict(const Analysis *A, const Comparison *c) {
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
  if ((p->verdict == 1 || p->verdict == -1) && dm->verdict != 2) {
    char x[32], y[32], s1[32], s2[32];
    add(&t, "This is speed on the training set; on the dev set the minimum loss is %s vs %s (",
        fnum(x, sizeof x, dm->mean[0], 3, 0), fnum(y, sizeof y, dm->mean[1], 3, 0));
    verdict_words(&t, dm, &OUTCOME[O_DEV_MIN], vb);
    add(&t, "), reached at step %s vs %s on average. ", fnum(s1, sizeof s1, c->out[O_DEV_MIN_STEP].mean[0], 0, 0),
        fnum(s2, sizeof s2, c->out[O_DEV_MIN_STEP].mean[1], 0, 0));
  }
  const Outcome *nz = &c->out[O_NOISE];
  if (p->verdict == 1 || p->verdict == -1) { /* the seed's confound: is the faster group also noisier? */
    const int faster_noisier = (p->verdict == -1 && nz->verdict == 1) || (p->verdict == 1 && nz->verdict == -1);
    if (faster_noisier)
      add(&t, "The faster group is also less steady (noise at equal loss, below): the speed measure, an isotonic fit's "
              "crossing, is built not to read noise as speed (on known-truth sweeps a twice as noisy group was called "
              "faster in about 1%% of them). ");
    else if (nz->verdict == 4 || nz->verdict == 0 || nz->verdict == 2)
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
  speed_text(&t, c, O_ACC_SPEED, vb);
  static const int ORDER[] = {O_FINAL_ACC, O_BEST_ACC, O_LOSS_AUC, O_DEV_MIN, O_DEV_FINAL, O_DEV_MIN_STEP};
  for (size_t i = 0; i < sizeof ORDER / sizeof *ORDER; i++) stat_text(&t, c, ORDER[i], vb, 1);
  steadiness_text(&t, A, c, vb);
  if (c->learned_pairs >= 2) stat_text(&t, c, O_ACC_OSC, vb, 1);
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

/* ---- formats ---- */

typedef struct {
  const char *path;
  char label[256];
  ResultsData d;
  Analysis A;
  int loaded, analysed;
} Section;

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
      if (same_group(d, A->g[g].first, r)) snprintf(key, sizeof key, "%s", A->g[g].key);
    fprintf(out, "%srun %d (%s, seed %d): %s\n", md ? "- " : "  ", r, key, d->seed[r],
            d->error[r][0] ? d->error[r] : "(no reason recorded)");
  }
}

/* Runs whose tokenizer turned more than UNK_WARN of the training text into [UNK]: their
   verdicts compare models that could not read much of the data. */
static int unk_runs(const ResultsData *d, double *worst) {
  int n = 0;
  *worst = 0;
  for (int r = 0; r < d->nruns; r++)
    if (d->unk[r] > UNK_WARN) {
      n++;
      if (d->unk[r] > *worst) *worst = d->unk[r];
    }
  return n;
}

static void unk_note(const ResultsData *d, FILE *out, int md) {
  double worst;
  int n = unk_runs(d, &worst);
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
    char *v = verdict(A, &A->c[i]);
    fprintf(out, "%s%s\n\n", md ? "- " : "", v ? v : "(out of memory)");
    free(v);
  }
  correlation_text(A, out, md);
}

/* ---- JSON: numbers as numbers, booleans as booleans, null where there is none ---- */

static cJSON *json_num(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static cJSON *json_pair(double a, double b) {
  cJSON *arr = cJSON_CreateArray();
  cJSON_AddItemToArray(arr, json_num(a));
  cJSON_AddItemToArray(arr, json_num(b));
  return arr;
}

/* A grid value as its column's type. */
static cJSON *json_value(const ResultsData *d, int r, int c) {
  const char *v = d->values[r][c];
  switch (d->coltype[c]) {
  case VT_BOOL: return cJSON_CreateBool(strcmp(v, "true") == 0);
  case VT_I64:
  case VT_F64: return cJSON_CreateNumber(strtod(v, NULL));
  default: return cJSON_CreateString(v);
  }
}

static cJSON *json_outcome(const Outcome *o, int k) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddBoolToObject(m, "primary", k == O_LOSS_SPEED);
  cJSON_AddItemToObject(m, "group_means", json_pair(o->mean[0], o->mean[1]));
  cJSON_AddItemToObject(m, "estimate", json_num(o->t.estimate));
  cJSON_AddItemToObject(m, "ci95", json_pair(o->t.lo, o->t.hi));
  /* an end that is not a number: -1 / +1 for -inf / +inf (too few pairs, or censored signs), 0 finite */
  int inf[2] = {isinf(o->t.lo) ? (o->t.lo < 0 ? -1 : 1) : 0, isinf(o->t.hi) ? (o->t.hi < 0 ? -1 : 1) : 0};
  cJSON_AddItemToObject(m, "ci95_infinite", cJSON_CreateIntArray(inf, 2));
  cJSON_AddItemToObject(m, "ci95_open", cJSON_CreateIntArray((int[2]){o->t.lo_open, o->t.hi_open}, 2));
  cJSON_AddItemToObject(m, "p", json_num(o->t.p));
  cJSON_AddBoolToObject(m, "p_is_bound", o->t.p_floor); /* p is STATS_P_FLOOR: the true p is smaller */
  cJSON_AddNumberToObject(m, "family_tests", o->family_m);
  cJSON_AddItemToObject(m, "p_adjusted", json_num(o->p_adj));
  cJSON_AddBoolToObject(m, "exact", o->t.exact);
  cJSON_AddItemToObject(m, "smallest_possible_p", json_num(o->t.p_min));
  cJSON_AddNumberToObject(m, "pairs", o->t.n);
  cJSON_AddNumberToObject(m, "ranked_pairs", o->t.used);
  cJSON_AddNumberToObject(m, "tied_pairs", o->t.zeros);
  cJSON_AddNumberToObject(m, "censored_pairs", o->t.worst);
  cJSON_AddNumberToObject(m, "undetermined_pairs", o->t.undetermined);
  if (OUTCOME[k].stat < 0 && k != O_NOISE) cJSON_AddItemToObject(m, "censored_runs", cJSON_CreateIntArray(o->censored, 2));
  cJSON_AddItemToObject(m, "sd_of_differences", json_num(o->sd));
  cJSON_AddItemToObject(m, "grid", json_num(o->grid));
  cJSON_AddStringToObject(m, "verdict", verdict_name(o->verdict));
  return m;
}

static cJSON *json_comparison(const Analysis *A, const Comparison *c) {
  const ResultsData *d = A->d;
  cJSON *o = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(o, "keys");
  cJSON_AddStringToObject(o, "key", c->key);
  for (int k = 0; k < c->ncols; k++) cJSON_AddItemToArray(keys, cJSON_CreateString(d->colname[c->cols[k]]));
  cJSON_AddStringToObject(o, "from", A->g[c->g1].key);
  cJSON_AddStringToObject(o, "to", A->g[c->g2].key);
  cJSON_AddNumberToObject(o, "pairs", c->pairs);
  cJSON_AddNumberToObject(o, "learned_pairs", c->learned_pairs);
  cJSON_AddItemToObject(o, "loss_target", json_num(c->target[0]));
  cJSON_AddItemToObject(o, "acc_target", json_num(c->target[1]));
  cJSON *km = cJSON_AddObjectToObject(o, "kaplan_meier");
  for (int w = 0; w < 2; w++) {
    cJSON *m = cJSON_AddObjectToObject(km, OUTCOME[w == 0 ? O_LOSS_SPEED : O_ACC_SPEED].name);
    cJSON_AddItemToObject(m, "median", json_pair(c->km[w][0], c->km[w][1]));
    cJSON *r = cJSON_AddArrayToObject(m, "median_reached");
    cJSON_AddItemToArray(r, cJSON_CreateBool(c->km_reached[w][0]));
    cJSON_AddItemToArray(r, cJSON_CreateBool(c->km_reached[w][1]));
    cJSON_AddItemToObject(m, "never_reached", cJSON_CreateIntArray(c->out[w == 0 ? O_LOSS_SPEED : O_ACC_SPEED].censored, 2));
    cJSON_AddItemToObject(m, "runs", cJSON_CreateIntArray(c->finished, 2));
  }
  cJSON *outs = cJSON_AddObjectToObject(o, "outcomes");
  for (int k = 0; k < NOUTCOMES; k++) cJSON_AddItemToObject(outs, OUTCOME[k].name, json_outcome(&c->out[k], k));
  cJSON *st = cJSON_AddObjectToObject(o, "steadiness");
  cJSON_AddItemToObject(st, "levels", cJSON_CreateDoubleArray(c->levels, c->nlevels));
  cJSON_AddItemToObject(st, "level_gap", json_num(c->level_gap));
  cJSON_AddNumberToObject(st, "tolerance", A->o.level_tolerance);
  cJSON_AddItemToObject(st, "late_loss_level", json_pair(c->late_level[0], c->late_level[1]));
  cJSON *pw = cJSON_AddObjectToObject(o, "power");
  cJSON_AddNumberToObject(pw, "holm_rank", c->primary_rank);
  cJSON_AddNumberToObject(pw, "primary_tests", c->primary_m);
  cJSON_AddNumberToObject(pw, "alpha", c->alpha_primary);
  cJSON_AddItemToObject(pw, "sd_of_differences", json_num(c->out[O_LOSS_SPEED].sd));
  cJSON_AddItemToObject(pw, "detectable_shift", json_num(c->mde));
  cJSON_AddBoolToObject(pw, "detectable_shift_infinite", isinf(c->mde)); /* too few pairs for any shift */
  cJSON *tab = cJSON_AddArrayToObject(pw, "table");
  for (int r = 0; r < NPOWER_ROWS; r++) {
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "pairs", c->pairs * POWER_MULTIPLE[r]);
    cJSON_AddItemToObject(row, "detectable_shift", json_num(c->mde_table[r]));
    cJSON_AddBoolToObject(row, "infinite", isinf(c->mde_table[r]));
    cJSON_AddItemToArray(tab, row);
  }
  cJSON_AddNumberToObject(pw, "draws", A->o.power_draws);
  cJSON_AddNumberToObject(pw, "seed", ANALYSIS_POWER_SEED);
  cJSON_AddItemToObject(pw, "effect", json_num(c->effect));
  if (c->pairs_needed > 0) cJSON_AddNumberToObject(pw, "pairs_needed", c->pairs_needed);
  else cJSON_AddNullToObject(pw, "pairs_needed");
  cJSON_AddItemToObject(o, RUN_STATUS_NAME[RUN_FAILED],
                        cJSON_CreateIntArray((int[2]){A->g[c->g1].failed, A->g[c->g2].failed}, 2));
  char *v = verdict(A, c);
  cJSON_AddStringToObject(o, "verdict", v ? v : "");
  free(v);
  if (c->warning[0]) cJSON_AddStringToObject(o, "warning", c->warning);
  return o;
}

static cJSON *json_section(const Section *s, int mp, int ms) {
  const Analysis *A = &s->A;
  const ResultsData *d = A->d;
  cJSON *root = cJSON_CreateObject(), *par = cJSON_AddObjectToObject(root, "parameters");
  cJSON_AddStringToObject(root, "label", s->label);
  cJSON_AddStringToObject(root, "file", s->path);
  cJSON_AddNumberToObject(root, "runs", d->nruns);
  cJSON_AddItemToObject(par, "loss_target", json_num(A->o.loss_target));
  cJSON_AddItemToObject(par, "acc_target", json_num(A->o.acc_target));
  cJSON_AddNumberToObject(par, "acc_fraction", A->o.acc_fraction);
  cJSON_AddNumberToObject(par, "smooth", A->o.smooth);
  cJSON_AddItemToObject(par, "effect", json_num(A->o.effect));
  cJSON_AddNumberToObject(par, "level_tolerance", A->o.level_tolerance);
  cJSON_AddNumberToObject(par, "primary_tests", mp);
  cJSON_AddNumberToObject(par, "secondary_tests", ms);
  cJSON_AddBoolToObject(par, "secondary_tested", A->gate_open);
  cJSON_AddNumberToObject(par, "family_wise_error", ANALYSIS_ALPHA);
  cJSON *groups = cJSON_AddArrayToObject(root, "groups");
  for (int i = 0; i < A->ng; i++) {
    const Group *g = &A->g[i];
    cJSON *o = cJSON_CreateObject(), *vals = cJSON_AddObjectToObject(o, "values");
    cJSON_AddItemToArray(groups, o);
    cJSON_AddStringToObject(o, "group", g->key);
    for (int c = 0; c < d->ncols; c++) cJSON_AddItemToObject(vals, d->colname[c], json_value(d, g->first, c));
    cJSON_AddNumberToObject(o, "runs", g->n);
    cJSON_AddNumberToObject(o, "unfinished", g->unfinished);
    cJSON_AddNumberToObject(o, RUN_STATUS_NAME[RUN_FAILED], g->failed); /* every kind of failure */
    cJSON_AddNumberToObject(o, RUN_STATUS_NAME[RUN_DIVERGED], g->diverged);
    cJSON_AddNumberToObject(o, "could_not_run", g->not_run);
    cJSON *why = cJSON_AddArrayToObject(o, "could_not_run_reasons");
    for (int r = 0; r < d->nruns; r++)
      if (A->rs[r].not_run && same_group(d, g->first, r)) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "run", r);
        cJSON_AddNumberToObject(x, "seed", d->seed[r]);
        cJSON_AddStringToObject(x, "error", d->error[r]);
        cJSON_AddItemToArray(why, x);
      }
    cJSON_AddItemToObject(o, "majority_baseline", json_num(g->majority));
    cJSON_AddItemToObject(o, "bow_baseline", json_num(g->bow));
    for (int k = 0; k < NSTATS; k++) {
      cJSON *m = cJSON_AddObjectToObject(o, STAT[k].name);
      cJSON_AddItemToObject(m, "mean", json_num(g->mean[k]));
      cJSON_AddItemToObject(m, "sd", json_num(g->std[k]));
      cJSON_AddItemToObject(m, "median", json_num(g->median[k]));
    }
  }
  cJSON *comps = cJSON_AddArrayToObject(root, "comparisons");
  for (int i = 0; i < A->nc; i++) cJSON_AddItemToArray(comps, json_comparison(A, &A->c[i]));
  if (A->note[0]) cJSON_AddStringToObject(root, "note", A->note);
  double worst;
  int nunk = unk_runs(d, &worst);
  cJSON *unk = cJSON_AddObjectToObject(root, "unk");
  cJSON_AddNumberToObject(unk, "threshold", UNK_WARN);
  cJSON_AddNumberToObject(unk, "runs_over", nunk);
  cJSON_AddItemToObject(unk, "max_over", nunk ? cJSON_CreateNumber(worst) : cJSON_CreateNull());
  cJSON *corr = cJSON_AddArrayToObject(root, "correlations");
  for (int i = 0; i < A->ncorr; i++) {
    const Correlation *c = &A->corr[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(corr, o);
    cJSON_AddStringToObject(o, "key", d->colname[c->col]);
    cJSON_AddBoolToObject(o, "log_uniform", A->col_random[c->col] == 2);
    cJSON_AddStringToObject(o, "context", c->context);
    cJSON_AddStringToObject(o, "statistic", STAT[c->stat].name);
    cJSON_AddNumberToObject(o, "runs", c->n);
    cJSON_AddItemToObject(o, "spearman_rho", json_num(c->rho));
    cJSON_AddItemToObject(o, "p", json_num(c->p));
    cJSON_AddItemToObject(o, "p_adjusted", json_num(c->p_adj));
  }
  return root;
}

/* ---- CSV: one column per quantity, empty where it does not apply ---- */

static void csv_field(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

static void csv_num(FILE *out, double x) {
  if (isnan(x)) fputs(",", out);
  else if (isinf(x)) fprintf(out, ",%s", x < 0 ? "-inf" : "inf");
  else fprintf(out, ",%.10g", x);
}

static const char CSV_HEAD[] = "file,table,key,group,other,statistic,family,n,n_pairs,censored,mean,sd,median,estimate,"
                               "ci_low,ci_high,p,p_adjusted,verdict\n";

static void write_csv(const Section *s, FILE *out) {
  const Analysis *A = &s->A;
  for (int i = 0; i < A->ng; i++) {
    const Group *g = &A->g[i];
    for (int k = 0; k < NSTATS; k++) {
      csv_field(out, s->label);
      fputs(",group,,", out);
      csv_field(out, g->key);
      fprintf(out, ",,%s,,%d,,", STAT[k].name, g->n);
      csv_num(out, g->mean[k]);
      csv_num(out, g->std[k]);
      csv_num(out, g->median[k]);
      fputs(",,,,,,\n", out);
    }
  }
  for (int i = 0; i < A->nc; i++) {
    const Comparison *c = &A->c[i];
    for (int k = 0; k < NOUTCOMES; k++) {
      const Outcome *o = &c->out[k];
      csv_field(out, s->label);
      fputs(",comparison,", out);
      csv_field(out, c->key);
      fputc(',', out);
      csv_field(out, A->g[c->g1].key);
      fputc(',', out);
      csv_field(out, A->g[c->g2].key);
      fprintf(out, ",%s,%s,%d,%d,%d,,,", OUTCOME[k].name, k == O_LOSS_SPEED ? "primary" : "secondary", o->t.n, o->t.used,
              o->t.worst + o->t.undetermined);
      csv_num(out, o->t.estimate);
      csv_num(out, o->t.lo);
      csv_num(out, o->t.hi);
      csv_num(out, o->t.p);
      csv_num(out, o->p_adj);
      fprintf(out, ",%s\n", verdict_name(o->verdict));
    }
  }
  for (int i = 0; i < A->ncorr; i++) {
    const Correlation *c = &A->corr[i];
    csv_field(out, s->label);
    fputs(",correlation,", out);
    csv_field(out, A->d->colname[c->col]);
    fputc(',', out);
    csv_field(out, c->context);
    fprintf(out, ",,%s,secondary,%d,,,,,", STAT[c->stat].name, c->n);
    csv_num(out, c->rho);
    fputs(",,", out);
    csv_num(out, c->p);
    csv_num(out, c->p_adj);
    fputs(",\n", out);
  }
}

/* ---- runs-csv: one row per run, for pandas and R ---- */

/* Dotted keys of a JSON object's scalar leaves, appended to keys (distinct). */
static int config_keys(const cJSON *o, const char *prefix, char ***keys, int *n) {
  for (const cJSON *it = o ? o->child : NULL; it; it = it->next) {
    char k[512];
    snprintf(k, sizeof k, "%s%s%s", prefix, prefix[0] ? "." : "", it->string ? it->string : "");
    if (cJSON_IsObject(it)) {
      if (config_keys(it, k, keys, n)) return -1;
      continue;
    }
    int have = 0;
    for (int i = 0; i < *n && !have; i++) have = strcmp((*keys)[i], k) == 0;
    if (have) continue;
    char **g = realloc(*keys, sizeof(char *) * (size_t)(*n + 1));
    if (!g) return -1;
    *keys = g;
    if (!(g[*n] = strdup(k))) return -1;
    (*n)++;
  }
  return 0;
}

static const cJSON *config_at(const cJSON *root, const char *dotted) {
  char k[512];
  snprintf(k, sizeof k, "%s", dotted);
  const cJSON *o = root;
  for (char *save = NULL, *part = strtok_r(k, ".", &save); part && o; part = strtok_r(NULL, ".", &save))
    o = cJSON_GetObjectItemCaseSensitive(o, part);
  return o;
}

static void csv_json_value(FILE *out, const cJSON *v) {
  fputc(',', out);
  if (!v || cJSON_IsNull(v)) return;
  if (cJSON_IsString(v)) csv_field(out, v->valuestring);
  else if (cJSON_IsBool(v)) fputs(cJSON_IsTrue(v) ? "true" : "false", out);
  else if (cJSON_IsNumber(v)) fprintf(out, "%.17g", v->valuedouble);
  else {
    char *t = cJSON_PrintUnformatted(v);
    csv_field(out, t ? t : "");
    cJSON_free(t);
  }
}

static int write_runs_csv(const Section *s, FILE *out, int first, Err *e) {
  const ResultsData *d = &s->d;
  const Analysis *A = &s->A;
  cJSON **cfg = calloc((size_t)(d->nruns ? d->nruns : 1), sizeof(cJSON *));
  char **keys = NULL;
  int nk = 0, rc = cfg ? 0 : errf(e, "out of memory");
  for (int r = 0; r < d->nruns && !rc && d->run_configs; r++)
    if (d->run_configs[r] && (cfg[r] = cJSON_Parse(d->run_configs[r])) && config_keys(cfg[r], "", &keys, &nk))
      rc = errf(e, "out of memory");
  if (!rc) {
    if (first) fputs("file,run_id,seed", out);
    else fputs("\n", out); /* a new header per file: their columns differ */
    if (!first) fputs("file,run_id,seed", out);
    for (int c = 0; c < d->ncols; c++) fprintf(out, ",%s", d->colname[c]);
    fputs(",status,error,steps_done,total_steps,majority_baseline,bow_baseline", out);
    for (int k = 0; k < NSTATS; k++) fprintf(out, ",%s", STAT[k].name);
    for (int k = 0; k < nk; k++) fprintf(out, ",config.%s", keys[k]);
    fputc('\n', out);
    for (int r = 0; r < d->nruns; r++) {
      csv_field(out, s->label);
      fprintf(out, ",%d,%d", r, d->seed[r]);
      for (int c = 0; c < d->ncols; c++) {
        fputc(',', out);
        if (d->coltype[c] == VT_STR) csv_field(out, d->values[r][c]);
        else fputs(d->values[r][c], out);
      }
      fprintf(out, ",%s,", d->status[r]);
      csv_field(out, d->error[r]);
      fprintf(out, ",%ld,%ld", d->steps_done[r], d->total_steps[r]);
      csv_num(out, d->majority[r]);
      csv_num(out, d->bow[r]);
      for (int k = 0; k < NSTATS; k++) csv_num(out, A->rs[r].s[k]);
      for (int k = 0; k < nk; k++) csv_json_value(out, cfg[r] ? config_at(cfg[r], keys[k]) : NULL);
      fputc('\n', out);
    }
  }
  for (int r = 0; cfg && r < d->nruns; r++) cJSON_Delete(cfg[r]);
  free(cfg);
  for (int k = 0; k < nk; k++) free(keys[k]);
  free(keys);
  return rc;
}

/* ---- one report ---- */

/* The page: the report's JSON and each file's runs and curves (report/html.c). */
static int write_html(Section *secs, int n, const ReportOptions *o, FILE *out, int mp, int ms, Err *e) {
  cJSON *root = n > 1 ? cJSON_CreateObject() : NULL, *files = root ? cJSON_AddArrayToObject(root, "files") : NULL;
  cJSON *one = NULL;
  const ResultsData **data = calloc((size_t)n, sizeof *data);
  const char **labels = calloc((size_t)n, sizeof *labels), **paths = calloc((size_t)n, sizeof *paths);
  for (int i = 0; i < n; i++) {
    cJSON *j = json_section(&secs[i], mp, ms);
    if (files) cJSON_AddItemToArray(files, j);
    else one = j;
    if (data && labels && paths) data[i] = &secs[i].d, labels[i] = secs[i].label, paths[i] = secs[i].path;
  }
  char *text = cJSON_PrintUnformatted(root ? root : one);
  cJSON_Delete(root ? root : one);
  int rc = text && data && labels && paths ? html_write(out, data, labels, paths, n, text, o->refresh, e)
                                           : errf(e, "out of memory writing the page");
  cJSON_free(text);
  free(data);
  free(labels);
  free(paths);
  return rc;
}

static int emit(Section *secs, int n, const ReportOptions *o, FILE *out, int mp, int ms, Err *e) {
  if (o->format == REPORT_HTML) return write_html(secs, n, o, out, mp, ms, e);
  if (o->format == REPORT_JSON) {
    cJSON *root = n > 1 ? cJSON_CreateObject() : NULL, *files = root ? cJSON_AddArrayToObject(root, "files") : NULL;
    cJSON *one = NULL;
    for (int i = 0; i < n; i++) {
      cJSON *j = json_section(&secs[i], mp, ms);
      if (files) cJSON_AddItemToArray(files, j);
      else one = j;
    }
    char *text = cJSON_Print(root ? root : one);
    int rc = text ? (fprintf(out, "%s\n", text), 0) : errf(e, "out of memory printing JSON");
    cJSON_free(text);
    cJSON_Delete(root ? root : one);
    return rc;
  }
  if (o->format == REPORT_CSV) fputs(CSV_HEAD, out);
  for (int i = 0; i < n; i++) {
    if (o->format == REPORT_CSV) write_csv(&secs[i], out);
    else if (o->format == REPORT_RUNS_CSV) {
      if (write_runs_csv(&secs[i], out, i == 0, e)) return -1;
    } else write_text(&secs[i], out, o->format == REPORT_MARKDOWN, mp, ms);
  }
  return 0;
}

int report_write(const char *const *paths, int n, const ReportOptions *o, FILE *out, Err *e) {
  Section *secs = calloc((size_t)(n ? n : 1), sizeof(Section));
  Analysis *As = calloc((size_t)(n ? n : 1), sizeof(Analysis));
  int rc = secs && As ? 0 : errf(e, "out of memory");
  for (int i = 0; i < n && !rc; i++) {
    Section *s = &secs[i];
    s->path = paths[i];
    if ((rc = results_load(paths[i], &s->d, e))) break;
    s->loaded = 1;
    AnalysisOptions ao;
    rc = report_file_options(o, &s->d, paths[i], &ao, s->label, sizeof s->label, e);
    if (!rc) rc = analysis_run(&s->A, &s->d, &ao, e);
    s->analysed = !rc;
  }
  int mp = 0, ms = 0;
  if (!rc) {
    for (int i = 0; i < n; i++) As[i] = secs[i].A; /* shallow: the adjusted numbers are copied back */
    int gate;
    analysis_adjust(As, n, &mp, &ms, &gate);
    for (int i = 0; i < n; i++) secs[i].A = As[i];
    rc = emit(secs, n, o, out, mp, ms, e);
  }
  for (int i = 0; secs && i < n; i++) {
    if (secs[i].analysed) analysis_free(&secs[i].A);
    if (secs[i].loaded) results_data_free(&secs[i].d);
  }
  free(secs);
  free(As);
  return rc;
}
