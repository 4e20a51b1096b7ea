#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "io/runconfig.h"

typedef enum { K_STR, K_PATH, K_INT, K_LONG, K_NUM, K_FLOAT, K_BOOL, K_CHOICE } KType;

typedef struct {
  const char *key;
  KType type;
  size_t off, size;
  double lo, hi;
  const char *const *choices; /* K_CHOICE: the names, NULL-terminated; stored as the index */
} KeySpec;

#define F(field) offsetof(RunConfig, field), sizeof(((RunConfig *)0)->field)
static const KeySpec SCHEMA[] = {
    {"model.path", K_PATH, F(model_path), 0, 0, NULL},
    {"model.do_lower_case", K_BOOL, F(lower_case), 0, 1, NULL},
    {"model.random_init", K_BOOL, F(random_init), 0, 1, NULL},
    {"data.train", K_PATH, F(train), 0, 0, NULL},
    {"data.dev", K_PATH, F(dev), 0, 0, NULL},
    {"data.labels", K_PATH, F(labels), 0, 0, NULL},
    {"data.format", K_CHOICE, F(fmt.format), 0, 0, FORMAT_NAMES},
    {"data.text_field", K_STR, F(fmt.text_field), 0, 0, NULL},
    {"data.text_pair_field", K_STR, F(fmt.pair_field), 0, 0, NULL},
    {"data.label_field", K_STR, F(fmt.label_field), 0, 0, NULL},
    {"data.header", K_BOOL, F(fmt.header), 0, 1, NULL},
    {"data.quoting", K_CHOICE, F(fmt.quoting), 0, 0, QUOTING_NAMES},
    {"data.train_size", K_INT, F(train_size), 0, 1e9, NULL},
    {"data.dev_size", K_INT, F(dev_size), 0, 1e9, NULL},
    {"data.sampling", K_CHOICE, F(sampling), 0, 0, SAMPLING_NAMES},
    {"data.data_seed", K_INT, F(data_seed), 0, 2147483647, NULL},
    {"data.max_seq_length", K_INT, F(max_seq_length), 4, 8192, NULL},
    {"train.batch_size", K_INT, F(batch_size), 1, 65536, NULL},
    {"train.eval_batch_size", K_INT, F(eval_batch_size), 1, 65536, NULL},
    {"train.learning_rate", K_NUM, F(learning_rate), 0, 10, NULL},
    {"train.epochs", K_INT, F(epochs), 0, 100000, NULL},
    {"train.max_steps", K_LONG, F(max_steps), 0, 1e12, NULL},
    {"train.warmup_ratio", K_NUM, F(warmup_ratio), 0, 1, NULL},
    {"train.warmup_steps", K_LONG, F(warmup_steps), 0, 1e12, NULL},
    {"train.weight_decay", K_NUM, F(weight_decay), 0, 10, NULL},
    {"train.max_grad_norm", K_NUM, F(max_grad_norm), 0, 1e9, NULL},
    {"train.dropout", K_NUM, F(dropout), -1, 0.99, NULL},
    {"train.eval_every", K_INT, F(eval_every), 0, 1e9, NULL},
    {"train.mixout", K_NUM, F(mixout), 0, 0.99, NULL},
    {"train.early_stopping_patience", K_INT, F(patience), 0, 1e9, NULL},
    {"train.save_final_weights", K_BOOL, F(save_final_weights), 0, 1, NULL},
    {"train.checkpoint_every", K_INT, F(checkpoint_every), 0, 1e9, NULL},
    {"train.seed", K_INT, F(seed), 0, 2147483647, NULL},
    {"train.threads", K_INT, F(threads), 0, 4096, NULL},
    {"optimizer.name", K_CHOICE, F(opt.kind), 0, 0, OPT_KIND_NAMES},
    {"optimizer.correct_bias", K_BOOL, F(opt.correct_bias), 0, 1, NULL},
    {"optimizer.beta1", K_FLOAT, F(opt.beta1), 0, 0.999999, NULL},
    {"optimizer.beta2", K_FLOAT, F(opt.beta2), 0, 0.999999999, NULL},
    {"optimizer.eps", K_FLOAT, F(opt.eps), 0, 1, NULL},
    {"optimizer.layerwise_lr_decay", K_FLOAT, F(opt.llrd), 0.01, 1, NULL},
    {"optimizer.prior_weight_decay", K_BOOL, F(opt.prior_decay), 0, 1, NULL},
    {"reinit.pooler", K_BOOL, F(reinit_pooler), 0, 1, NULL},
    {"reinit.top_layers", K_INT, F(reinit_top_layers), 0, 1000, NULL},
};
#define NSCHEMA (sizeof SCHEMA / sizeof *SCHEMA)
static const char *const SECTIONS[] = {"model", "data", "train", "optimizer", "reinit"};
#define NSECTIONS (sizeof SECTIONS / sizeof *SECTIONS)

static void defaults(RunConfig *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->lower_case = -1;
  cfg->fmt.format = FMT_CLUE;
  cfg->fmt.header = 1;
  strcpy(cfg->fmt.text_field, "sentence");
  strcpy(cfg->fmt.label_field, "label");
  cfg->max_seq_length = 128;
  cfg->data_seed = 42;
  cfg->batch_size = 16;
  cfg->eval_batch_size = 64;
  cfg->learning_rate = 2e-5;
  cfg->epochs = 3;
  cfg->weight_decay = 0.0;
  cfg->max_grad_norm = 1.0;
  cfg->dropout = -1;
  cfg->eval_every = 0;
  cfg->checkpoint_every = 100;
  cfg->seed = 1;
  cfg->opt = OPT_CONFIG_DEFAULTS;
}

static const KeySpec *find_spec(const char *dotted) {
  for (size_t i = 0; i < NSCHEMA; i++)
    if (strcmp(SCHEMA[i].key, dotted) == 0) return &SCHEMA[i];
  return NULL;
}

int runconfig_key_known(const char *dotted) { return find_spec(dotted) != NULL; }

static int choice_index(const char *const *choices, const char *s) {
  for (int k = 0; choices[k]; k++)
    if (strcmp(choices[k], s) == 0) return k;
  return -1;
}

/* "a, b or c" */
static void choice_list(const char *const *choices, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; choices[k] && len < size; k++)
    len += (size_t)snprintf(out + len, size - len, "%s%s", k == 0 ? "" : choices[k + 1] ? ", " : " or ", choices[k]);
}

static int set_value(RunConfig *cfg, const KeySpec *k, const cJSON *v, const char *src, Err *e) {
  char *dst = (char *)cfg + k->off;
  const char *want = NULL;
  switch (k->type) {
  case K_STR:
  case K_PATH:
    if (!cJSON_IsString(v)) { want = "a string"; break; }
    if (strlen(v->valuestring) >= k->size) return errf(e, "%s: \"%s\" is too long", src, k->key);
    if (k->type == K_PATH && v->valuestring[0]) path_join_dir(dst, k->size, src, v->valuestring);
    else snprintf(dst, k->size, "%s", v->valuestring);
    return 0;
  case K_CHOICE: {
    int idx = cJSON_IsString(v) ? choice_index(k->choices, v->valuestring) : -1;
    char names[256];
    choice_list(k->choices, names, sizeof names);
    if (idx < 0 && cJSON_IsString(v))
      return errf(e, "%s: \"%s\" must be %s, not \"%s\"", src, k->key, names, v->valuestring);
    if (idx < 0) return errf(e, "%s: \"%s\" must be %s", src, k->key, names);
    _Static_assert(sizeof(OptKind) == sizeof(int) && sizeof(FormatKind) == sizeof(int) && sizeof(SamplingKind) == sizeof(int),
                   "choices are stored as int");
    memcpy(dst, &idx, sizeof idx);
    return 0;
  }
  case K_BOOL:
    if (!cJSON_IsBool(v)) { want = "true or false"; break; }
    *(int *)dst = cJSON_IsTrue(v);
    return 0;
  default: {
    int integral = k->type == K_INT || k->type == K_LONG;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || (integral && v->valuedouble != floor(v->valuedouble))) {
      want = integral ? "an integer" : "a number";
      break;
    }
    double x = v->valuedouble;
    if (x < k->lo || x > k->hi)
      return errf(e, "%s: \"%s\" = %g is outside [%g, %g]", src, k->key, x, k->lo, k->hi);
    if (k->type == K_INT) *(int *)dst = (int)x;
    else if (k->type == K_LONG) *(long *)dst = (long)x;
    else if (k->type == K_FLOAT) *(float *)dst = (float)x;
    else *(double *)dst = x;
    return 0;
  }
  }
  return errf(e, "%s: \"%s\" must be %s", src, k->key, want);
}

static int check(const RunConfig *cfg, const char *src, Err *e) {
  if (!cfg->model_path[0]) return errf(e, "%s: \"model.path\" is required", src);
  if (!cfg->train[0]) return errf(e, "%s: \"data.train\" is required", src);
  if (!cfg->dev[0]) return errf(e, "%s: \"data.dev\" is required", src);
  if (cfg->epochs == 0 && cfg->max_steps == 0)
    return errf(e, "%s: \"train.epochs\" or \"train.max_steps\" must be positive", src);
  if (cfg->learning_rate <= 0) return errf(e, "%s: \"train.learning_rate\" must be positive", src);
  if (cfg->patience > 0 && cfg->eval_every <= 0)
    return errf(e, "%s: \"train.early_stopping_patience\" needs \"train.eval_every\" > 0", src);
  const DataFormat *f = &cfg->fmt; /* the label read as input text: a perfect model of nothing */
  if (strcmp(f->label_field, f->text_field) == 0 || (f->pair_field[0] && strcmp(f->label_field, f->pair_field) == 0))
    return errf(e, "%s: \"data.label_field\" is \"%s\", the same field as \"data.%s\": the model would read its label", src,
                f->label_field, strcmp(f->label_field, f->text_field) == 0 ? "text_field" : "text_pair_field");
  if (f->pair_field[0] && strcmp(f->text_field, f->pair_field) == 0)
    return errf(e, "%s: \"data.text_field\" and \"data.text_pair_field\" are both \"%s\"", src, f->text_field);
  if (cfg->warmup_ratio > 0 && cfg->warmup_steps > 0)
    return errf(e, "%s: set \"train.warmup_ratio\" or \"train.warmup_steps\", not both", src);
  return 0;
}

int runconfig_parse(RunConfig *cfg, const void *root_, const char *src, Err *e) {
  const cJSON *root = root_;
  defaults(cfg);
  if (!cJSON_IsObject(root)) return errf(e, "%s: the config must be a JSON object", src);
  for (const cJSON *sec = root->child; sec; sec = sec->next) {
    if (strcmp(sec->string, "sweep") == 0 || strcmp(sec->string, "output") == 0 || strcmp(sec->string, "report") == 0 ||
        strcmp(sec->string, RUNCONFIG_MODEL_FILES) == 0)
      continue;
    size_t s = 0;
    while (s < NSECTIONS && strcmp(SECTIONS[s], sec->string) != 0) s++;
    if (s == NSECTIONS) return errf(e, "%s: unknown key \"%s\"", src, sec->string);
    if (!cJSON_IsObject(sec)) return errf(e, "%s: \"%s\" must be an object", src, sec->string);
    for (const cJSON *it = sec->child; it; it = it->next) {
      char dotted[256];
      snprintf(dotted, sizeof dotted, "%s.%s", sec->string, it->string);
      const KeySpec *k = find_spec(dotted);
      if (!k) return errf(e, "%s: unknown key \"%s\"", src, dotted);
      if (set_value(cfg, k, it, src, e)) return -1;
    }
  }
  return check(cfg, src, e);
}

int runconfig_load(RunConfig *cfg, const char *path, Err *e) {
  cJSON *root = read_json_file(path, e);
  if (!root) return -1;
  int rc = runconfig_parse(cfg, root, path, e); /* a run config stored by a sweep: its model_files are a record */
  cJSON_Delete(root);
  return rc;
}

/* The value cfg holds for key k as JSON, or NULL where it is the model's and md does not know. */
static cJSON *json_value(const RunConfig *cfg, const KeySpec *k, const ModelDefaults *md) {
  const char *src = (const char *)cfg + k->off;
  switch (k->type) {
  case K_STR:
  case K_PATH: return cJSON_CreateString(src);
  case K_CHOICE: return cJSON_CreateString(k->choices[*(const int *)src]);
  case K_BOOL: {
    int v = *(const int *)src;
    if (v < 0) v = md ? md->lower_case : -1; /* model.do_lower_case: the tokenizer's */
    return v < 0 ? NULL : cJSON_CreateBool(v);
  }
  case K_INT: return cJSON_CreateNumber(*(const int *)src);
  case K_LONG: return cJSON_CreateNumber((double)*(const long *)src);
  case K_FLOAT: return cJSON_CreateNumber(json_float(*(const float *)src));
  default: {
    double v = *(const double *)src;
    if (v < 0) v = md ? md->dropout : -1; /* train.dropout: the model's */
    return v < 0 ? NULL : cJSON_CreateNumber(v);
  }
  }
}

int runconfig_complete(void *root_, const RunConfig *cfg, const ModelDefaults *md) {
  cJSON *root = root_;
  for (size_t i = 0; i < NSCHEMA; i++) {
    const KeySpec *k = &SCHEMA[i];
    const char *dot = strchr(k->key, '.');
    char sec[32];
    snprintf(sec, sizeof sec, "%.*s", (int)(dot - k->key), k->key);
    cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, sec);
    if (!obj && !(obj = cJSON_AddObjectToObject(root, sec))) return -1;
    if (cJSON_GetObjectItemCaseSensitive(obj, dot + 1)) continue;
    cJSON *v = json_value(cfg, k, md);
    if (v && !cJSON_AddItemToObject(obj, dot + 1, v)) {
      cJSON_Delete(v);
      return -1;
    }
  }
  return 0;
}

static void flatten_into(const cJSON *o, const char *prefix, cJSON *out) {
  for (const cJSON *it = o->child; it; it = it->next) {
    char key[512];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", it->string);
    /* the model's files are one value: a file added or gone is a change too */
    if (cJSON_IsObject(it) && !(prefix[0] == 0 && strcmp(it->string, RUNCONFIG_MODEL_FILES) == 0)) flatten_into(it, key, out);
    else cJSON_AddItemToObject(out, key, cJSON_Duplicate(it, 1));
  }
}

/* "config.json changed, model.bin added" */
static void files_diff(const cJSON *x, const cJSON *y, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (const cJSON *f = x->child; f && len < size; f = f->next) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(y, f->string);
    if (!g || !cJSON_Compare(f, g, 1))
      len += (size_t)snprintf(out + len, size - len, "%s%s %s", len ? ", " : "", f->string, g ? "changed" : "gone");
  }
  for (const cJSON *g = y->child; g && len < size; g = g->next)
    if (!cJSON_GetObjectItemCaseSensitive(x, g->string))
      len += (size_t)snprintf(out + len, size - len, "%s%s added", len ? ", " : "", g->string);
}

void *runconfig_flatten(const char *json) {
  cJSON *c = json ? cJSON_Parse(json) : NULL, *f = cJSON_IsObject(c) ? cJSON_CreateObject() : NULL;
  if (f) flatten_into(c, "", f);
  cJSON_Delete(c);
  return f;
}

static int skipped(const char *key, const char *const *skip) {
  for (int i = 0; skip && skip[i]; i++)
    if (strcmp(key, skip[i]) == 0) return 1;
  return 0;
}

int runconfig_differs(const char *a_json, const char *b_json, const char *const *skip, char *out, size_t size) {
  cJSON *a = runconfig_flatten(a_json), *b = runconfig_flatten(b_json);
  int n = a && b ? 0 : -1;
  size_t len = 0;
  if (size) out[0] = 0;
  for (const cJSON *x = a && b ? a->child : NULL; x; x = x->next) {
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
    if (!y || skipped(x->string, skip) || cJSON_Compare(x, y, 1)) continue;
    if (strcmp(x->string, RUNCONFIG_MODEL_FILES) == 0 && cJSON_IsObject(x) && cJSON_IsObject(y)) {
      char files[600];
      files_diff(x, y, files, sizeof files);
      if (len < size) len += (size_t)snprintf(out + len, size - len, "%sthe model's files: %s", n ? "; " : "", files);
      n++;
      continue;
    }
    char *vx = cJSON_PrintUnformatted(x), *vy = cJSON_PrintUnformatted(y);
    if (len < size)
      len += (size_t)snprintf(out + len, size - len, "%s%s: %s -> %s", n ? "; " : "", x->string, vx ? vx : "?", vy ? vy : "?");
    n++;
    cJSON_free(vx);
    cJSON_free(vy);
  }
  cJSON_Delete(a);
  cJSON_Delete(b);
  return n;
}
