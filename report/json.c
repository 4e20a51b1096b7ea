/* The report as JSON: numbers as numbers, booleans as booleans, null where there is none. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report/emit.h"

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
  char *v = report_verdict_text(A, c);
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
  report_options_json(&A->o, par);
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
      if (A->rs[r].not_run && analysis_same_group(d, g->first, r)) {
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
  int nunk = analysis_unk_runs(d, &worst);
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


cJSON *report_json(const Report *r) {
  if (r->n == 1) return json_section(&r->secs[0], r->mp, r->ms);
  cJSON *root = cJSON_CreateObject(), *files = cJSON_AddArrayToObject(root, "files");
  for (int i = 0; files && i < r->n; i++) cJSON_AddItemToArray(files, json_section(&r->secs[i], r->mp, r->ms));
  return root;
}

int emit_json(const Report *r, FILE *out, Err *e) {
  cJSON *root = report_json(r);
  char *text = root ? cJSON_Print(root) : NULL;
  int rc = text ? (fprintf(out, "%s\n", text), 0) : errf(e, "out of memory printing JSON");
  cJSON_free(text);
  cJSON_Delete(root);
  return rc;
}
