#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "io/safetensors.h"

static const char *const DTYPES[] = {"F32", "F16", "BF16"};
static const size_t DSIZE[] = {4, 2, 2};
static_assert(sizeof DTYPES / sizeof *DTYPES == TENSOR_OTHER && sizeof DSIZE / sizeof *DSIZE == TENSOR_OTHER,
              "DTYPES and DSIZE name and size every stored element type");

static int dtype_of(const char *s) {
  for (int i = 0; i < 3; i++)
    if (strcmp(s, DTYPES[i]) == 0) return i;
  return TENSOR_OTHER;
}

int tensor_size(const int64_t *shape, int64_t ndim, size_t esize, size_t *numel, size_t *bytes) {
  size_t n = 1;
  if (ndim < 0 || ndim > 8) return -1;
  for (int64_t i = 0; i < ndim; i++)
    if (shape[i] < 0 || __builtin_mul_overflow(n, (size_t)shape[i], &n)) return -1;
  if (__builtin_mul_overflow(n, esize, bytes)) return -1;
  *numel = n;
  return 0;
}

int tensor_view_last(int64_t offset, const int64_t *size, const int64_t *stride, int64_t ndim, int64_t *last) {
  int64_t at = offset, step;
  if (offset < 0 || ndim < 0 || ndim > 8) return -1;
  for (int64_t j = 0; j < ndim; j++) {
    if (size[j] < 0 || stride[j] < 0) return -1;
    if (size[j] == 0) { *last = -1; return 0; }
    if (__builtin_mul_overflow(size[j] - 1, stride[j], &step) || __builtin_add_overflow(at, step, &at)) return -1;
  }
  *last = at;
  return 0;
}

size_t st_numel(const TensorEntry *t) {
  size_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
  return n;
}

static int parse_entry(TensorFile *f, const cJSON *it, TensorEntry *t, size_t data_size, Err *e) {
  const char *p = f->path;
  snprintf(t->name, sizeof t->name, "%s", it->string);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
  if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
    return errf(e, "%s: tensor '%s' lacks dtype, shape or data_offsets", p, t->name);
  t->dtype = dtype_of(dt->valuestring);
  t->ndim = cJSON_GetArraySize(sh);
  if (t->ndim > 8) return errf(e, "%s: tensor '%s' has %d dimensions", p, t->name, t->ndim);
  double numel = 1;
  for (int i = 0; i < t->ndim; i++) {
    const cJSON *d = cJSON_GetArrayItem(sh, i);
    if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e12)
      return errf(e, "%s: tensor '%s' has a bad shape", p, t->name);
    t->shape[i] = (int64_t)d->valuedouble;
    numel *= d->valuedouble;
  }
  double b = cJSON_GetArrayItem(off, 0)->valuedouble, en = cJSON_GetArrayItem(off, 1)->valuedouble;
  if (b < 0 || en < b || en > (double)data_size)
    return errf(e, "%s: tensor '%s' has data_offsets [%.0f, %.0f] outside the %zu data bytes", p, t->name, b, en,
                data_size);
  t->begin = (size_t)b;
  t->end = (size_t)en;
  if (t->dtype != TENSOR_OTHER && numel * (double)DSIZE[t->dtype] != en - b)
    return errf(e, "%s: tensor '%s' shape needs %.0f bytes but data_offsets span %.0f", p, t->name,
                numel * (double)DSIZE[t->dtype], en - b);
  return 0;
}

int st_list(TensorFile *f, const char *path, Err *e) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s", path);
  FILE *fp = fopen(path, "rb");
  if (!fp) return errf(e, "%s: cannot open: %s", path, strerror(errno));
  unsigned char len8[8];
  struct stat st;
  uint64_t hlen = 0;
  int ok = fstat(fileno(fp), &st) == 0 && fread(len8, 1, 8, fp) == 8;
  for (int i = 7; ok && i >= 0; i--) hlen = (hlen << 8) | len8[i];
  if (!ok || hlen > (uint64_t)st.st_size - 8 || hlen > 100000000) {
    fclose(fp);
    return errf(e, "%s: not a safetensors file (header length)", path);
  }
  char *hdr = malloc((size_t)hlen + 1);
  ok = hdr && fread(hdr, 1, (size_t)hlen, fp) == hlen;
  fclose(fp);
  cJSON *root = ok ? cJSON_ParseWithLength(hdr, (size_t)hlen) : NULL;
  free(hdr);
  const char *dup = json_duplicate_key(root);
  if (!cJSON_IsObject(root) || dup) { /* Python's safetensors would take a twice-named tensor's last entry */
    if (dup) errf(e, "%s: the header names tensor \"%s\" twice", path, dup);
    cJSON_Delete(root);
    return dup ? -1 : errf(e, "%s: header is not a JSON object", path);
  }
  int n = 0;
  for (cJSON *it = root->child; it; it = it->next) n += strcmp(it->string, "__metadata__") != 0;
  f->t = calloc((size_t)(n ? n : 1), sizeof(TensorEntry));
  f->size = (size_t)st.st_size;
  f->data_off = 8 + (size_t)hlen;
  int rc = f->t ? 0 : errf(e, "%s: out of memory", path);
  for (cJSON *it = root->child; it && !rc; it = it->next) {
    if (strcmp(it->string, "__metadata__") == 0) continue;
    if (parse_entry(f, it, &f->t[f->n], f->size - f->data_off, e)) rc = -1;
    else f->n++;
  }
  cJSON_Delete(root);
  if (rc) st_close(f);
  return rc;
}

int st_open(TensorFile *f, const char *path, Err *e) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s", path);
  f->buf = (unsigned char *)read_file(path, &f->size, e);
  if (!f->buf) return -1;
  uint64_t hlen = 0;
  if (f->size < 8) goto bad;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->buf[i];
  if (hlen > f->size - 8 || hlen > 100000000) {
    errf(e, "%s: header length %llu exceeds the file size %zu", path, (unsigned long long)hlen, f->size);
    goto fail;
  }
  f->data_off = 8 + (size_t)hlen;
  cJSON *root = cJSON_ParseWithLength((const char *)f->buf + 8, (size_t)hlen);
  const char *dup = json_duplicate_key(root);
  if (!cJSON_IsObject(root) || dup) {
    if (dup) errf(e, "%s: the header names tensor \"%s\" twice", path, dup);
    else errf(e, "%s: header is not a JSON object", path);
    cJSON_Delete(root);
    goto fail;
  }
  int n = 0;
  for (cJSON *it = root->child; it; it = it->next) n += strcmp(it->string, "__metadata__") != 0;
  f->t = calloc((size_t)(n ? n : 1), sizeof(TensorEntry));
  if (!f->t) { cJSON_Delete(root); errf(e, "%s: out of memory", path); goto fail; }
  for (cJSON *it = root->child; it; it = it->next) {
    if (strcmp(it->string, "__metadata__") == 0) continue;
    if (parse_entry(f, it, &f->t[f->n], f->size - f->data_off, e)) { cJSON_Delete(root); goto fail; }
    f->n++;
  }
  cJSON_Delete(root);
  return 0;
bad:
  errf(e, "%s: not a safetensors file (too short)", path);
fail:
  st_close(f);
  return -1;
}

void st_close(TensorFile *f) {
  free(f->buf);
  free(f->t);
  f->buf = NULL;
  f->t = NULL;
  f->n = 0;
}

const TensorEntry *st_find(const TensorFile *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
  return NULL;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13);
  else if (exp) bits = sign | ((exp + 112) << 23) | (man << 13);
  else if (!man) bits = sign;
  else { /* subnormal: renormalise */
    exp = 113;
    while (!(man & 0x400)) { man <<= 1; exp--; }
    bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
  }
  float out;
  memcpy(&out, &bits, 4);
  return out;
}

void st_read_f32(const TensorFile *f, const TensorEntry *t, float *dst) {
  const unsigned char *src = f->buf + f->data_off + t->begin;
  size_t n = st_numel(t);
  for (size_t i = 0; i < n; i++) {
    uint32_t bits;
    switch (t->dtype) {
    case TENSOR_F32: memcpy(&dst[i], src + 4 * i, 4); break;
    case TENSOR_F16: dst[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8)); break;
    case TENSOR_BF16:
      bits = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
      memcpy(&dst[i], &bits, 4);
      break;
    }
  }
}

int st_write_f32(const char *path, const StOut *ts, int n, Err *e) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return errf(e, "%s: out of memory", path);
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    cJSON *it = cJSON_AddObjectToObject(root, ts[i].name);
    size_t numel = 1;
    double shape[4];
    for (int d = 0; d < ts[i].ndim; d++) {
      numel *= (size_t)ts[i].shape[d];
      shape[d] = (double)ts[i].shape[d];
    }
    double offs[2] = {(double)off, (double)(off + 4 * numel)};
    if (!it || !cJSON_AddStringToObject(it, "dtype", "F32") ||
        !cJSON_AddItemToObject(it, "shape", cJSON_CreateDoubleArray(shape, ts[i].ndim)) ||
        !cJSON_AddItemToObject(it, "data_offsets", cJSON_CreateDoubleArray(offs, 2))) {
      cJSON_Delete(root);
      return errf(e, "%s: out of memory", path);
    }
    off += 4 * numel;
  }
  char *hdr = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!hdr) return errf(e, "%s: out of memory", path);
  size_t hl = strlen(hdr), pad = (8 - hl % 8) % 8, total = 8 + hl + pad + off;
  unsigned char *buf = malloc(total);
  if (!buf) { free(hdr); return errf(e, "%s: out of memory for %zu bytes", path, total); }
  uint64_t h = hl + pad;
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(h >> (8 * i));
  memcpy(buf + 8, hdr, hl);
  memset(buf + 8 + hl, ' ', pad);
  free(hdr);
  unsigned char *d = buf + 8 + hl + pad;
  for (int i = 0; i < n; i++) {
    size_t numel = 1;
    for (int k = 0; k < ts[i].ndim; k++) numel *= (size_t)ts[i].shape[k];
    memcpy(d, ts[i].data, 4 * numel);
    d += 4 * numel;
  }
  int rc = write_file_atomic(path, buf, total, e);
  free(buf);
  return rc;
}
