#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "io/hfmodel.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "src/ops.h"

static int get_int(const cJSON *root, const char *key, int dflt, int *out, const char *path, Err *e) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!it || cJSON_IsNull(it)) {
    if (dflt == -1) return errf(e, "%s: missing \"%s\"", path, key);
    *out = dflt;
    return 0;
  }
  if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int)it->valuedouble)
    return errf(e, "%s: \"%s\" must be an integer", path, key);
  *out = (int)it->valuedouble;
  return 0;
}

static int get_float(const cJSON *root, const char *key, float dflt, float *out, const char *path, Err *e) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!it || cJSON_IsNull(it)) { *out = dflt; return 0; }
  if (!cJSON_IsNumber(it)) return errf(e, "%s: \"%s\" must be a number", path, key);
  *out = (float)it->valuedouble;
  return 0;
}

static int parse_config(HfDir *d, Err *e) {
  char path[4200];
  snprintf(path, sizeof path, "%s/config.json", d->dir);
  if (!path_exists(path)) { /* Google's TF releases name it bert_config.json (same keys) */
    char alt[4200];
    snprintf(alt, sizeof alt, "%s/bert_config.json", d->dir);
    if (path_exists(alt)) snprintf(path, sizeof path, "%s", alt), d->google_layout = 1;
  }
  cJSON *root = read_json_file(path, e);
  if (!root) return -1;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return errf(e, "%s: not a JSON object", path);
  }
  BertConfig *c = &d->cfg;
  int rc = get_int(root, "vocab_size", -1, &c->vocab_size, path, e) ||
           get_int(root, "hidden_size", -1, &c->hidden, path, e) ||
           get_int(root, "num_hidden_layers", -1, &c->layers, path, e) ||
           get_int(root, "num_attention_heads", -1, &c->heads, path, e) ||
           get_int(root, "intermediate_size", -1, &c->intermediate, path, e) ||
           get_int(root, "max_position_embeddings", 512, &c->max_position, path, e) ||
           get_int(root, "type_vocab_size", 2, &c->type_vocab, path, e) ||
           get_float(root, "layer_norm_eps", 1e-12f, &c->ln_eps, path, e) ||
           get_float(root, "initializer_range", 0.02f, &c->init_range, path, e) ||
           get_float(root, "hidden_dropout_prob", 0.1f, &c->hidden_dropout, path, e) ||
           get_float(root, "attention_probs_dropout_prob", 0.1f, &c->attn_dropout, path, e) ||
           get_float(root, "classifier_dropout", c->hidden_dropout, &c->classifier_dropout, path, e);
  if (!rc) {
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && !cJSON_IsString(act)) rc = errf(e, "%s: hidden_act must be a string such as \"gelu\"", path);
    const char *a = cJSON_IsString(act) ? act->valuestring : "gelu";
    if (rc) a = "gelu";
    if (strcmp(a, "gelu") == 0) c->act = ACT_GELU;
    else if (strcmp(a, "gelu_new") == 0 || strcmp(a, "gelu_pytorch_tanh") == 0) c->act = ACT_GELU_TANH;
    else rc = errf(e, "%s: hidden_act \"%s\" is not supported (gelu, gelu_new)", path, a);
  }
  if (!rc && !(c->ln_eps > 0 && c->ln_eps < 1)) rc = errf(e, "%s: layer_norm_eps must be in (0, 1), not %g", path, c->ln_eps);
  if (!rc && !(c->init_range > 0 && c->init_range < 10))
    rc = errf(e, "%s: initializer_range must be positive, not %g", path, c->init_range);
  const float *drop[3] = {&c->hidden_dropout, &c->attn_dropout, &c->classifier_dropout};
  static const char *const DROP_KEY[3] = {"hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"};
  for (int i = 0; i < 3 && !rc; i++)
    if (!(*drop[i] >= 0 && *drop[i] < 1)) rc = errf(e, "%s: %s must be in [0, 1), not %g", path, DROP_KEY[i], *drop[i]);
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "id2label");
  c->num_labels = cJSON_IsObject(labels) ? cJSON_GetArraySize(labels) : 2;
  cJSON_Delete(root);
  if (!rc && bert_validate_config(c, e)) rc = errctx(e, "%s", path);
  return rc;
}

/* tokenizer_config.json's BasicTokenizer options: do_lower_case, tokenize_chinese_chars,
   strip_accents (true, false or null) and never_split (a list of words); other keys are HF's
   business. */
static int parse_tokenizer_config(HfDir *d, Err *e) {
  char path[4200];
  tok_default_options(&d->tok_opts);
  snprintf(path, sizeof path, "%s/tokenizer_config.json", d->dir);
  if (!path_exists(path)) return 0;
  cJSON *root = read_json_file(path, e);
  if (!root) return -1;
  int rc = cJSON_IsObject(root) ? 0 : errf(e, "%s: not a JSON object", path);
  const cJSON *lc = cJSON_GetObjectItemCaseSensitive(root, "do_lower_case"),
              *cc = cJSON_GetObjectItemCaseSensitive(root, "tokenize_chinese_chars"),
              *sa = cJSON_GetObjectItemCaseSensitive(root, "strip_accents"),
              *ns = cJSON_GetObjectItemCaseSensitive(root, "never_split");
  if (!rc && lc && !cJSON_IsBool(lc)) rc = errf(e, "%s: \"do_lower_case\" must be true or false", path);
  if (!rc && cc && !cJSON_IsBool(cc)) rc = errf(e, "%s: \"tokenize_chinese_chars\" must be true or false", path);
  if (!rc && sa && !cJSON_IsBool(sa) && !cJSON_IsNull(sa))
    rc = errf(e, "%s: \"strip_accents\" must be true, false or null", path);
  if (!rc && ns && !cJSON_IsArray(ns) && !cJSON_IsNull(ns)) rc = errf(e, "%s: \"never_split\" must be a list of strings", path);
  if (!rc && lc) {
    d->has_lower_case = 1;
    d->do_lower_case = cJSON_IsTrue(lc);
  }
  if (!rc && cc) d->tok_opts.chinese_chars = cJSON_IsTrue(cc);
  if (!rc && sa && cJSON_IsBool(sa)) d->tok_opts.strip_accents = cJSON_IsTrue(sa);
  int n = !rc && cJSON_IsArray(ns) ? cJSON_GetArraySize(ns) : 0;
  if (n && !(d->never_split = calloc((size_t)n, sizeof(char *)))) rc = errf(e, "%s: out of memory", path);
  for (int i = 0; !rc && i < n; i++) {
    const cJSON *w = cJSON_GetArrayItem(ns, i);
    if (!cJSON_IsString(w) || !w->valuestring[0]) rc = errf(e, "%s: \"never_split\"[%d] must be a non-empty string", path, i);
    else if (!(d->never_split[i] = strdup(w->valuestring))) rc = errf(e, "%s: out of memory", path);
    else d->tok_opts.n_never_split = i + 1;
  }
  d->tok_opts.never_split = d->never_split;
  cJSON_Delete(root);
  return rc;
}

int hf_open(HfDir *d, const char *dir, Err *e) {
  memset(d, 0, sizeof *d);
  snprintf(d->dir, sizeof d->dir, "%s", dir);
  struct stat st;
  if (stat(dir, &st) != 0) return errf(e, "%s: no such model directory (model.path)", dir);
  if (!S_ISDIR(st.st_mode)) return errf(e, "%s: not a directory (model.path names a model directory)", dir);
  if (parse_config(d, e)) return -1;
  if (parse_tokenizer_config(d, e)) {
    hf_close(d);
    return -1;
  }
  if (d->has_lower_case) d->lower_case_why = "tokenizer_config.json";
  else if (d->google_layout)
    d->do_lower_case = 1, d->lower_case_why = "no tokenizer_config.json in a TF release: Google's run_classifier "
                                              "and transformers' BertTokenizer lower-case by default";
  else d->lower_case_why = "no tokenizer_config.json: not lower-cased, as bert-base-chinese's says";
  char path[4200];
  snprintf(path, sizeof path, "%s/vocab.txt", dir);
  size_t size;
  d->vocab_buf = read_file(path, &size, e);
  if (!d->vocab_buf) return -1;
  d->vocab_n = split_lines(d->vocab_buf, size, path, &d->vocab, e);
  if (d->vocab_n < 0) { hf_close(d); return -1; }
  if (d->vocab_n > 0 && d->vocab[d->vocab_n - 1][0] == 0) d->vocab_n--; /* trailing newline */
  if (d->vocab_n != d->cfg.vocab_size && d->vocab_n > d->cfg.vocab_size) {
    errf(e, "%s: %d tokens but config.json has vocab_size %d", path, d->vocab_n, d->cfg.vocab_size);
    hf_close(d);
    return -1;
  }
  return 0;
}

void hf_close(HfDir *d) {
  for (int i = 0; d->never_split && i < d->tok_opts.n_never_split; i++) free(d->never_split[i]);
  free(d->never_split);
  d->never_split = NULL;
  d->tok_opts.n_never_split = 0;
  free(d->vocab_buf);
  free(d->vocab);
  d->vocab_buf = NULL;
  d->vocab = NULL;
}

/* Our name -> the names a checkpoint may use for it. */
static const TensorEntry *lookup(const TensorSet *f, const char *name, const TensorFile **file) {
  char alt[320], swapped[300];
  snprintf(swapped, sizeof swapped, "%s", name);
  char *ln = strstr(swapped, "LayerNorm.");
  if (ln) { /* TF-converted checkpoints: LayerNorm.gamma / LayerNorm.beta */
    if (strcmp(ln, "LayerNorm.weight") == 0) strcpy(ln, "LayerNorm.gamma");
    else if (strcmp(ln, "LayerNorm.bias") == 0) strcpy(ln, "LayerNorm.beta");
  }
  const char *cands[4] = {name, swapped, NULL, NULL};
  char alt2[320];
  snprintf(alt, sizeof alt, "bert.%s", name);
  snprintf(alt2, sizeof alt2, "bert.%s", swapped);
  cands[2] = alt;
  cands[3] = alt2;
  for (int i = 0; i < 4; i++) {
    const TensorEntry *t = tensor_set_find(f, cands[i], file);
    if (t) return t;
  }
  return NULL;
}

/* 1 when t is a float tensor of pi's shape ([rows] or [rows, cols]). */
static int tensor_fits(const TensorEntry *t, const ParamInfo *pi) {
  int64_t r = t->ndim >= 1 ? t->shape[0] : 1, c = t->ndim == 2 ? t->shape[1] : 1;
  return t->dtype != TENSOR_OTHER && t->ndim >= 1 && t->ndim <= 2 && r == pi->rows && c == pi->cols;
}

int hf_load_weights(const HfDir *d, Bert *m, int *has_head, int *has_pooler, Err *e) {
  TensorSet f;
  if (tensor_set_open(&f, d->dir, 0, e)) return -1;
  const char *path = f.source;
  const TensorFile *file = NULL;
  *has_head = 0;
  int rc = 0, pooler_found = 0;
  for (int i = 0; i < m->ntensors; i++)
    if (m->info[i].group == m->cfg.layers) pooler_found += lookup(&f, m->info[i].name, &file) != NULL;
  *has_pooler = pooler_found > 0; /* none: saved from BertForMaskedLM or BertModel(add_pooling_layer=False) */
  for (int i = 0; i < m->ntensors && !rc; i++) {
    const ParamInfo *pi = &m->info[i];
    int is_head = pi->group == m->cfg.layers + 1, is_pooler = pi->group == m->cfg.layers;
    const TensorEntry *t = is_head ? tensor_set_find(&f, pi->name, &file) : lookup(&f, pi->name, &file);
    if (!t) {
      if (!is_head && !(is_pooler && !*has_pooler)) rc = errf(e, "%s: missing tensor '%s'", path, pi->name);
      continue;
    }
    int64_t r = t->ndim >= 1 ? t->shape[0] : 1, c = t->ndim == 2 ? t->shape[1] : 1;
    if (t->dtype == TENSOR_OTHER) {
      rc = errf(e, "%s: tensor '%s' has a dtype other than F32/F16/BF16", path, t->name);
    } else if (!tensor_fits(t, pi)) {
      if (!is_head)
        rc = errf(e, "%s: tensor '%s' has shape [%lld, %lld], expected [%d, %d]", path, t->name, (long long)r,
                  (long long)c, pi->rows, pi->cols);
    } else {
      st_read_f32(file, t, m->params + pi->offset);
      if (is_head) (*has_head)++;
    }
  }
  *has_head = *has_head == 2;
  tensor_set_close(&f);
  return rc;
}

int hf_load_mlm_head(const HfDir *d, MlmHead *h, int *found, Err *e) {
  TensorSet f;
  if (tensor_set_open(&f, d->dir, 0, e)) return -1;
  const TensorFile *file = NULL;
  int rc = 0, n = 0;
  for (int i = 0; i < 5; i++) n += lookup(&f, h->info[i].name, &file) != NULL;
  *found = n == 5;
  if (n && n < 5) rc = errf(e, "%s: %d of the 5 cls.predictions tensors (the masked-LM head)", f.source, n);
  for (int i = 0; i < 5 && *found && !rc; i++) {
    const ParamInfo *pi = &h->info[i];
    const TensorEntry *t = lookup(&f, pi->name, &file);
    if (!tensor_fits(t, pi))
      rc = errf(e, "%s: tensor '%s' is not F32/F16/BF16 of shape [%d, %d]", f.source, t->name, pi->rows, pi->cols);
    else
      st_read_f32(file, t, h->params + pi->offset);
  }
  tensor_set_close(&f);
  return rc;
}

/* The shortest decimal that reads back as f: 0.1f is written 0.1, as the model's config.json
   had it, not 0.10000000149011612 (f widened to double). */
static int write_config(const char *dir, const BertConfig *c, int with_classifier, char *const *labels, Err *e) {
  cJSON *r = cJSON_CreateObject();
  if (!r) return errf(e, "out of memory");
  cJSON_AddStringToObject(r, "model_type", "bert");
  cJSON *arch = cJSON_AddArrayToObject(r, "architectures");
  cJSON_AddItemToArray(arch, cJSON_CreateString(with_classifier ? "BertForSequenceClassification" : "BertForMaskedLM"));
  cJSON_AddNumberToObject(r, "vocab_size", c->vocab_size);
  cJSON_AddNumberToObject(r, "hidden_size", c->hidden);
  cJSON_AddNumberToObject(r, "num_hidden_layers", c->layers);
  cJSON_AddNumberToObject(r, "num_attention_heads", c->heads);
  cJSON_AddNumberToObject(r, "intermediate_size", c->intermediate);
  cJSON_AddNumberToObject(r, "max_position_embeddings", c->max_position);
  cJSON_AddNumberToObject(r, "type_vocab_size", c->type_vocab);
  cJSON_AddNumberToObject(r, "layer_norm_eps", json_float(c->ln_eps));
  cJSON_AddNumberToObject(r, "initializer_range", json_float(c->init_range));
  cJSON_AddNumberToObject(r, "hidden_dropout_prob", json_float(c->hidden_dropout));
  cJSON_AddNumberToObject(r, "attention_probs_dropout_prob", json_float(c->attn_dropout));
  cJSON_AddStringToObject(r, "hidden_act", c->act == ACT_GELU ? "gelu" : "gelu_new");
  cJSON *id2label = cJSON_AddObjectToObject(r, "id2label"), *label2id = cJSON_AddObjectToObject(r, "label2id");
  for (int i = 0; i < c->num_labels; i++) {
    char k[16], v[24];
    snprintf(k, sizeof k, "%d", i);
    snprintf(v, sizeof v, "LABEL_%d", i);
    cJSON_AddStringToObject(id2label, k, labels ? labels[i] : v);
    cJSON_AddNumberToObject(label2id, labels ? labels[i] : v, i);
  }
  char *text = cJSON_Print(r);
  cJSON_Delete(r);
  if (!text) return errf(e, "out of memory");
  char path[4200];
  snprintf(path, sizeof path, "%s/config.json", dir);
  int rc = write_file_atomic(path, text, strlen(text), e);
  free(text);
  return rc;
}

int hf_save(const char *dir, const Bert *m, char *const *vocab, int vocab_n, const StOut *extra, int nextra,
            int with_classifier, char *const *labels, Err *e) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) return errf(e, "%s: cannot create directory: %s", dir, strerror(errno));
  if (write_config(dir, &m->cfg, with_classifier, labels, e)) return -1;
  size_t len = 0;
  for (int i = 0; i < vocab_n; i++) len += strlen(vocab[i]) + 1;
  char *v = malloc(len + 1), *p = v;
  if (!v) return errf(e, "out of memory");
  for (int i = 0; i < vocab_n; i++) p += sprintf(p, "%s\n", vocab[i]);
  char path[4200];
  snprintf(path, sizeof path, "%s/vocab.txt", dir);
  int rc = write_file_atomic(path, v, len, e);
  free(v);
  if (rc) return rc;
  StOut *ts = calloc((size_t)(m->ntensors + nextra), sizeof(StOut));
  char (*names)[96] = calloc((size_t)m->ntensors, 96);
  if (!ts || !names) { free(ts); free(names); return errf(e, "out of memory"); }
  int n = 0;
  for (int i = 0; i < m->ntensors; i++) {
    const ParamInfo *pi = &m->info[i];
    int head = pi->group == m->cfg.layers + 1;
    if (head && !with_classifier) continue;
    snprintf(names[i], 96, "%s%s", head ? "" : "bert.", pi->name);
    ts[n].name = names[i];
    ts[n].data = m->params + pi->offset;
    ts[n].ndim = pi->cols == 1 ? 1 : 2;
    ts[n].shape[0] = pi->rows;
    ts[n++].shape[1] = pi->cols;
  }
  for (int i = 0; i < nextra; i++) ts[n++] = extra[i];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  rc = st_write_f32(path, ts, n, e);
  free(ts);
  free(names);
  return rc;
}
