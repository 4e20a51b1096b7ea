/* The report as CSV, one column per quantity, empty where it does not apply: one row per
   group statistic, comparison outcome and correlation (csv); one row per run with its grid
   values, statistics and resolved config (runs-csv). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report/emit.h"

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

/* runs-csv: one row per run, for pandas and R */

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


int emit_csv(const Report *r, FILE *out, Err *e) {
  (void)e;
  fputs(CSV_HEAD, out);
  for (int i = 0; i < r->n; i++) write_csv(&r->secs[i], out);
  return 0;
}

int emit_runs_csv(const Report *r, FILE *out, Err *e) {
  for (int i = 0; i < r->n; i++)
    if (write_runs_csv(&r->secs[i], out, i == 0, e)) return -1;
  return 0;
}
