#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <dirent.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "io/tfbundle.h"
#include "io/torchbin.h"
#include "io/weights.h"

/* ---- one file, or shards named by an index's weight_map ---- */

typedef int (*Loader)(TensorFile *f, const char *path, Err *e);
typedef int (*Detect)(const char *dir, const char *file, const char *index, char *out, size_t size, int *sharded);

/* The HF layouts: the one file, else the index of its shards. */
static int detect_hf(const char *dir, const char *file, const char *index, char *out, size_t size, int *sharded) {
  snprintf(out, size, "%s/%s", dir, file);
  if (access(out, F_OK) == 0) return (*sharded = 0), 1;
  snprintf(out, size, "%s/%s", dir, index);
  if (access(out, F_OK) == 0) return (*sharded = 1), 1;
  return 0;
}

/* TF 1.x: NAME.index + data shards; bert_model.ckpt.index, else the first *.index. */
static int detect_tf(const char *dir, const char *file, const char *index, char *out, size_t size, int *sharded) {
  (void)index;
  *sharded = 0;
  snprintf(out, size, "%s/%s", dir, file);
  if (access(out, F_OK) == 0) return 1;
  DIR *d = opendir(dir);
  struct dirent *ent;
  int found = 0;
  while (d && !found && (ent = readdir(d))) {
    size_t n = strlen(ent->d_name);
    if (n > 6 && strcmp(ent->d_name + n - 6, ".index") == 0) {
      snprintf(out, size, "%s/%s", dir, ent->d_name);
      found = 1;
    }
  }
  if (d) closedir(d);
  return found;
}

/* The model file formats, in the order a directory is searched: how each is found, opened
   whole, and listed from its header (NULL: `inspect` reads the TF index itself). */
static const struct {
  const char *name, *file, *index, *what;
  Detect detect;
  Loader full, header;
} FORMATS[NMODEL_FORMATS] = {
    [MF_SAFETENSORS] = {"safetensors", "model.safetensors", "model.safetensors.index.json",
                        "model.safetensors (or its *.index.json)", detect_hf, st_open, st_list},
    [MF_TORCHBIN] = {"pytorch_model.bin", "pytorch_model.bin", "pytorch_model.bin.index.json",
                     "pytorch_model.bin (or its *.index.json)", detect_hf, torchbin_open, torchbin_open},
    [MF_TENSORFLOW] = {"TensorFlow checkpoint", "bert_model.ckpt.index", NULL, "a TensorFlow *.index", detect_tf, tfb_load,
                       NULL},
};
static_assert(NMODEL_FORMATS == 3, "FORMATS has one row per model format");

static int shard_name_ok(const char *s) {
  return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

const char *model_format_name(ModelFormat f) { return FORMATS[f].name; }

int model_format_detect(const char *dir, char *path, size_t size, int *sharded) {
  for (int k = 0; k < NMODEL_FORMATS; k++)
    if (FORMATS[k].detect(dir, FORMATS[k].file, FORMATS[k].index, path, size, sharded)) return k;
  return -1;
}

void model_formats_list(char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; k < NMODEL_FORMATS && len < size; k++)
    len += (size_t)snprintf(out + len, size - len, "%s%s", k ? k + 1 < NMODEL_FORMATS ? ", " : " or " : "",
                            FORMATS[k].what);
}

int model_format_none(const char *dir, Err *e) {
  char what[512];
  model_formats_list(what, sizeof what);
  return errf(e, "%s: no model weights here: looked for %s", dir, what);
}

int tensor_set_open(TensorSet *s, const char *dir, int header_only, Err *e) {
  memset(s, 0, sizeof *s);
  int sharded = 0, fmt = model_format_detect(dir, s->source, sizeof s->source, &sharded);
  if (fmt < 0) return model_format_none(dir, e);
  if (header_only && !FORMATS[fmt].header)
    return errf(e, "%s: a %s has no header to list: read its index", s->source, FORMATS[fmt].name);
  Loader load = header_only ? FORMATS[fmt].header : FORMATS[fmt].full;
  if (!sharded) {
    if (!(s->f = calloc(1, sizeof(TensorFile)))) return errf(e, "out of memory");
    s->n = 1;
    return load(&s->f[0], s->source, e);
  }
  cJSON *root = read_json_file(s->source, e);
  if (!root) return -1;
  const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
  int rc = cJSON_IsObject(map) && map->child ? 0 : errf(e, "%s: no \"weight_map\" object of tensor names", s->source);
  int cap = 0;
  for (const cJSON *it = map ? map->child : NULL; it && !rc; it = it->next) cap++;
  if (!rc && !(s->f = calloc((size_t)cap, sizeof(TensorFile)))) rc = errf(e, "out of memory");
  for (const cJSON *it = map ? map->child : NULL; it && !rc; it = it->next) {
    if (!cJSON_IsString(it) || !shard_name_ok(it->valuestring)) {
      rc = errf(e, "%s: weight_map[\"%s\"] must name a file in the same directory", s->source, it->string);
      break;
    }
    int k = 0;
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, it->valuestring);
    while (k < s->n && strcmp(s->f[k].path, p) != 0) k++;
    if (k == s->n) {
      rc = load(&s->f[k], p, e);
      if (rc) break;
      s->n++;
    }
    if (!st_find(&s->f[k], it->string))
      rc = errf(e, "%s: weight_map puts '%s' in %s, which has no such tensor", s->source, it->string, it->valuestring);
  }
  cJSON_Delete(root);
  if (rc) tensor_set_close(s);
  return rc;
}

void tensor_set_close(TensorSet *s) {
  for (int i = 0; s->f && i < s->n; i++) st_close(&s->f[i]);
  free(s->f);
  s->f = NULL;
  s->n = 0;
}

const TensorEntry *tensor_set_find(const TensorSet *s, const char *name, const TensorFile **file) {
  for (int i = 0; i < s->n; i++) {
    const TensorEntry *t = st_find(&s->f[i], name);
    if (t) {
      if (file) *file = &s->f[i];
      return t;
    }
  }
  return NULL;
}
