#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "src/vocab_build.h"

#define NCP 0x110000

static int push(char ***v, int *n, int *cap, const char *s) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 1024;
    char **nv = realloc(*v, sizeof(char *) * (size_t)*cap);
    if (!nv) return -1;
    *v = nv;
  }
  if (!((*v)[*n] = strdup(s))) return -1;
  (*n)++;
  return 0;
}

static int push_cp(char ***v, int *n, int *cap, int32_t c) {
  char buf[8] = {0};
  utf8proc_encode_char(c, (utf8proc_uint8_t *)buf);
  return push(v, n, cap, buf);
}

typedef struct {
  int32_t cp;
  long count;
} CpCount;

static int by_count(const void *a, const void *b) {
  const CpCount *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return x->cp - y->cp;
}

static int is_symbol(int32_t c) {
  utf8proc_category_t k = utf8proc_category(c);
  return (k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO) || (k >= UTF8PROC_CATEGORY_SM && k <= UTF8PROC_CATEGORY_SO);
}

void vocab_free(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

int vocab_build(char *const *lines, int n, int max_size, int min_count, char ***out, Err *e) {
  long *count = calloc(NCP, sizeof(long));
  char **v = NULL;
  int nv = 0, cap = 0, bad = !count;
  for (int i = 0; i < n && !bad; i++) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)lines[i];
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(lines[i]);
    while (left > 0) {
      utf8proc_int32_t c;
      utf8proc_ssize_t k = utf8proc_iterate(p, left, &c);
      if (k <= 0) { k = 1; c = -1; }
      if (c > 32 && c < NCP && utf8proc_category(c) != UTF8PROC_CATEGORY_ZS) count[c]++;
      p += k;
      left -= k;
    }
  }
  char tok[32];
  bad = bad || push(&v, &nv, &cap, "[PAD]");
  for (int i = 1; i <= 99 && !bad; i++) {
    snprintf(tok, sizeof tok, "[unused%d]", i);
    bad = push(&v, &nv, &cap, tok);
  }
  const char *special[] = {"[UNK]", "[CLS]", "[SEP]", "[MASK]", "<S>", "<T>"};
  for (int i = 0; i < 6 && !bad; i++) bad = push(&v, &nv, &cap, special[i]);
  for (int32_t c = 33; c < 127 && !bad; c++) bad = push_cp(&v, &nv, &cap, c); /* punctuation, digits, Latin */
  CpCount *sym = bad ? NULL : malloc(sizeof(CpCount) * 65536), *rest = bad ? NULL : malloc(sizeof(CpCount) * NCP);
  int ns = 0, nr = 0;
  bad = bad || !sym || !rest;
  for (int32_t c = 127; c < NCP && !bad; c++) {
    if (count[c] < min_count) continue;
    if (is_symbol(c) && ns < 65536) sym[ns++] = (CpCount){c, count[c]};
    else rest[nr++] = (CpCount){c, count[c]};
  }
  if (!bad) {
    qsort(sym, (size_t)ns, sizeof *sym, by_count);
    qsort(rest, (size_t)nr, sizeof *rest, by_count);
  }
  for (int i = 0; i < ns && nv < max_size && !bad; i++) bad = push_cp(&v, &nv, &cap, sym[i].cp);
  for (int i = 0; i < nr && nv < max_size && !bad; i++) bad = push_cp(&v, &nv, &cap, rest[i].cp);
  free(count);
  free(sym);
  free(rest);
  if (bad) {
    vocab_free(v, nv);
    return errf(e, "out of memory building the vocabulary");
  }
  *out = v;
  return nv;
}
