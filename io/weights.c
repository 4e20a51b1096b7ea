#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "io/tfbundle.h"
#include "io/torchbin.h"
#include "io/weights.h"

/* ---- one file, or shards named by an index's weight_map ---- */

typedef int (*Loader)(TensorFile *f, const char *path, Err *e);

static const struct {
  const char *file, *index;
  Loader full, header;
} FORMATS[] = {
    {"model.safetensors", "model.safetensors.index.json", st_open, st_list},
    {"pytorch_model.bin", "pytorch_model.bin.index.json", torchbin_open, torchbin_open},
};
enum { NFORMATS = sizeof FORMATS / sizeof FORMATS[0] };

static int shard_name_ok(const char *s) {
  return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* The TF index in dir: bert_model.ckpt.index, else the first *.index. */
int tensor_find_tf_index(const char *dir, char *out, size_t size) {
  snprintf(out, size, "%s/bert_model.ckpt.index", dir);
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

int tensor_set_exists(const char *dir) {
  char p[4200];
  for (int k = 0; k < NFORMATS; k++) {
    snprintf(p, sizeof p, "%s/%s", dir, FORMATS[k].file);
    if (access(p, F_OK) == 0) return 1;
    snprintf(p, sizeof p, "%s/%s", dir, FORMATS[k].index);
    if (access(p, F_OK) == 0) return 1;
  }
  return 0;
}

int tensor_set_open(TensorSet *s, const char *dir, int header_only, Err *e) {
  memset(s, 0, sizeof *s);
  int fmt = -1, sharded = 0;
  for (int k = 0; k < NFORMATS && fmt < 0; k++) {
    snprintf(s->source, sizeof s->source, "%s/%s", dir, FORMATS[k].file);
    if (access(s->source, F_OK) == 0) { fmt = k; break; }
    snprintf(s->source, sizeof s->source, "%s/%s", dir, FORMATS[k].index);
    if (access(s->source, F_OK) == 0) { fmt = k; sharded = 1; }
  }
  if (fmt < 0 && tensor_find_tf_index(dir, s->source, sizeof s->source)) { /* TF 1.x: NAME.index + data shards */
    if (!(s->f = calloc(1, sizeof(TensorFile)))) return errf(e, "out of memory");
    s->n = 1;
    return header_only ? errf(e, "%s: a TensorFlow checkpoint: list it with tfb_read_index", s->source)
                       : tfb_load(&s->f[0], s->source, e);
  }
  if (fmt < 0)
    return errf(e, "%s: no model.safetensors, pytorch_model.bin, their *.index.json, or TensorFlow *.index", dir);
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
