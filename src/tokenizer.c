#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "src/tokenizer.h"

#define MAX_WORD_CHARS 100

static uint32_t hash(const char *s, int len) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (int i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

int tok_id(const Tokenizer *t, const char *s, int len) {
  uint32_t mask = (uint32_t)t->nslots - 1;
  for (uint32_t i = hash(s, len) & mask;; i = (i + 1) & mask) {
    int id = t->slots[i];
    if (id < 0) return -1;
    if ((int)strlen(t->tokens[id]) == len && memcmp(t->tokens[id], s, (size_t)len) == 0) return id;
  }
}

static int required(const Tokenizer *t, const char *tok, const char *source, Err *e) {
  int id = tok_id(t, tok, (int)strlen(tok));
  if (id < 0) errf(e, "%s: vocabulary has no %s token", source, tok);
  return id;
}

void tok_default_options(TokOptions *o) { *o = (TokOptions){1, -1, 1, NULL, 0}; }

int tok_init(Tokenizer *t, char **lines, int n, int do_lower_case, const char *source, Err *e) {
  memset(t, 0, sizeof *t);
  tok_default_options(&t->opt);
  t->n = n;
  t->tokens = lines;
  t->do_lower_case = do_lower_case;
  t->nslots = 16;
  while (t->nslots < 2 * n) t->nslots *= 2;
  t->slots = malloc(sizeof(int) * (size_t)t->nslots);
  if (!t->slots) return errf(e, "%s: out of memory for the vocabulary index", source);
  memset(t->slots, 0xff, sizeof(int) * (size_t)t->nslots);
  uint32_t mask = (uint32_t)t->nslots - 1;
  for (int id = 0; id < n; id++) {
    int len = (int)strlen(lines[id]);
    /* a duplicate takes over its slot: the last index wins, as HF's load_vocab
       (vocab[token] = index in file order) */
    uint32_t i = hash(lines[id], len) & mask;
    while (t->slots[i] >= 0 && !(strlen(lines[t->slots[i]]) == (size_t)len && memcmp(lines[t->slots[i]], lines[id], (size_t)len) == 0))
      i = (i + 1) & mask;
    t->slots[i] = id;
  }
  if ((t->unk = required(t, "[UNK]", source, e)) < 0 || (t->cls = required(t, "[CLS]", source, e)) < 0 ||
      (t->sep = required(t, "[SEP]", source, e)) < 0 || (t->pad = required(t, "[PAD]", source, e)) < 0) {
    free(t->slots);
    t->slots = NULL;
    return -1;
  }
  t->mask = tok_id(t, "[MASK]", 6);
  return 0;
}

void tok_free(Tokenizer *t) {
  free(t->slots);
  t->slots = NULL;
}

/* ---- character classes, as HF tokenization_bert ---- */

/* HF's _is_whitespace (Zs and \t\n\r) plus the line and paragraph separators (Zl, Zp:
   U+2028, U+2029), on which HF's whitespace_tokenize (Python's str.split) splits too. */
static int is_whitespace(int32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
  utf8proc_category_t k = utf8proc_category(c);
  return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static int is_control(int32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return 0;
  utf8proc_category_t k = utf8proc_category(c);
  return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
         k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

static int is_punct(int32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
  utf8proc_category_t k = utf8proc_category(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---- the pipeline works on code point arrays ---- */

typedef struct {
  int32_t *c;
  int n, cap;
} Cps;

static int push(Cps *s, int32_t c) {
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 64;
    int32_t *nc = realloc(s->c, sizeof(int32_t) * (size_t)cap);
    if (!nc) return -1;
    s->c = nc;
    s->cap = cap;
  }
  s->c[s->n++] = c;
  return 0;
}

static int decode(const char *text, Cps *out) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
  utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(text);
  while (left > 0) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(p, left, &c);
    if (k <= 0) { c = 0xFFFD; k = 1; } /* invalid byte: dropped by clean_text below */
    if (push(out, c)) return -1;
    p += k;
    left -= k;
  }
  return 0;
}

/* Word w[0..n) into out: lower-cased when lower, then NFD without Mn (HF _run_strip_accents)
   when strip. */
static int lower_strip(const int32_t *w, int n, int lower, int strip, Cps *out) {
  utf8proc_uint8_t *buf = malloc((size_t)n * 4 + 1), *nfd;
  if (!buf) return -1;
  utf8proc_ssize_t len = 0;
  for (int i = 0; i < n; i++) len += utf8proc_encode_char(lower ? utf8proc_tolower(w[i]) : w[i], buf + len);
  buf[len] = 0;
  if (!strip) {
    int rc = decode((const char *)buf, out);
    free(buf);
    return rc;
  }
  nfd = utf8proc_NFD(buf);
  free(buf);
  if (!nfd) return -1;
  Cps tmp = {0};
  int rc = decode((const char *)nfd, &tmp);
  free(nfd);
  for (int i = 0; rc == 0 && i < tmp.n; i++)
    if (utf8proc_category(tmp.c[i]) != UTF8PROC_CATEGORY_MN) rc = push(out, tmp.c[i]);
  free(tmp.c);
  return rc;
}

static const char *const SPECIALS[] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};

static int same(const int32_t *w, int n, const char *s) {
  int i = 0;
  for (; i < n && s[i] && w[i] == (unsigned char)s[i]; i++);
  return i == n && !s[i];
}

/* Length of the special token that starts at w (of n code points left), or 0. */
static int special_at(const int32_t *w, int n) {
  if (n < 5 || w[0] != '[') return 0;
  for (size_t s = 0; s < sizeof SPECIALS / sizeof *SPECIALS; s++) {
    int len = (int)strlen(SPECIALS[s]);
    if (len <= n && same(w, len, SPECIALS[s])) return len;
  }
  return 0;
}

/* A word BasicTokenizer leaves whole: a special token or one of never_split. */
static int is_kept_whole(const Tokenizer *t, const int32_t *w, int n) {
  if (special_at(w, n) == n) return 1;
  for (int k = 0; k < t->opt.n_never_split; k++)
    if (same(w, n, t->opt.never_split[k])) return 1;
  return 0;
}

typedef void (*WordFn)(void *ctx, const int32_t *w, int n);

/* Runs HF's tokenize() over text, calling fn for each basic token: special tokens split out
   wherever they stand (HF's added-tokens trie), NFC, then BasicTokenizer on the rest. */
static int basic_tokenize(const Tokenizer *t, const char *text, WordFn fn, void *ctx) {
  Cps in = {0}, spaced = {0};
  utf8proc_uint8_t *nfc = t->opt.nfc ? utf8proc_NFC((const utf8proc_uint8_t *)text) : NULL;
  int rc = decode(nfc ? (const char *)nfc : text, &in); /* invalid UTF-8 has no NFC: used as it is */
  free(nfc);
  const int lower = t->do_lower_case, strip = lower ? t->opt.strip_accents != 0 : t->opt.strip_accents == 1;
  for (int i = 0; rc == 0 && i < in.n; i++) { /* specials, clean_text, tokenize_chinese_chars */
    int32_t c = in.c[i];
    int sp = special_at(in.c + i, in.n - i);
    if (sp) {
      rc = push(&spaced, ' ');
      for (int k = 0; rc == 0 && k < sp; k++) rc = push(&spaced, in.c[i + k]);
      rc = rc || push(&spaced, ' ');
      i += sp - 1;
    } else if (c == 0 || c == 0xFFFD || is_control(c)) {
      continue;
    } else if (is_whitespace(c)) {
      rc = push(&spaced, ' ');
    } else if (t->opt.chinese_chars && is_cjk(c)) {
      rc = push(&spaced, ' ') || push(&spaced, c) || push(&spaced, ' ');
    } else {
      rc = push(&spaced, c);
    }
  }
  for (int i = 0; rc == 0 && i < spaced.n;) {
    if (spaced.c[i] == ' ') { i++; continue; }
    int j = i;
    while (j < spaced.n && spaced.c[j] != ' ') j++;
    const int32_t *w = spaced.c + i;
    int wn = j - i;
    Cps low = {0};
    if (is_kept_whole(t, w, wn)) {
      fn(ctx, w, wn);
    } else {
      if (lower || strip) {
        if ((rc = lower_strip(w, wn, lower, strip, &low)) != 0) break;
        w = low.c;
        wn = low.n;
      }
      int start = 0; /* split on punctuation */
      for (int k = 0; k < wn; k++) {
        if (!is_punct(w[k])) continue;
        if (k > start) fn(ctx, w + start, k - start);
        fn(ctx, w + k, 1);
        start = k + 1;
      }
      if (wn > start) fn(ctx, w + start, wn - start);
    }
    free(low.c);
    i = j;
  }
  free(in.c);
  free(spaced.c);
  return rc;
}

/* Greedy longest-match-first WordPiece of one basic token; calls out(id) per piece. */
static void wordpiece(const Tokenizer *t, const int32_t *w, int n, void (*out)(void *, int), void *ctx) {
  if (n > MAX_WORD_CHARS) { out(ctx, t->unk); return; }
  char buf[MAX_WORD_CHARS * 4], key[2 + MAX_WORD_CHARS * 4];
  int off[MAX_WORD_CHARS + 1], len = 0;
  for (int i = 0; i < n; i++) {
    off[i] = len;
    len += (int)utf8proc_encode_char(w[i], (utf8proc_uint8_t *)buf + len);
  }
  off[n] = len;
  int pieces[MAX_WORD_CHARS], np = 0;
  for (int start = 0; start < n;) {
    int end = n, id = -1;
    for (; end > start; end--) {
      int kl = start > 0 ? 2 : 0;
      memcpy(key, "##", 2);
      memcpy(key + kl, buf + off[start], (size_t)(off[end] - off[start]));
      if ((id = tok_id(t, key, kl + off[end] - off[start])) >= 0) break;
    }
    if (id < 0) { out(ctx, t->unk); return; }
    pieces[np++] = id;
    start = end;
  }
  for (int i = 0; i < np; i++) out(ctx, pieces[i]);
}

typedef struct {
  const Tokenizer *t;
  int *ids, max, n;
} EncodeCtx;

static void collect(void *p, int id) {
  EncodeCtx *c = p;
  if (c->n < c->max) c->ids[c->n] = id;
  c->n++;
}

static void encode_word(void *p, const int32_t *w, int n) {
  EncodeCtx *c = p;
  wordpiece(c->t, w, n, collect, c);
}

int tok_encode(const Tokenizer *t, const char *text, int *ids, int max) {
  EncodeCtx c = {t, ids, max, 0};
  if (basic_tokenize(t, text, encode_word, &c)) return -1;
  return c.n < max ? c.n : max;
}

int tok_tokenize_str(const Tokenizer *t, const char *text, char *out, int outsize) {
  int ids[4096];
  int n = tok_encode(t, text, ids, 4096), len = 0;
  if (n < 0) return -1;
  out[0] = 0;
  for (int i = 0; i < n; i++) {
    int k = snprintf(out + len, (size_t)(outsize - len), "%s%s", i ? " " : "", t->tokens[ids[i]]);
    if (k < 0 || k >= outsize - len) return -1;
    len += k;
  }
  return n;
}

int tok_encode_pair(const Tokenizer *t, const char *a, const char *b, int max_len, int *ids, int *types, int *mask) {
  int na = tok_encode(t, a, ids + 1, max_len - 2);
  if (na < 0) return -1;
  int nb = 0, *bi = NULL;
  if (b) {
    bi = malloc(sizeof(int) * (size_t)max_len);
    if (!bi) return -1;
    nb = tok_encode(t, b, bi, max_len);
    if (nb < 0) { free(bi); return -1; }
  }
  int room = max_len - (b ? 3 : 2);
  while (na + nb > room) { /* truncate "longest_first": drop from the longer one */
    if (na > nb) na--;
    else nb--;
  }
  int n = 0;
  ids[n] = t->cls; types[n++] = 0;
  for (int i = 0; i < na; i++) types[n++] = 0; /* ids already in place at 1..na */
  ids[n] = t->sep; types[n++] = 0;
  for (int i = 0; i < nb; i++) { ids[n] = bi[i]; types[n++] = 1; }
  if (b) { ids[n] = t->sep; types[n++] = 1; }
  free(bi);
  for (int i = 0; i < max_len; i++) mask[i] = i < n;
  for (int i = n; i < max_len; i++) { ids[i] = t->pad; types[i] = 0; }
  return n;
}
