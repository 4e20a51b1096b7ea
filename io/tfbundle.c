#define _FILE_OFFSET_BITS 64
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include "io/fileutil.h"
#include "io/tfbundle.h"

/* ---- CRC-32C, reflected polynomial 0x82F63B78, one table ---- */

uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
  uint32_t table[256];
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  const unsigned char *p = data;
  crc = ~crc;
  while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/* ---- reading ---- */

typedef struct {
  const unsigned char *p, *end;
  int bad;
} Cursor;

static uint64_t varint(Cursor *c) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (c->p >= c->end) { c->bad = 1; return 0; }
    unsigned char b = *c->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
  c->bad = 1;
  return 0;
}

static uint32_t le32(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* A block's contents after checking its trailer (type 0: uncompressed; masked CRC-32C). */
static int block(const unsigned char *file, size_t size, uint64_t off, uint64_t len, Cursor *out, const char *path,
                 Err *e) {
  if (off > size || len > size - off || size - off - len < 5) return errf(e, "%s: a block lies outside the file", path);
  const unsigned char *b = file + off;
  if (b[len] != 0) return errf(e, "%s: compressed blocks (type %d) are not supported", path, b[len]);
  uint32_t want = le32(b + len + 1), got = crc32c_mask(crc32c(0, b, (size_t)len + 1));
  if (got != want) return errf(e, "%s: block at byte %llu fails its CRC-32C check", path, (unsigned long long)off);
  if (len < 4) return errf(e, "%s: a block is too short", path);
  uint32_t nrestarts = le32(b + len - 4);
  if ((uint64_t)nrestarts * 4 + 4 > len) return errf(e, "%s: a block's restart array is too long", path);
  out->p = b;
  out->end = b + len - 4 - 4 * (size_t)nrestarts;
  out->bad = 0;
  return 0;
}

/* Walks a block's entries: key (rebuilt from its shared prefix) and value. */
static int next_entry(Cursor *c, char *key, size_t keysize, size_t *keylen, const unsigned char **val, size_t *vlen) {
  uint64_t shared = varint(c), unshared = varint(c), vl = varint(c);
  if (c->bad || shared > *keylen || shared + unshared >= keysize || unshared > (size_t)(c->end - c->p) ||
      vl > (size_t)(c->end - c->p) - unshared)
    return -1;
  memcpy(key + shared, c->p, (size_t)unshared);
  *keylen = (size_t)(shared + unshared);
  key[*keylen] = 0;
  c->p += unshared;
  *val = c->p;
  *vlen = (size_t)vl;
  c->p += vl;
  return 0;
}

/* BundleEntryProto: 1 dtype, 2 shape {2 dim {1 size}}, 3 shard_id, 4 offset, 5 size, 6 crc32c. */
static int parse_entry(const unsigned char *v, size_t n, TfTensor *t) {
  Cursor c = {v, v + n, 0};
  while (c.p < c.end && !c.bad) {
    uint64_t tag = varint(&c);
    int field = (int)(tag >> 3), wire = (int)(tag & 7);
    if (wire == 0) {
      uint64_t x = varint(&c);
      if (field == 1) t->dtype = (int)x;
      else if (field == 3) t->shard = (int)x;
      else if (field == 4) t->offset = (int64_t)x;
      else if (field == 5) t->size = (int64_t)x;
    } else if (wire == 5) {
      if (c.end - c.p < 4) return -1;
      if (field == 6) t->crc32c = le32(c.p);
      c.p += 4;
    } else if (wire == 2) {
      uint64_t len = varint(&c);
      if (c.bad || len > (uint64_t)(c.end - c.p)) return -1;
      Cursor s = {c.p, c.p + len, 0};
      while (field == 2 && s.p < s.end && !s.bad) { /* TensorShapeProto */
        uint64_t st = varint(&s), sl = (st & 7) == 2 ? varint(&s) : 0;
        if ((st & 7) != 2) { varint(&s); continue; }
        if (sl > (uint64_t)(s.end - s.p)) return -1;
        Cursor d = {s.p, s.p + sl, 0};
        while ((st >> 3) == 2 && d.p < d.end && !d.bad) { /* Dim */
          uint64_t dt = varint(&d);
          if ((dt & 7) == 0) {
            uint64_t x = varint(&d);
            if ((dt >> 3) == 1 && t->ndim < 8) t->shape[t->ndim++] = (int64_t)x;
          } else if ((dt & 7) == 2) {
            uint64_t l = varint(&d);
            if (l > (uint64_t)(d.end - d.p)) return -1;
            d.p += l;
          } else {
            return -1;
          }
        }
        if (d.bad) return -1;
        s.p += sl;
      }
      if (s.bad) return -1;
      c.p += len;
    } else if (wire == 1) {
      if (c.end - c.p < 8) return -1;
      c.p += 8;
    } else {
      return -1;
    }
  }
  return c.bad ? -1 : 0;
}

static int add_tensor(TfIndex *x, int *cap, const char *key, const unsigned char *v, size_t vlen, const char *path,
                      Err *e) {
  if (!key[0]) { /* BundleHeaderProto: 1 num_shards */
    Cursor c = {v, v + vlen, 0};
    while (c.p < c.end && !c.bad) {
      uint64_t tag = varint(&c);
      if ((tag & 7) == 0) {
        uint64_t val = varint(&c);
        if ((tag >> 3) == 1) x->num_shards = (int)val;
      } else if ((tag & 7) == 2) {
        uint64_t l = varint(&c);
        if (l > (uint64_t)(c.end - c.p)) c.bad = 1;
        else c.p += l;
      } else {
        c.bad = 1;
      }
    }
    return c.bad ? errf(e, "%s: the bundle header cannot be parsed", path) : 0;
  }
  if (x->n == *cap) {
    *cap = *cap ? 2 * *cap : 64;
    TfTensor *t = realloc(x->t, sizeof(TfTensor) * (size_t)*cap);
    if (!t) return errf(e, "out of memory");
    x->t = t;
  }
  TfTensor *t = &x->t[x->n];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", key);
  if (parse_entry(v, vlen, t)) return errf(e, "%s: the entry of \"%s\" cannot be parsed", path, key);
  x->n++;
  return 0;
}

int tfb_read_index(TfIndex *x, const char *path, Err *e) {
  memset(x, 0, sizeof *x);
  size_t size;
  unsigned char *f = (unsigned char *)read_file(path, &size, e);
  if (!f) return -1;
  int rc = 0, cap = 0;
  static const unsigned char MAGIC[8] = {0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb};
  if (size < 48 || memcmp(f + size - 8, MAGIC, 8) != 0) rc = errf(e, "%s: not a TensorFlow checkpoint index (no table magic)", path);
  Cursor foot = {NULL, NULL, 0}, index = {NULL, NULL, 0};
  uint64_t mo = 0, ms = 0, io = 0, is = 0;
  if (!rc) {
    foot = (Cursor){f + size - 48, f + size - 8, 0};
    mo = varint(&foot), ms = varint(&foot), io = varint(&foot), is = varint(&foot);
    (void)mo;
    (void)ms;
    if (foot.bad) rc = errf(e, "%s: the table footer cannot be parsed", path);
  }
  if (!rc) rc = block(f, size, io, is, &index, path, e);
  char ikey[1024] = "", key[1024] = "";
  size_t iklen = 0;
  while (!rc && index.p < index.end) {
    const unsigned char *hv;
    size_t hl;
    if (next_entry(&index, ikey, sizeof ikey, &iklen, &hv, &hl)) { rc = errf(e, "%s: the block index is corrupt", path); break; }
    Cursor h = {hv, hv + hl, 0}, data = {NULL, NULL, 0};
    uint64_t off = varint(&h), len = varint(&h);
    if (h.bad) { rc = errf(e, "%s: a block handle is corrupt", path); break; }
    if ((rc = block(f, size, off, len, &data, path, e))) break;
    size_t klen = 0;
    while (!rc && data.p < data.end) {
      const unsigned char *v;
      size_t vl;
      if (next_entry(&data, key, sizeof key, &klen, &v, &vl)) rc = errf(e, "%s: a data block is corrupt", path);
      else rc = add_tensor(x, &cap, key, v, vl, path, e);
    }
  }
  free(f);
  if (rc) tfb_free(x);
  return rc;
}

void tfb_free(TfIndex *x) {
  free(x->t);
  memset(x, 0, sizeof *x);
}

const char *tfb_dtype_name(int dtype) {
  switch (dtype) {
  case 1: return "float32";
  case 2: return "float64";
  case 3: return "int32";
  case 9: return "int64";
  case 14: return "bfloat16";
  case 19: return "float16";
  default: return "other";
  }
}

/* ---- data shards, with TF's variable names mapped to HF's ---- */

/* HF's name for a TF variable, and whether its kernel must be transposed; 0 when the variable is
   not part of a BertModel + classifier (the cls heads, optimizer slots, global_step, ...). */
static int hf_name(const char *tf, char *out, size_t size, int *transpose) {
  *transpose = 0;
  if (!strcmp(tf, "output_weights")) { snprintf(out, size, "classifier.weight"); return 1; }
  if (!strcmp(tf, "output_bias")) { snprintf(out, size, "classifier.bias"); return 1; }
  if (strncmp(tf, "bert/", 5) || strstr(tf, "adam_") || strstr(tf, "Momentum") || strstr(tf, "/Adam")) return 0;
  size_t len = 0;
  out[0] = 0;
  for (const char *p = tf; *p && len + 16 < size;) {
    const char *q = strchr(p, '/');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    char part[256];
    snprintf(part, sizeof part, "%.*s", (int)n, p);
    const char *mapped = part;
    char layer[64];
    if (!strncmp(part, "layer_", 6)) { snprintf(layer, sizeof layer, "layer.%s", part + 6); mapped = layer; }
    else if (!q && !strcmp(part, "kernel")) { mapped = "weight"; *transpose = 1; }
    else if (!q && !strcmp(part, "gamma")) mapped = "weight";
    else if (!q && !strcmp(part, "beta")) mapped = "bias";
    else if (!q && strstr(tf, "_embeddings") && strstr(part, "_embeddings")) { /* bert/embeddings/word_embeddings */
      len += (size_t)snprintf(out + len, size - len, "%s%s.weight", len ? "." : "", part);
      return 1;
    }
    len += (size_t)snprintf(out + len, size - len, "%s%s", len ? "." : "", mapped);
    p = q ? q + 1 : p + n;
  }
  return 1;
}

int tfb_load(TensorFile *f, const char *index_path, Err *e) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s", index_path);
  TfIndex x;
  if (tfb_read_index(&x, index_path, e)) return -1;
  char prefix[4096];
  size_t pl = strlen(index_path);
  snprintf(prefix, sizeof prefix, "%.*s", (int)(pl > 6 ? pl - 6 : pl), index_path); /* strip ".index" */
  /* sizes checked before anything is allocated: only the tensors kept count, each one's bytes
     must match its shape, and together they cannot exceed what the data shards hold */
  size_t total = 0, on_disk = 0;
  int rc = 0;
  for (int s = 0; s < x.num_shards && !rc; s++) {
    char dpath[4200];
    struct stat sb;
    snprintf(dpath, sizeof dpath, "%s.data-%05d-of-%05d", prefix, s, x.num_shards);
    if (stat(dpath, &sb) != 0) rc = errf(e, "%s: cannot open (the checkpoint's data shard)", dpath);
    else on_disk += (size_t)sb.st_size;
  }
  for (int i = 0; i < x.n && !rc; i++) {
    const TfTensor *t = &x.t[i];
    int transpose, st = t->dtype == 1 ? TENSOR_F32 : t->dtype == 19 ? TENSOR_F16 : t->dtype == 14 ? TENSOR_BF16 : -1;
    char name[256];
    size_t numel, nb;
    if (st < 0 || !hf_name(t->name, name, sizeof name, &transpose)) continue;
    if (tensor_size(t->shape, t->ndim, st == TENSOR_F32 ? 4 : 2, &numel, &nb) || t->size < 0 || nb != (size_t)t->size ||
        t->ndim > 2 || t->shard < 0 || t->shard >= x.num_shards || t->offset < 0 ||
        __builtin_add_overflow(total, nb, &total))
      rc = errf(e, "%s: \"%s\" has %lld bytes for its shape, or an impossible shard or offset", index_path, t->name,
                (long long)t->size);
  }
  if (!rc && total > on_disk)
    rc = errf(e, "%s: its tensors claim %zu bytes, past the end of its data shards (%zu bytes: truncated?)", index_path,
              total, on_disk);
  if (!rc && (!(f->t = calloc((size_t)(x.n ? x.n : 1), sizeof(TensorEntry))) || !(f->buf = malloc(total ? total : 1))))
    rc = errf(e, "%s: out of memory for %zu bytes", index_path, total);
  size_t off = 0;
  FILE *shard = NULL;
  int open_shard = -1;
  for (int i = 0; i < x.n && !rc; i++) {
    const TfTensor *t = &x.t[i];
    int transpose, st = t->dtype == 1 ? TENSOR_F32 : t->dtype == 19 ? TENSOR_F16 : t->dtype == 14 ? TENSOR_BF16 : -1;
    char name[256];
    if (st < 0 || !hf_name(t->name, name, sizeof name, &transpose)) continue;
    size_t es = st == TENSOR_F32 ? 4 : 2, numel, nb;
    tensor_size(t->shape, t->ndim, es, &numel, &nb); /* checked above */
    char dpath[4200];
    snprintf(dpath, sizeof dpath, "%s.data-%05d-of-%05d", prefix, t->shard, x.num_shards);
    if (open_shard != t->shard) {
      if (shard) fclose(shard);
      if (!(shard = fopen(dpath, "rb"))) { rc = errf(e, "%s: cannot open (the checkpoint's data shard)", dpath); break; }
      open_shard = t->shard;
    }
    unsigned char *raw = malloc(numel ? numel * es : 1);
    if (!raw) { rc = errf(e, "out of memory"); break; }
    if (fseeko(shard, (off_t)t->offset, SEEK_SET) != 0 || fread(raw, 1, numel * es, shard) != numel * es)
      rc = errf(e, "%s: \"%s\" lies past the end of the shard (truncated?)", dpath, t->name);
    else if (crc32c_mask(crc32c(0, raw, numel * es)) != t->crc32c)
      rc = errf(e, "%s: \"%s\" fails its CRC-32C check (damaged data)", dpath, t->name);
    if (!rc) {
      TensorEntry *o = &f->t[f->n++];
      snprintf(o->name, sizeof o->name, "%s", name);
      o->dtype = st;
      o->ndim = t->ndim;
      o->begin = off;
      o->end = off + numel * es;
      if (transpose && t->ndim == 2) { /* TF kernel [in, out] -> HF weight [out, in] */
        int64_t r = t->shape[0], c = t->shape[1];
        o->shape[0] = c;
        o->shape[1] = r;
        for (int64_t a = 0; a < r; a++)
          for (int64_t b = 0; b < c; b++) memcpy(f->buf + off + (size_t)(b * r + a) * es, raw + (size_t)(a * c + b) * es, es);
      } else {
        for (int k = 0; k < t->ndim; k++) o->shape[k] = t->shape[k];
        memcpy(f->buf + off, raw, numel * es);
      }
      off += numel * es;
    }
    free(raw);
  }
  if (shard) fclose(shard);
  f->size = off;
  tfb_free(&x);
  if (rc) st_close(f);
  return rc;
}
