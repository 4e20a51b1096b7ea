#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "io/modelfiles.h"
#include "jobs/job.h"
#include "src/rng.h"
#include "sweep/grid.h"


void run_label(const Sweep *s, const PlannedRun *r, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int a = 0; a < s->naxes && len < size; a++)
    len += (size_t)snprintf(out + len, size - len, "%s=%s ", s->axes[a].key, s->axes[a].colvals[r->choice[a]]);
  if (len < size) snprintf(out + len, size - len, "seed=%d", r->seed);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* Two runs with one seed would be one run twice (and one row on resume). */
static int no_duplicate_seeds(Sweep *s, Err *e) {
  int *sorted = malloc(sizeof(int) * (size_t)s->nseeds), rc = 0;
  if (!sorted) return errf(e, "out of memory");
  memcpy(sorted, s->seeds, sizeof(int) * (size_t)s->nseeds);
  qsort(sorted, (size_t)s->nseeds, sizeof(int), cmp_int);
  for (int i = 1; i < s->nseeds && !rc; i++)
    if (sorted[i] == sorted[i - 1]) rc = errf(e, "%s: \"sweep.seeds\" lists seed %d twice", s->path, sorted[i]);
  free(sorted);
  return rc;
}

static int parse_seeds(Sweep *s, const cJSON *seeds, Err *e) {
  if (!seeds) return 0;
  if (cJSON_IsArray(seeds)) {
    s->nseeds = cJSON_GetArraySize(seeds);
    if (s->nseeds == 0) return errf(e, "%s: \"sweep.seeds\" is empty", s->path);
    s->seeds = malloc(sizeof(int) * (size_t)s->nseeds);
    if (!s->seeds) return errf(e, "out of memory");
    int i = 0;
    for (const cJSON *it = seeds->child; it; it = it->next, i++) {
      if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 0 ||
          it->valuedouble > 2147483647)
        return errf(e, "%s: \"sweep.seeds\"[%d] must be a non-negative integer", s->path, i);
      s->seeds[i] = (int)it->valuedouble;
    }
    return no_duplicate_seeds(s, e);
  }
  if (!cJSON_IsObject(seeds)) return errf(e, "%s: \"sweep.seeds\" must be a list or {\"from\", \"count\"}", s->path);
  const cJSON *from = NULL, *count = NULL;
  for (const cJSON *it = seeds->child; it; it = it->next) {
    if (strcmp(it->string, "from") == 0) from = it;
    else if (strcmp(it->string, "count") == 0) count = it;
    else return errf(e, "%s: unknown key \"sweep.seeds.%s\"", s->path, it->string);
  }
  if (!cJSON_IsNumber(from) || !cJSON_IsNumber(count) || count->valuedouble < 1 || count->valuedouble > 1e6 ||
      from->valuedouble < 0 || from->valuedouble != floor(from->valuedouble) || count->valuedouble != floor(count->valuedouble))
    return errf(e, "%s: \"sweep.seeds\" needs integers \"from\" >= 0 and \"count\" >= 1", s->path);
  if (from->valuedouble + count->valuedouble - 1 > 2147483647)
    return errf(e, "%s: \"sweep.seeds\" from %.0f count %.0f passes the largest seed, 2147483647", s->path,
                from->valuedouble, count->valuedouble);
  s->nseeds = (int)count->valuedouble;
  s->seeds = malloc(sizeof(int) * (size_t)s->nseeds);
  if (!s->seeds) return errf(e, "out of memory");
  for (int i = 0; i < s->nseeds; i++) s->seeds[i] = (int)from->valuedouble + i;
  return 0;
}

static int is_section(const char *key) {
  static const char *const SECTIONS[] = {"model", "data", "train", "optimizer", "reinit"};
  for (size_t i = 0; i < sizeof SECTIONS / sizeof *SECTIONS; i++)
    if (strcmp(key, SECTIONS[i]) == 0) return 1;
  return 0;
}

/* Values that are whole sections ("data": [{"name": "tnews", ...}, ...]): each must be an
   object with a string "name", which the results file's column shows. */
static int parse_whole_axis(Sweep *s, const cJSON *it, GridAxis *ax, Err *e) {
  ax->whole = 1;
  ax->type = VT_STR;
  int k = 0;
  for (const cJSON *v = it->child; v; v = v->next, k++) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (!cJSON_IsObject(v) || !cJSON_IsString(name) || !name->valuestring[0])
      return errf(e, "%s: \"sweep.grid.%s\"[%d] must be an object with a \"name\"", s->path, ax->key, k);
    cJSON *copy = cJSON_Duplicate(v, 1);
    if (!copy) return errf(e, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "name");
    ax->vals[k] = cJSON_PrintUnformatted(copy);
    ax->colvals[k] = cJSON_PrintUnformatted(name);
    cJSON_Delete(copy);
    if (!ax->vals[k] || !ax->colvals[k]) return errf(e, "out of memory");
    if ((int)strlen(name->valuestring) + 1 > ax->strsize) ax->strsize = (int)strlen(name->valuestring) + 1;
  }
  for (int i = 0; i < ax->nvals; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(ax->colvals[i], ax->colvals[j]) == 0)
        return errf(e, "%s: \"sweep.grid.%s\" names %s twice", s->path, ax->key, ax->colvals[i]);
  return 0;
}

static int parse_axis(Sweep *s, const cJSON *it, GridAxis *ax, const char *where, Err *e) {
  snprintf(ax->key, sizeof ax->key, "%s", it->string);
  ax->leader = (int)(ax - s->axes);
  if (strcmp(ax->key, "train.seed") == 0) return errf(e, "%s: sweep seeds with \"sweep.seeds\", not \"%s\"", s->path, where);
  int section = is_section(ax->key);
  if (!section && !runconfig_key_known(ax->key)) return errf(e, "%s: unknown key \"%s\" in \"%s\"", s->path, ax->key, where);
  if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
    return errf(e, "%s: \"%s.%s\" must be a non-empty list of values", s->path, where, ax->key);
  ax->nvals = cJSON_GetArraySize(it);
  ax->vals = calloc((size_t)ax->nvals, sizeof(char *));
  ax->colvals = calloc((size_t)ax->nvals, sizeof(char *));
  if (!ax->vals || !ax->colvals) return errf(e, "out of memory");
  if (section) return parse_whole_axis(s, it, ax, e);
  int nb = 0, nn = 0, ns = 0, integral = 1, k = 0;
  for (const cJSON *v = it->child; v; v = v->next, k++) {
    nb += cJSON_IsBool(v);
    ns += cJSON_IsString(v);
    if (cJSON_IsNumber(v)) {
      nn++;
      integral &= v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15;
    }
    if (cJSON_IsString(v) && (int)strlen(v->valuestring) + 1 > ax->strsize) ax->strsize = (int)strlen(v->valuestring) + 1;
    if (!(ax->vals[k] = cJSON_PrintUnformatted(v)) || !(ax->colvals[k] = strdup(ax->vals[k]))) return errf(e, "out of memory");
  }
  if (nb == ax->nvals) ax->type = VT_BOOL;
  else if (nn == ax->nvals) ax->type = integral ? VT_I64 : VT_F64;
  else if (ns == ax->nvals) ax->type = VT_STR;
  else return errf(e, "%s: \"%s.%s\" mixes value types", s->path, where, ax->key);
  for (int i = 0; strcmp(where, "sweep.grid") == 0 && i < ax->nvals; i++) /* zip and random: per point */
    for (int j = 0; j < i; j++)
      if (strcmp(ax->vals[i], ax->vals[j]) == 0)
        return errf(e, "%s: \"%s.%s\" lists %s twice", s->path, where, ax->key, ax->vals[i]);
  return 0;
}

/* Two points of a zip or random group with the same values would be one run twice. */
static int distinct_points(const Sweep *s, int first, const char *where, Err *e) {
  int n = s->axes[first].nvals;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++) {
      int same = 1;
      for (int a = first; a < s->naxes && same; a++) same = strcmp(s->axes[a].vals[i], s->axes[a].vals[j]) == 0;
      if (same) return errf(e, "%s: \"%s\" has points %d and %d with the same values", s->path, where, j, i);
    }
  return 0;
}

static GridAxis *new_axis(Sweep *s, const char *key, Err *e) {
  for (int a = 0; a < s->naxes; a++)
    if (strcmp(s->axes[a].key, key) == 0) {
      errf(e, "%s: \"%s\" is swept twice (grid, zip and random keys must differ)", s->path, key);
      return NULL;
    }
  if (s->naxes == MAX_AXES) {
    errf(e, "%s: more than %d swept keys", s->path, MAX_AXES);
    return NULL;
  }
  return &s->axes[s->naxes++];
}

/* "sweep.zip": {"k1": [...], "k2": [...]}: the lists move together (same length). */
static int parse_zip(Sweep *s, const cJSON *z, Err *e) {
  if (!cJSON_IsObject(z) || !z->child) return errf(e, "%s: \"sweep.zip\" must be an object of equally long lists", s->path);
  int first = s->naxes;
  for (const cJSON *it = z->child; it; it = it->next) {
    GridAxis *ax = new_axis(s, it->string, e);
    if (!ax || parse_axis(s, it, ax, "sweep.zip", e)) return -1;
    ax->leader = first;
    if (ax->nvals != s->axes[first].nvals)
      return errf(e, "%s: \"sweep.zip\" lists differ in length (%s: %d, %s: %d)", s->path, s->axes[first].key,
                  s->axes[first].nvals, ax->key, ax->nvals);
  }
  return distinct_points(s, first, "sweep.zip", e);
}

/* One sampled value of a distribution as JSON text. */
static char *sample(const cJSON *dist, Rng *r, const char *key, const char *path, Err *e) {
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(dist, "uniform"), *l = cJSON_GetObjectItemCaseSensitive(dist, "log_uniform");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(dist, "choice"), *range = u ? u : l;
  char text[64];
  if (cJSON_GetArraySize(dist) == 1 && range && cJSON_GetArraySize(range) == 2 && cJSON_IsNumber(range->child) &&
      cJSON_IsNumber(range->child->next)) {
    double lo = range->child->valuedouble, hi = range->child->next->valuedouble, x = rng_uniform53(r);
    if (!(lo < hi) || (l && !(lo > 0))) {
      errf(e, "%s: \"sweep.random.params.%s\": the range must be [low, high] with low < high%s", path, key,
           l ? " and low > 0" : "");
      return NULL;
    }
    double v = u ? lo + x * (hi - lo) : exp(log(lo) + x * (log(hi) - log(lo)));
    snprintf(text, sizeof text, "%.17g", v);
    return strdup(text);
  }
  if (cJSON_GetArraySize(dist) == 1 && cJSON_IsArray(c) && cJSON_GetArraySize(c) > 0)
    return cJSON_PrintUnformatted(cJSON_GetArrayItem(c, (int)rng_below(r, (uint32_t)cJSON_GetArraySize(c))));
  errf(e, "%s: \"sweep.random.params.%s\" must be {\"uniform\": [a, b]}, {\"log_uniform\": [a, b]} or "
          "{\"choice\": [...]}", path, key);
  return NULL;
}

/* "sweep.random": {"count": N, "seed": S, "params": {key: distribution}}: N points, each key's
   values drawn from (S, the key's place): a larger count keeps the first points. */
static int parse_random(Sweep *s, const cJSON *rnd, Err *e) {
  const cJSON *count = cJSON_GetObjectItemCaseSensitive(rnd, "count"), *seed = cJSON_GetObjectItemCaseSensitive(rnd, "seed");
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(rnd, "params");
  for (const cJSON *it = cJSON_IsObject(rnd) ? rnd->child : NULL; it; it = it->next)
    if (strcmp(it->string, "count") && strcmp(it->string, "seed") && strcmp(it->string, "params"))
      return errf(e, "%s: unknown key \"sweep.random.%s\" (count, seed, params)", s->path, it->string);
  if (!cJSON_IsObject(rnd) || !cJSON_IsNumber(count) || count->valuedouble < 1 || count->valuedouble > 100000 ||
      count->valuedouble != floor(count->valuedouble) || (seed && (!cJSON_IsNumber(seed) || seed->valuedouble < 0)) ||
      !cJSON_IsObject(params) || !params->child)
    return errf(e, "%s: \"sweep.random\" needs \"count\" (1..100000), \"params\" (an object) and an optional "
                   "\"seed\" >= 0", s->path);
  int n = (int)count->valuedouble, first = s->naxes, k = 0;
  cJSON *lists = cJSON_CreateObject();
  if (!lists) return errf(e, "out of memory");
  int rc = 0;
  for (const cJSON *p = params->child; p && !rc; p = p->next, k++) {
    Rng r;
    rng_init(&r, seed ? (uint64_t)seed->valuedouble : 0, STREAM_SWEEP_RANDOM(k));
    cJSON *list = cJSON_AddArrayToObject(lists, p->string);
    for (int i = 0; list && i < n && !rc; i++) {
      char *v = sample(p, &r, p->string, s->path, e);
      cJSON *item = v ? cJSON_Parse(v) : NULL;
      free(v);
      if (!item) rc = -1;
      else cJSON_AddItemToArray(list, item);
    }
  }
  for (const cJSON *it = lists->child; it && !rc; it = it->next) {
    GridAxis *ax = new_axis(s, it->string, e);
    if (!ax || parse_axis(s, it, ax, "sweep.random.params", e)) rc = -1;
    else ax->leader = first;
  }
  cJSON_Delete(lists);
  return rc ? rc : distinct_points(s, first, "sweep.random", e);
}

static int parse_sweep_section(Sweep *s, const cJSON *sw, Err *e) {
  if (!sw) return 0;
  if (!cJSON_IsObject(sw)) return errf(e, "%s: \"sweep\" must be an object", s->path);
  for (const cJSON *it = sw->child; it; it = it->next) {
    if (strcmp(it->string, "seeds") == 0) {
      if (parse_seeds(s, it, e)) return -1;
    } else if (strcmp(it->string, "grid") == 0) {
      if (!cJSON_IsObject(it)) return errf(e, "%s: \"sweep.grid\" must be an object", s->path);
      for (const cJSON *axj = it->child; axj; axj = axj->next) {
        GridAxis *ax = new_axis(s, axj->string, e);
        if (!ax || parse_axis(s, axj, ax, "sweep.grid", e)) return -1;
      }
    } else if (strcmp(it->string, "zip") == 0) {
      if (parse_zip(s, it, e)) return -1;
    } else if (strcmp(it->string, "random") == 0) {
      if (parse_random(s, it, e)) return -1;
    } else {
      return errf(e, "%s: unknown key \"sweep.%s\" (seeds, grid, zip, random)", s->path, it->string);
    }
  }
  return 0;
}

/* Merges the keys of the object json into section sec of root. */
static int merge_section(cJSON *root, const char *sec, const char *json) {
  cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, sec), *v = cJSON_Parse(json);
  if (!obj && !(obj = cJSON_AddObjectToObject(root, sec))) { cJSON_Delete(v); return -1; }
  if (!v) return -1;
  for (cJSON *it = v->child; it; it = it->next) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, it->string);
    cJSON_AddItemToObject(obj, it->string, cJSON_Duplicate(it, 1));
  }
  cJSON_Delete(v);
  return 0;
}

/* Sets a dotted key (section.name) in root to a parsed copy of json. */
static int set_dotted(cJSON *root, const char *dotted, const char *json) {
  char sec[128];
  const char *dot = strchr(dotted, '.');
  snprintf(sec, sizeof sec, "%.*s", (int)(dot - dotted), dotted);
  cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, sec);
  if (!obj && !(obj = cJSON_AddObjectToObject(root, sec))) return -1;
  cJSON *v = cJSON_Parse(json);
  if (!v) return -1;
  cJSON_DeleteItemFromObjectCaseSensitive(obj, dot + 1);
  cJSON_AddItemToObject(obj, dot + 1, v);
  return 0;
}

/* What steps and checkpoint sizes need, cached: train set size, label count, model shape. */
typedef struct {
  char train[4096], labels[4096], model[4096];
  int n, nlabels, missing;
  char model_why[600]; /* why the model could not be read (lenient) */
  BertConfig cfg;
  ModelDefaults md;
  char files[MODEL_FILES_MAX]; /* the model's fingerprint (io/modelfiles.h), "" when unreadable */
} InfoCache;

/* What a run's plan needs from its data and model. lenient (plan): a missing data set counts
   data.train_size examples, missing labels count as 2, a missing model has no size; each
   sets its bit in *missing (MISSING_*). */
static int run_info(const RunConfig *cfg, InfoCache *cache, int *ncache, int *n, long *nparams, BertConfig *model,
                    ModelDefaults *md, char *files, int lenient, int *missing, char *model_why, size_t why_size, Err *e) {
  InfoCache *c = NULL;
  files[0] = 0;
  *md = (ModelDefaults){-1, -1};
  for (int i = 0; i < *ncache && !c; i++)
    if (!strcmp(cache[i].train, cfg->train) && !strcmp(cache[i].labels, cfg->labels) && !strcmp(cache[i].model, cfg->model_path))
      c = &cache[i];
  InfoCache fresh;
  if (!c) {
    c = *ncache < 8 ? &cache[(*ncache)++] : &fresh;
    memset(c, 0, sizeof *c);
    c->md = (ModelDefaults){-1, -1};
    snprintf(c->train, sizeof c->train, "%s", cfg->train);
    snprintf(c->labels, sizeof c->labels, "%s", cfg->labels);
    snprintf(c->model, sizeof c->model, "%s", cfg->model_path);
    Dataset d;
    LabelSet ls;
    int have_data = dataset_read(&d, cfg->train, &cfg->fmt, e) == 0;
    /* lenient about a file not there yet, never about one that is there and cannot be read */
    if (!have_data && (!(lenient && cfg->train_size > 0) || path_exists(cfg->train))) { c->train[0] = 0; return -1; }
    c->n = have_data ? d.n : cfg->train_size;
    int bad = cfg->labels[0] ? labels_read(&ls, cfg->labels, e) : have_data ? labels_from_data(&ls, &d, e) : -1;
    if (have_data) dataset_free(&d);
    if (bad && (!lenient || (cfg->labels[0] && path_exists(cfg->labels)) || (!cfg->labels[0] && have_data))) {
      c->train[0] = 0;
      return -1;
    }
    c->nlabels = bad ? 2 : ls.n;
    if (!bad) labels_free(&ls);
    c->missing = (have_data ? 0 : MISSING_DATA) | (bad ? MISSING_LABELS : 0);
    HfDir hf;
    if (hf_open(&hf, cfg->model_path, e)) {
      if (!lenient) { c->train[0] = 0; return -1; }
      c->missing |= MISSING_MODEL;
      snprintf(c->model_why, sizeof c->model_why, "%s", e->msg);
    } else {
      c->cfg = hf.cfg;
      /* as the job resolves them (jobs/job.c) */
      c->md.lower_case = hf.do_lower_case;
      float d = hf.cfg.hidden_dropout;
      c->md.dropout = d == hf.cfg.attn_dropout && d == hf.cfg.classifier_dropout ? json_float(d) : -1;
      hf_close(&hf);
      char *fp = NULL;
      if (model_fingerprint(cfg->model_path, &fp, e)) { c->train[0] = 0; return -1; }
      size_t len = strlen(fp);
      if (len >= sizeof c->files) snprintf(e->msg, sizeof e->msg, "%s: too many model files to fingerprint", cfg->model_path);
      else memcpy(c->files, fp, len + 1);
      free(fp);
      if (len >= sizeof c->files) { c->train[0] = 0; return -1; }
    }
  }
  *missing |= c->missing;
  if ((c->missing & MISSING_MODEL) && !model_why[0]) snprintf(model_why, why_size, "%s", c->model_why);
  *model = c->cfg;
  *md = c->md;
  memcpy(files, c->files, strlen(c->files) + 1);
  model->num_labels = c->nlabels;
  *nparams = 0;
  if (!(c->missing & MISSING_MODEL)) {
    Bert layout;
    if (bert_layout(&layout, model, e)) return -1;
    *nparams = (long)layout.nparams;
    bert_free(&layout);
  }
  *n = cfg->train_size > 0 && cfg->train_size < c->n ? cfg->train_size : c->n;
  return 0;
}

int sweep_run_config(const Sweep *s, const PlannedRun *r, RunConfig *cfg, Err *e) {
  cJSON *c = cJSON_Parse(r->config_json);
  if (!c) return errf(e, "out of memory");
  int rc = runconfig_parse(cfg, c, s->path, e);
  cJSON_Delete(c);
  return rc;
}

/* A whole-section grid value must not set what the sweep sets otherwise: another swept key or
   the seed (sweep.seeds sets train.seed). Else runs would collapse onto one config. */
static int check_sections(const Sweep *s, Err *e) {
  for (int a = 0; a < s->naxes; a++) {
    if (!s->axes[a].whole) continue;
    for (int v = 0; v < s->axes[a].nvals; v++) {
      cJSON *val = cJSON_Parse(s->axes[a].vals[v]);
      int rc = val ? 0 : errf(e, "out of memory");
      for (const cJSON *it = val ? val->child : NULL; it && !rc; it = it->next) {
        char dotted[300];
        snprintf(dotted, sizeof dotted, "%s.%s", s->axes[a].key, it->string ? it->string : "");
        if (strcmp(dotted, "train.seed") == 0)
          rc = errf(e, "%s: \"sweep.grid.%s\" value %d sets train.seed, which sweep.seeds sets for every run", s->path,
                    s->axes[a].key, v + 1);
        for (int b = 0; b < s->naxes && !rc; b++)
          if (b != a && strcmp(s->axes[b].key, dotted) == 0)
            rc = errf(e, "%s: \"sweep.grid.%s\" value %d sets %s, which the sweep also sweeps", s->path,
                      s->axes[a].key, v + 1, dotted);
      }
      cJSON_Delete(val);
      if (rc) return rc;
    }
  }
  return 0;
}

static int cmp_config(const void *a, const void *b, void *runs_) {
  const PlannedRun *runs = runs_;
  int x = *(const int *)a, y = *(const int *)b, c = strcmp(runs[x].config_json, runs[y].config_json);
  return c ? c : x - y;
}

/* Two runs with one resolved config would be one run twice (and share a row). */
static int check_distinct(const Sweep *s, Err *e) {
  int *idx = malloc(sizeof(int) * (size_t)(s->nruns ? s->nruns : 1)), rc = 0;
  if (!idx) return errf(e, "out of memory");
  for (int i = 0; i < s->nruns; i++) idx[i] = i;
  qsort_r(idx, (size_t)s->nruns, sizeof(int), cmp_config, (void *)s->runs);
  for (int i = 1; i < s->nruns && !rc; i++)
    if (strcmp(s->runs[idx[i - 1]].config_json, s->runs[idx[i]].config_json) == 0) {
      char a[512], b[512];
      run_label(s, &s->runs[idx[i - 1]], a, sizeof a);
      run_label(s, &s->runs[idx[i]], b, sizeof b);
      rc = errf(e, "%s: runs %d (%s) and %d (%s) resolve to the same config: one key overrides another", s->path,
                idx[i - 1], a, idx[i], b);
    }
  free(idx);
  return rc;
}

static int expand(Sweep *s, cJSON *root, Err *e) {
  if (check_sections(s, e)) return -1;
  long n = s->nseeds;
  for (int a = 0; a < s->naxes; a++) { /* checked: 16 keys of 16 values would overflow */
    if (s->axes[a].leader != a) continue;
    if (n > SWEEP_MAX_RUNS / s->axes[a].nvals)
      return errf(e, "%s: the grid and seeds expand to more than %ld runs (the most one sweep takes); split the "
                     "sweep", s->path, SWEEP_MAX_RUNS);
    n *= s->axes[a].nvals;
  }
  s->nruns = (int)n;
  s->final_run = -1;
  s->runs = calloc((size_t)n, sizeof(PlannedRun));
  if (!s->runs) return errf(e, "out of memory");
  InfoCache *cache = calloc(8, sizeof(InfoCache));
  RunConfig *cfg = malloc(sizeof *cfg);
  char *files = malloc(MODEL_FILES_MAX);
  if (!cache || !cfg || !files) { free(cache); free(cfg); free(files); return errf(e, "out of memory"); }
  int ncache = 0, choice[MAX_AXES] = {0};
  for (int i = 0; i < s->nruns; i++) {
    PlannedRun *r = &s->runs[i];
    r->id = r->row = i;
    r->seed = s->seeds[i % s->nseeds];
    int rest = i / s->nseeds;
    for (int a = s->naxes - 1; a >= 0; a--) { /* first axis outermost; zipped axes follow */
      if (s->axes[a].leader != a) continue;
      choice[a] = rest % s->axes[a].nvals;
      rest /= s->axes[a].nvals;
    }
    for (int a = 0; a < s->naxes; a++) choice[a] = choice[s->axes[a].leader];
    memcpy(r->choice, choice, sizeof choice);
    cJSON *c = cJSON_Duplicate(root, 1);
    if (!c) return errf(e, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "sweep");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "output");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "report");
    char seed[16];
    snprintf(seed, sizeof seed, "%d", r->seed);
    int bad = set_dotted(c, "train.seed", seed);
    for (int a = 0; a < s->naxes && !bad; a++)
      bad = s->axes[a].whole ? merge_section(c, s->axes[a].key, s->axes[a].vals[choice[a]])
                             : set_dotted(c, s->axes[a].key, s->axes[a].vals[choice[a]]);
    int rc = bad ? errf(e, "out of memory") : runconfig_parse(cfg, c, s->path, e);
    int tn = 0;
    ModelDefaults md;
    if (!rc && run_info(cfg, cache, &ncache, &tn, &r->nparams, &r->model, &md, files, s->lenient, &s->missing, s->missing_model,
                         sizeof s->missing_model, e)) {
      /* its model or data cannot be read: the run will fail with this reason, the others run */
      if (!(r->unreadable = strdup(e->msg))) rc = errf(e, "out of memory");
      r->nparams = 0;
      tn = 0;
    }
    /* stored in /runs run_configs: every key, defaults included */
    /* and what identifies the model's files: a resume compares them */
    cJSON *fp = !rc && files[0] ? cJSON_Parse(files) : NULL;
    if (fp && !cJSON_AddItemToObject(c, RUNCONFIG_MODEL_FILES, fp)) {
      cJSON_Delete(fp);
      rc = errf(e, "out of memory");
    }
    if (!rc && (runconfig_complete(c, cfg, &md) || !(r->config_json = cJSON_PrintUnformatted(c))))
      rc = errf(e, "out of memory");
    cJSON_Delete(c);
    if (rc) {
      free(cache);
      free(cfg);
      free(files);
      char label[512];
      run_label(s, r, label, sizeof label);
      return errctx(e, "run %d (%s)", i, label);
    }
    r->total_steps = r->unreadable ? 0 : job_total_steps_for(cfg, tn);
    r->n_evals = (int)job_evals_through(cfg->eval_every, r->total_steps, r->total_steps);
    r->threads = cfg->threads;
    r->save_final_weights = cfg->save_final_weights;
    if (r->total_steps > s->max_steps) s->max_steps = r->total_steps;
    if (r->n_evals > s->max_evals) s->max_evals = r->n_evals;
    if (r->nparams > s->max_nparams) s->max_nparams = r->nparams;
    s->checkpoints = 1; /* checkpoint_every 0 still checkpoints on a stop: the slots must be there */
    if (cfg->save_final_weights && s->final_run < 0) s->final_run = i;
  }
  free(cache);
  free(cfg);
  free(files);
  return check_distinct(s, e);
}

int sweep_load(Sweep *s, const char *path, const char *output_override, Err *e) {
  return sweep_load_lenient(s, path, output_override, 0, e);
}

int sweep_load_lenient(Sweep *s, const char *path, const char *output_override, int lenient, Err *e) {
  memset(s, 0, sizeof *s);
  s->lenient = lenient;
  snprintf(s->path, sizeof s->path, "%s", path);
  cJSON *root = read_json_file(path, e);
  if (!root) return -1;
  int rc = -1;
  if (!cJSON_IsObject(root)) { errf(e, "%s: the config must be a JSON object", path); goto done; }
  if (cJSON_GetObjectItemCaseSensitive(root, RUNCONFIG_MODEL_FILES)) {
    errf(e, "%s: unknown key \"%s\" (bertsweep writes it into results files; a config does not set it)", path,
         RUNCONFIG_MODEL_FILES);
    goto done;
  }
  if (parse_sweep_section(s, cJSON_GetObjectItemCaseSensitive(root, "sweep"), e)) goto done;
  const cJSON *out = cJSON_GetObjectItemCaseSensitive(root, "output");
  if (out && !cJSON_IsString(out)) { errf(e, "%s: \"output\" must be a string", path); goto done; }
  if (output_override) snprintf(s->output, sizeof s->output, "%s", output_override);
  else if (out) path_join_dir(s->output, sizeof s->output, path, out->valuestring);
  snprintf(s->output_link, sizeof s->output_link, "%s", s->output);
  int linked = s->output[0] ? follow_links(s->output, sizeof s->output, e) : 0; /* the file goes where the link points */
  if (linked < 0) goto done;
  if (!linked) s->output_link[0] = 0;
  if (!s->nseeds) { /* no sweep.seeds: the base config's train.seed (default 1) */
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "train");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(tr, "seed");
    s->nseeds = 1;
    s->seeds = malloc(sizeof(int));
    if (!s->seeds) { errf(e, "out of memory"); goto done; }
    if (sd && !(cJSON_IsNumber(sd) && sd->valuedouble == floor(sd->valuedouble) && sd->valuedouble >= 0 &&
                sd->valuedouble <= 2147483647.0)) {
      errf(e, "%s: \"train.seed\" must be an integer in [0, 2147483647]", path);
      goto done;
    }
    s->seeds[0] = sd ? (int)sd->valuedouble : 1;
  }
  s->sweep_json = cJSON_PrintUnformatted(root);
  cJSON *base = cJSON_Duplicate(root, 1);
  if (base) {
    cJSON_DeleteItemFromObjectCaseSensitive(base, "sweep");
    cJSON_DeleteItemFromObjectCaseSensitive(base, "output");
    cJSON_DeleteItemFromObjectCaseSensitive(base, "report");
    s->base_json = cJSON_PrintUnformatted(base);
    cJSON_Delete(base);
  }
  if (!s->sweep_json || !s->base_json) { errf(e, "out of memory"); goto done; }
  rc = expand(s, root, e);
done:
  cJSON_Delete(root);
  if (rc) sweep_free(s);
  return rc;
}

void sweep_free(Sweep *s) {
  for (int a = 0; a < s->naxes; a++) {
    for (int i = 0; s->axes[a].vals && i < s->axes[a].nvals; i++) cJSON_free(s->axes[a].vals[i]);
    for (int i = 0; s->axes[a].colvals && i < s->axes[a].nvals; i++) free(s->axes[a].colvals[i]);
    free(s->axes[a].vals);
    free(s->axes[a].colvals);
  }
  for (int i = 0; s->runs && i < s->nruns; i++) {
    cJSON_free(s->runs[i].config_json);
    free(s->runs[i].unreadable);
  }
  free(s->runs);
  free(s->seeds);
  cJSON_free(s->sweep_json);
  cJSON_free(s->base_json);
  memset(s, 0, sizeof *s);
}
