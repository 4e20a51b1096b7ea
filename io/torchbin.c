/* pytorch_model.bin: the zip container torch.save writes (libzip) and the subset of pickle it
   uses for a state dict. The pickle is interpreted by a small stack machine that knows only
   these opcodes and globals; nothing is ever executed. Tensors are gathered (strides applied,
   storages shared or not) into an in-memory TensorFile, so that st_read_f32 serves them like a
   safetensors file's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>
#include "io/torchbin.h"

enum { V_NONE, V_INT, V_STR, V_TUPLE, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR, V_MARK };
enum { G_ORDERED_DICT, G_REBUILD_TENSOR, G_STORAGE };

typedef struct Value Value;
struct Value {
  int kind;
  int64_t i;         /* V_INT; V_GLOBAL: G_*; V_STORAGE: numel */
  char *s;           /* V_STR; V_STORAGE: key */
  int n, cap;        /* V_TUPLE items, V_DICT pairs (2n items) */
  Value **items;
  int dtype;         /* V_GLOBAL G_STORAGE and V_STORAGE: TENSOR_F32/F16/BF16, TENSOR_OTHER for int64 buffers */
  int esize;         /* their element size in bytes */
  Value *storage;    /* V_TENSOR */
  int64_t offset, ndim, size[8], stride[8];
};

typedef struct {
  const char *path;
  Err *e;
  Value **all;       /* every value made, for freeing */
  int nall, capall;
  Value **stack;
  int sp, capstack;
  Value **memo;
  int nmemo;
} Vm;

/* A state dict's pickle makes a few dozen values per tensor; a pickle that makes more than
   this is not one torch.save wrote (each value costs ~200 bytes: a deflated archive of a few
   kilobytes could otherwise claim gigabytes). */
enum { MAX_VALUES = 1 << 18 };

static Value *make(Vm *vm, int kind) {
  if (vm->nall >= MAX_VALUES) return NULL;
  if (vm->nall == vm->capall) {
    int cap = vm->capall ? 2 * vm->capall : 256;
    Value **a = realloc(vm->all, sizeof *a * (size_t)cap);
    if (!a) return NULL;
    vm->all = a;
    vm->capall = cap;
  }
  Value *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->kind = kind;
  vm->all[vm->nall++] = v;
  return v;
}

static int push(Vm *vm, Value *v) {
  if (!v && vm->nall >= MAX_VALUES)
    return errf(vm->e, "%s: data.pkl makes more than %d values: not a state dict as torch.save writes it", vm->path,
                MAX_VALUES);
  if (!v) return errf(vm->e, "%s: out of memory reading the pickle", vm->path);
  if (vm->sp == vm->capstack) {
    int cap = vm->capstack ? 2 * vm->capstack : 64;
    Value **s = realloc(vm->stack, sizeof *s * (size_t)cap);
    if (!s) return errf(vm->e, "%s: out of memory reading the pickle", vm->path);
    vm->stack = s;
    vm->capstack = cap;
  }
  vm->stack[vm->sp++] = v;
  return 0;
}

static Value *pop(Vm *vm) { return vm->sp > 0 ? vm->stack[--vm->sp] : NULL; }

static int add_item(Value *c, Value *x) {
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 8;
    Value **it = realloc(c->items, sizeof *it * (size_t)cap);
    if (!it) return -1;
    c->items = it;
    c->cap = cap;
  }
  c->items[c->n++] = x;
  return 0;
}

/* Pops everything above the topmost mark (and the mark) into a new tuple. */
static Value *pop_to_mark(Vm *vm) {
  int m = vm->sp - 1;
  while (m >= 0 && vm->stack[m]->kind != V_MARK) m--;
  if (m < 0) return NULL;
  Value *t = make(vm, V_TUPLE);
  for (int k = m + 1; t && k < vm->sp; k++)
    if (add_item(t, vm->stack[k])) return NULL;
  vm->sp = m;
  return t;
}

static int memo_put(Vm *vm, int64_t k) {
  if (k < 0 || k > 10000000 || vm->sp == 0) return errf(vm->e, "%s: pickle memo index %lld out of range", vm->path, (long long)k);
  if (k >= vm->nmemo) {
    Value **m = realloc(vm->memo, sizeof *m * (size_t)(k + 1));
    if (!m) return errf(vm->e, "%s: out of memory reading the pickle", vm->path);
    memset(m + vm->nmemo, 0, sizeof *m * (size_t)(k + 1 - vm->nmemo));
    vm->memo = m;
    vm->nmemo = (int)k + 1;
  }
  vm->memo[k] = vm->stack[vm->sp - 1];
  return 0;
}

/* The only globals a state dict needs; anything else is refused, never looked up. */
static Value *global(Vm *vm, const char *mod, const char *name) {
  static const struct { const char *mod, *name; int g, dtype, esize; } OK[] = {
      {"collections", "OrderedDict", G_ORDERED_DICT, 0, 0},
      {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, 0, 0},
      {"torch", "FloatStorage", G_STORAGE, TENSOR_F32, 4},
      {"torch", "HalfStorage", G_STORAGE, TENSOR_F16, 2},
      {"torch", "BFloat16Storage", G_STORAGE, TENSOR_BF16, 2},
      {"torch", "LongStorage", G_STORAGE, TENSOR_OTHER, 8}, /* buffers such as position_ids: kept, never used */
  };
  for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++)
    if (!strcmp(mod, OK[i].mod) && !strcmp(name, OK[i].name)) {
      Value *v = make(vm, V_GLOBAL);
      if (v) { v->i = OK[i].g; v->dtype = OK[i].dtype; v->esize = OK[i].esize; }
      return v;
    }
  errf(vm->e, "%s: the pickle names '%s.%s', which is not part of a tensor state dict (float32/16, bfloat16 "
              "and int64 tensors in an OrderedDict): refused, nothing executed", vm->path, mod, name);
  return NULL;
}

static int as_ints(const Value *t, int64_t *out, int max) {
  if (!t || t->kind != V_TUPLE || t->n > max) return -1;
  for (int k = 0; k < t->n; k++) {
    if (t->items[k]->kind != V_INT) return -1;
    out[k] = t->items[k]->i;
  }
  return t->n;
}

/* REDUCE: OrderedDict() or _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta]). */
static Value *reduce(Vm *vm, Value *f, Value *args) {
  if (!f || f->kind != V_GLOBAL || !args || args->kind != V_TUPLE) {
    errf(vm->e, "%s: a pickle REDUCE outside the state-dict subset", vm->path);
    return NULL;
  }
  if (f->i == G_ORDERED_DICT) return make(vm, V_DICT);
  if (f->i != G_REBUILD_TENSOR || args->n < 4 || args->items[0]->kind != V_STORAGE || args->items[1]->kind != V_INT) {
    errf(vm->e, "%s: a tensor is rebuilt with arguments outside the state-dict subset", vm->path);
    return NULL;
  }
  Value *t = make(vm, V_TENSOR);
  if (!t) return NULL;
  t->storage = args->items[0];
  t->offset = args->items[1]->i;
  int nd = as_ints(args->items[2], t->size, 8), ns = as_ints(args->items[3], t->stride, 8);
  if (nd < 0 || ns != nd || t->offset < 0) {
    errf(vm->e, "%s: a tensor's size or stride is not a tuple of at most 8 integers", vm->path);
    return NULL;
  }
  t->ndim = nd;
  return t;
}

static int need(Vm *vm, size_t pos, size_t n, size_t len) {
  return pos + n <= len ? 0 : errf(vm->e, "%s: the pickle ends inside an opcode at byte %zu", vm->path, pos);
}

static int64_t le(const unsigned char *p, int n) {
  uint64_t x = 0;
  for (int k = n - 1; k >= 0; k--) x = x << 8 | p[k];
  if (n < 8 && n > 0 && (p[n - 1] & 0x80)) x |= ~0ull << (8 * n); /* sign-extend */
  return (int64_t)x;
}

/* Runs the pickle; *out is the top-level dict. */
static int run(Vm *vm, const unsigned char *p, size_t len, Value **out) {
  size_t i = 0;
  while (i < len) {
    unsigned char op = p[i++];
    Value *v = NULL, *a, *b;
    int64_t n;
    switch (op) {
      case 0x80: if (need(vm, i, 1, len)) return -1; i += 1; break;              /* PROTO */
      case 0x95: if (need(vm, i, 8, len)) return -1; i += 8; break;              /* FRAME */
      case '.':                                                                   /* STOP */
        *out = pop(vm);
        if (!*out || (*out)->kind != V_DICT) return errf(vm->e, "%s: the pickle is not a dict of tensors", vm->path);
        return 0;
      case 'c': {                                                                 /* GLOBAL */
        const char *m = (const char *)p + i, *nl = memchr(m, '\n', len - i), *nm, *nl2;
        if (!nl || !(nl2 = memchr((nm = nl + 1), '\n', len - (size_t)(nl + 1 - (const char *)p))))
          return errf(vm->e, "%s: a truncated pickle GLOBAL", vm->path);
        char mod[128], name[128];
        snprintf(mod, sizeof mod, "%.*s", (int)(nl - m), m);
        snprintf(name, sizeof name, "%.*s", (int)(nl2 - nm), nm);
        i = (size_t)(nl2 + 1 - (const char *)p);
        if (!(v = global(vm, mod, name))) return -1;
        if (push(vm, v)) return -1;
        break;
      }
      case 'q': if (need(vm, i, 1, len) || memo_put(vm, p[i])) return -1; i += 1; break;        /* BINPUT */
      case 'r': if (need(vm, i, 4, len) || memo_put(vm, le(p + i, 4))) return -1; i += 4; break; /* LONG_BINPUT */
      case 0x94: if (memo_put(vm, vm->nmemo)) return -1; break;                                 /* MEMOIZE */
      case 'h': case 'j':                                                                         /* BINGET */
        n = op == 'h' ? 1 : 4;
        if (need(vm, i, (size_t)n, len)) return -1;
        n = op == 'h' ? p[i] : le(p + i, 4);
        i += op == 'h' ? 1 : 4;
        if (n < 0 || n >= vm->nmemo || !vm->memo[n]) return errf(vm->e, "%s: pickle memo %lld unset", vm->path, (long long)n);
        if (push(vm, vm->memo[n])) return -1;
        break;
      case '(': if (push(vm, make(vm, V_MARK))) return -1; break;                 /* MARK */
      case ')': if (push(vm, make(vm, V_TUPLE))) return -1; break;                /* EMPTY_TUPLE */
      case '}': if (push(vm, make(vm, V_DICT))) return -1; break;                 /* EMPTY_DICT */
      case 'N': if (push(vm, make(vm, V_NONE))) return -1; break;                 /* NONE */
      case 0x88: case 0x89:                                                       /* NEWTRUE, NEWFALSE */
        if (!(v = make(vm, V_INT))) return push(vm, NULL);
        v->i = op == 0x88;
        if (push(vm, v)) return -1;
        break;
      case 'K': case 'M': case 'J': case 0x8a: {                                  /* BININT1/2, BININT, LONG1 */
        int w = op == 'K' ? 1 : op == 'M' ? 2 : op == 'J' ? 4 : 0;
        if (op == 0x8a) {
          if (need(vm, i, 1, len)) return -1;
          w = p[i++];
          if (w > 8) return errf(vm->e, "%s: a pickle integer wider than 64 bits", vm->path);
        }
        if (need(vm, i, (size_t)w, len) || !(v = make(vm, V_INT))) return -1;
        v->i = op == 'K' ? p[i] : op == 'M' ? (int64_t)(p[i] | p[i + 1] << 8) : le(p + i, w);
        i += (size_t)w;
        if (push(vm, v)) return -1;
        break;
      }
      case 'X': case 0x8c: {                                                      /* BINUNICODE, SHORT_ */
        int w = op == 'X' ? 4 : 1;
        if (need(vm, i, (size_t)w, len)) return -1;
        n = op == 'X' ? (int64_t)(uint32_t)le(p + i, 4) : p[i];
        i += (size_t)w;
        if (need(vm, i, (size_t)n, len) || !(v = make(vm, V_STR)) || !(v->s = malloc((size_t)n + 1)))
          return errf(vm->e, "%s: a truncated pickle string", vm->path);
        memcpy(v->s, p + i, (size_t)n);
        v->s[n] = 0;
        i += (size_t)n;
        if (push(vm, v)) return -1;
        break;
      }
      case 't': if (push(vm, pop_to_mark(vm))) return -1; break;                  /* TUPLE */
      case 0x85: case 0x86: case 0x87: {                                          /* TUPLE1/2/3 */
        int k = op - 0x84;
        if (vm->sp < k || !(v = make(vm, V_TUPLE))) return errf(vm->e, "%s: pickle stack underflow", vm->path);
        for (int j = vm->sp - k; j < vm->sp; j++)
          if (add_item(v, vm->stack[j])) return errf(vm->e, "out of memory");
        vm->sp -= k;
        if (push(vm, v)) return -1;
        break;
      }
      case 'Q': {                                                                 /* BINPERSID */
        a = pop(vm);
        if (!a || a->kind != V_TUPLE || a->n != 5 || a->items[0]->kind != V_STR || strcmp(a->items[0]->s, "storage") ||
            a->items[1]->kind != V_GLOBAL || a->items[1]->i != G_STORAGE || a->items[2]->kind != V_STR ||
            a->items[4]->kind != V_INT || !(v = make(vm, V_STORAGE)))
          return errf(vm->e, "%s: a persistent id other than a float32/16 or bfloat16 storage", vm->path);
        v->dtype = a->items[1]->dtype;
        v->esize = a->items[1]->esize;
        v->s = a->items[2]->s;
        v->i = a->items[4]->i;
        if (push(vm, v)) return -1;
        break;
      }
      case 'R':                                                                   /* REDUCE */
        b = pop(vm);
        a = pop(vm);
        if (!(v = reduce(vm, a, b))) return -1;
        if (push(vm, v)) return -1;
        break;
      case 's': case 'u': {                                                       /* SETITEM(S) */
        Value *kv = NULL;
        if (op == 's') {
          if (vm->sp < 3 || !(kv = make(vm, V_TUPLE))) return errf(vm->e, "%s: pickle stack underflow", vm->path);
          if (add_item(kv, vm->stack[vm->sp - 2]) || add_item(kv, vm->stack[vm->sp - 1])) return errf(vm->e, "out of memory");
          vm->sp -= 2;
        } else if (!(kv = pop_to_mark(vm))) {
          return errf(vm->e, "%s: SETITEMS without a mark", vm->path);
        }
        Value *d = vm->sp ? vm->stack[vm->sp - 1] : NULL;
        if (!d || d->kind != V_DICT || kv->n % 2) return errf(vm->e, "%s: SETITEM on something not a dict", vm->path);
        for (int j = 0; j < kv->n; j++)
          if (add_item(d, kv->items[j])) return errf(vm->e, "out of memory");
        break;
      }
      case 'b':                                                                   /* BUILD: the dict's _metadata */
        a = pop(vm);
        if (!a || a->kind != V_DICT || !vm->sp || vm->stack[vm->sp - 1]->kind != V_DICT)
          return errf(vm->e, "%s: a pickle BUILD outside the state-dict subset", vm->path);
        break;
      default:
        return errf(vm->e, "%s: pickle opcode 0x%02x at byte %zu is outside the subset torch.save writes for a "
                           "state dict: refused, nothing executed", vm->path, op, i - 1);
    }
  }
  return errf(vm->e, "%s: the pickle has no STOP", vm->path);
}

/* A storage's bytes from the archive's PREFIX/data/KEY. */
static unsigned char *read_entry(zip_t *z, const char *name, size_t *size, const char *path, Err *e) {
  zip_stat_t st;
  zip_file_t *zf = NULL;
  unsigned char *buf = NULL;
  if (zip_stat(z, name, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
    errf(e, "%s: the archive has no entry %s", path, name);
    return NULL;
  }
  if (!(buf = malloc(st.size ? st.size : 1)) || !(zf = zip_fopen(z, name, 0)) ||
      zip_fread(zf, buf, st.size) != (zip_int64_t)st.size) {
    errf(e, "%s: cannot read %s (truncated or damaged archive)", path, name);
    free(buf);
    buf = NULL;
  }
  if (zf) zip_fclose(zf);
  *size = st.size;
  return buf;
}

/* Checks each tensor's shape, view and storage before a byte is allocated: sizes without
   overflow, offsets and strides non-negative, every view inside its storage and no larger than
   it, each storage inside its archive entry; the total is bounded by the entries' real sizes
   (tied weights share a storage: a few views of one storage are fine). *bytes: the total. */
static int check_tensors(Vm *vm, zip_t *z, const char *prefix, const Value *d, size_t *bytes) {
  int n = d->n / 2;
  size_t total = 0, stored = 0;
  for (int k = 0; k < n; k++) {
    const Value *key = d->items[2 * k], *t = d->items[2 * k + 1];
    if (key->kind != V_STR || t->kind != V_TENSOR)
      return errf(vm->e, "%s: entry %d of the state dict is not a named tensor", vm->path, k);
    const Value *s = t->storage;
    size_t numel, nb, snumel, sbytes;
    int64_t last, one = s->i;
    char entry[600];
    zip_stat_t st;
    snprintf(entry, sizeof entry, "%s/data/%s", prefix, s->s);
    if (tensor_size(t->size, t->ndim, (size_t)s->esize, &numel, &nb) || __builtin_add_overflow(total, nb, &total))
      return errf(vm->e, "%s: tensor '%s' has a bad size", vm->path, key->s);
    if (tensor_size(&one, 1, (size_t)s->esize, &snumel, &sbytes))
      return errf(vm->e, "%s: tensor '%s' has a bad storage size (%lld elements)", vm->path, key->s, (long long)s->i);
    if (zip_stat(z, entry, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      return errf(vm->e, "%s: the archive has no entry %s", vm->path, entry);
    if (st.size < sbytes)
      return errf(vm->e, "%s: %s holds %llu bytes, its storage needs %zu", vm->path, entry, (unsigned long long)st.size,
                  sbytes);
    if (tensor_view_last(t->offset, t->size, t->stride, t->ndim, &last))
      return errf(vm->e, "%s: tensor '%s' has a negative or overflowing offset or stride", vm->path, key->s);
    if (last >= (int64_t)snumel || numel > snumel)
      return errf(vm->e, "%s: tensor '%s' reaches past its storage of %lld elements", vm->path, key->s, (long long)s->i);
    if (__builtin_add_overflow(stored, (size_t)st.size, &stored)) stored = SIZE_MAX;
  }
  if (total / 4 > stored) /* more than 4 views' worth of every storage: no state dict torch.save writes */
    return errf(vm->e, "%s: its tensors claim %zu bytes from %zu stored", vm->path, total, stored);
  *bytes = total;
  return 0;
}

/* Gathers each tensor's elements (strides applied) into f's buffer, in the tensor's dtype. */
static int gather(Vm *vm, zip_t *z, const char *prefix, const Value *d, TensorFile *f) {
  int n = d->n / 2;
  size_t total = 0;
  if (check_tensors(vm, z, prefix, d, &total)) return -1;
  if (!(f->t = calloc((size_t)(n ? n : 1), sizeof(TensorEntry))) || !(f->buf = malloc(total ? total : 1)))
    return errf(vm->e, "%s: out of memory for %zu bytes of tensors", vm->path, total);
  f->size = total;
  f->data_off = 0;
  size_t off = 0;
  for (int k = 0; k < n; k++) {
    const Value *key = d->items[2 * k], *t = d->items[2 * k + 1];
    const Value *s = t->storage;
    char entry[600];
    size_t ssize, es = (size_t)s->esize, numel, nb;
    snprintf(entry, sizeof entry, "%s/data/%s", prefix, s->s);
    tensor_size(t->size, t->ndim, es, &numel, &nb); /* checked above */
    unsigned char *src = read_entry(z, entry, &ssize, vm->path, vm->e);
    if (!src) return -1;
    if (ssize < (size_t)s->i * es) { /* the entry read shorter than its directory said */
      free(src);
      return errf(vm->e, "%s: %s holds %zu bytes, its storage needs %lld", vm->path, entry, ssize, (long long)s->i * (long long)es);
    }
    TensorEntry *o = &f->t[k];
    snprintf(o->name, sizeof o->name, "%s", key->s);
    o->dtype = s->dtype;
    o->ndim = (int)t->ndim;
    for (int j = 0; j < t->ndim; j++) o->shape[j] = t->size[j];
    o->begin = off;
    for (size_t x = 0; x < numel; x++) { /* row-major index x -> strided storage element */
      int64_t at = t->offset;
      size_t r = x;
      for (int j = (int)t->ndim - 1; j >= 0; j--) {
        at += (int64_t)(r % (size_t)t->size[j]) * t->stride[j];
        r /= (size_t)t->size[j];
      }
      memcpy(f->buf + off + x * es, src + (size_t)at * es, es);
    }
    off += nb;
    o->end = off;
    free(src);
    f->n = k + 1;
  }
  return 0;
}

int torchbin_open(TensorFile *f, const char *path, Err *e) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s", path);
  int zerr = 0;
  zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    errf(e, "%s: not a zip archive as torch.save (>= 1.6) writes: %s", path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return -1;
  }
  char prefix[512] = "", pkl[600];
  for (zip_int64_t k = 0, n = zip_get_num_entries(z, 0); k < n && !prefix[0]; k++) {
    const char *name = zip_get_name(z, (zip_uint64_t)k, 0);
    const char *slash = name ? strchr(name, '/') : NULL;
    if (slash && !strcmp(slash, "/data.pkl") && slash - name < (long)sizeof prefix)
      snprintf(prefix, sizeof prefix, "%.*s", (int)(slash - name), name);
  }
  int rc = 0;
  size_t size = 0;
  unsigned char *p = NULL;
  Vm vm = {path, e, NULL, 0, 0, NULL, 0, 0, NULL, 0};
  Value *top = NULL;
  if (!prefix[0]) rc = errf(e, "%s: the archive has no DIR/data.pkl (not a torch.save file)", path);
  snprintf(pkl, sizeof pkl, "%s/data.pkl", prefix);
  zip_stat_t pst;
  if (!rc && zip_stat(z, pkl, 0, &pst) == 0 && (pst.valid & ZIP_STAT_SIZE) && pst.size > (64u << 20))
    rc = errf(e, "%s: %s is %llu bytes: a state dict's pickle is far smaller", path, pkl, (unsigned long long)pst.size);
  if (!rc && !(p = read_entry(z, pkl, &size, path, e))) rc = -1;
  if (!rc) rc = run(&vm, p, size, &top);
  if (!rc) rc = gather(&vm, z, prefix, top, f);
  free(p);
  for (int k = 0; k < vm.nall; k++) {
    if (vm.all[k]->kind == V_STR) free(vm.all[k]->s);
    free(vm.all[k]->items);
    free(vm.all[k]);
  }
  free(vm.all);
  free(vm.stack);
  free(vm.memo);
  zip_discard(z);
  if (rc) st_close(f);
  return rc;
}
