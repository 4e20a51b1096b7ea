#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "io/dataset.h"
#include "io/fileutil.h"

static int grow(Dataset *d, int *cap, Err *e) {
  if (d->n < *cap) return 0;
  int nc = *cap ? *cap * 2 : 1024;
  char **a = realloc(d->text_a, sizeof(char *) * nc);
  if (a) d->text_a = a;
  char **b = realloc(d->text_b, sizeof(char *) * nc);
  if (b) d->text_b = b;
  char **l = realloc(d->label, sizeof(char *) * nc);
  if (l) d->label = l;
  int *ln = realloc(d->line, sizeof(int) * nc);
  if (ln) d->line = ln;
  if (!a || !b || !l || !ln) return errf(e, "%s: out of memory", d->path);
  *cap = nc;
  return 0;
}

/* A JSON field as text: strings as they are, numbers printed as integers when integral. */
static char *json_text(const cJSON *it) {
  if (cJSON_IsString(it)) return strdup(it->valuestring);
  if (cJSON_IsNumber(it)) {
    char buf[64];
    if (it->valuedouble == (double)(long long)it->valuedouble) snprintf(buf, sizeof buf, "%lld", (long long)it->valuedouble);
    else snprintf(buf, sizeof buf, "%.17g", it->valuedouble);
    return strdup(buf);
  }
  return NULL;
}

static int add_row(Dataset *d, int line, char *a, char *b, char *label, Err *e) {
  d->text_a[d->n] = a;
  d->text_b[d->n] = b;
  d->label[d->n] = label;
  d->line[d->n] = line;
  d->n++;
  return 0;
}

static int read_jsonl(Dataset *d, char **lines, int nl, const DataFormat *f, Err *e) {
  int cap = 0;
  for (int i = 0; i < nl; i++) {
    if (lines[i][strspn(lines[i], " \t")] == 0) continue;
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", d->path, i + 1);
    cJSON *o = json_parse_strict(lines[i], strlen(lines[i]), d->path, i + 1, e);
    if (!o) return -1;
    if (!cJSON_IsObject(o)) {
      cJSON_Delete(o);
      return errf(e, "%s: not a JSON object", where);
    }
    char *a = json_text(cJSON_GetObjectItemCaseSensitive(o, f->text_field));
    char *b = f->pair_field[0] ? json_text(cJSON_GetObjectItemCaseSensitive(o, f->pair_field)) : NULL;
    char *l = json_text(cJSON_GetObjectItemCaseSensitive(o, f->label_field));
    cJSON_Delete(o);
    const char *missing = !a ? f->text_field : (f->pair_field[0] && !b) ? f->pair_field : !l ? f->label_field : NULL;
    if (missing || grow(d, &cap, e)) {
      free(a); free(b); free(l);
      if (missing) errf(e, "%s:%d: no string field \"%s\"", d->path, i + 1, missing);
      return -1;
    }
    add_row(d, i + 1, a, b, l, e);
  }
  return 0;
}

/* Splits one TSV line into fields as Python's csv module writes them with delimiter "\t"
   (quoted): a field that starts with a quote runs to the next lone quote ("" inside stands for
   one quote) and may hold tabs; other fields are taken as they are. Not quoted: fields end at
   tabs, quotes are text. Returns the field count, -1 on a quoting error; *fields is malloc'd,
   each field too. */
static int split_tsv(const char *line, int quoted, char ***fields) {
  int n = 0, cap = 8;
  char **v = malloc(sizeof(char *) * (size_t)cap);
  const char *p = line;
  for (int more = 1; v && more;) {
    /* this field's raw extent bounds its text: each field costs its own length, not the line's */
    size_t len = 0;
    if (quoted && *p == '"')
      for (len = 1; p[len] && !(p[len] == '"' && p[len + 1] != '"'); len += p[len] == '"' ? 2 : 1) {}
    else
      while (p[len] && p[len] != '\t') len++;
    char *f = malloc(len + 1), *o = f;
    if (!f) break;
    if (quoted && *p == '"') {
      for (p++;; p++) {
        if (*p == 0) { free(f); goto bad; } /* a quoted field cannot span lines here */
        if (*p == '"' && p[1] == '"') { *o++ = '"'; p++; continue; }
        if (*p == '"') { p++; break; }
        *o++ = *p;
      }
      if (*p != '\t' && *p != 0) { free(f); goto bad; }
    } else {
      while (*p && *p != '\t') *o++ = *p++;
    }
    *o = 0;
    more = *p == '\t';
    p += more;
    if (n == cap) {
      char **nv = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
      if (!nv) { free(f); break; }
      v = nv;
    }
    v[n++] = f;
    if (!more) {
      *fields = v;
      return n;
    }
  }
bad:
  for (int i = 0; v && i < n; i++) free(v[i]);
  free(v);
  return -1;
}

static void free_fields(char **f, int n) {
  for (int i = 0; i < n; i++) free(f[i]);
  free(f);
}

static int column(char **header, int n, const char *name) {
  for (int k = 0; k < n; k++)
    if (strcmp(header[k], name) == 0) return k;
  return -1;
}

/* Without a header row, a field is named by its column number (0 for the first). */
static int column_number(const char *path, const char *key, const char *name, int *out, Err *e) {
  char *end;
  long k = strtol(name, &end, 10);
  if (!name[0] || *end || k < 0 || k > 4096)
    return errf(e, "%s: without a header row (data.header false), %s must be a column number (0 for the first), "
                   "not \"%s\"", path, key, name);
  *out = (int)k;
  return 0;
}

/* The columns of the text, pair (-1: none) and label fields; *first: the first data line. */
static int tsv_columns(const Dataset *d, char **lines, int nl, const DataFormat *f, int *ca, int *cb, int *cl,
                       int *first, Err *e) {
  *cb = -1;
  if (!f->header) {
    *first = 0;
    return column_number(d->path, "data.text_field", f->text_field, ca, e) ||
           column_number(d->path, "data.label_field", f->label_field, cl, e) ||
           (f->pair_field[0] && column_number(d->path, "data.text_pair_field", f->pair_field, cb, e));
  }
  *first = 1;
  if (nl < 1) return errf(e, "%s: empty file (a TSV needs a header row, or data.header false)", d->path);
  char **head;
  int nh = split_tsv(lines[0], f->quoting == QUOTE_CSV, &head);
  if (nh < 0) return errf(e, "%s:1: a quoted field is not closed before the line ends", d->path);
  *ca = column(head, nh, f->text_field), *cl = column(head, nh, f->label_field);
  if (f->pair_field[0]) *cb = column(head, nh, f->pair_field);
  free_fields(head, nh);
  if (*ca < 0 || *cl < 0 || (f->pair_field[0] && *cb < 0))
    return errf(e, "%s:1: header lacks column \"%s\" (a file without a header row needs data.header false and "
                   "column numbers as field names)", d->path,
                *ca < 0 ? f->text_field : *cl < 0 ? f->label_field : f->pair_field);
  return 0;
}

static int read_tsv(Dataset *d, char **lines, int nl, const DataFormat *f, Err *e) {
  int ca = 0, cb = -1, cl = 0, first = 0;
  if (tsv_columns(d, lines, nl, f, &ca, &cb, &cl, &first, e)) return -1;
  int cap = 0, need = (ca > cl ? ca : cl) > cb ? (ca > cl ? ca : cl) : cb;
  for (int i = first; i < nl; i++) {
    if (!lines[i][0]) continue;
    char **fl;
    int nf = split_tsv(lines[i], f->quoting == QUOTE_CSV, &fl);
    if (nf < 0) return errf(e, "%s:%d: a quoted field is not closed before the line ends (or text follows its "
                               "closing quote; data.quoting \"none\" reads quotes as text)", d->path, i + 1);
    if (nf <= need || grow(d, &cap, e)) {
      free_fields(fl, nf);
      return errf(e, "%s:%d: too few tab-separated columns", d->path, i + 1);
    }
    char *a = strdup(fl[ca]), *b = cb >= 0 ? strdup(fl[cb]) : NULL, *l = strdup(fl[cl]);
    free_fields(fl, nf);
    if (!a || !l || (cb >= 0 && !b)) {
      free(a); free(b); free(l);
      return errf(e, "out of memory");
    }
    add_row(d, i + 1, a, b, l, e);
  }
  return 0;
}

const char *const QUOTING_NAMES[NQUOTINGS + 1] = {[QUOTE_CSV] = "csv", [QUOTE_NONE] = "none", [NQUOTINGS] = NULL};
const char *const FORMAT_NAMES[NFORMATS + 1] = {[FMT_CLUE] = "clue", [FMT_JSONL] = "jsonl", [FMT_TSV] = "tsv", [NFORMATS] = NULL};
const char *const SAMPLING_NAMES[NSAMPLINGS + 1] = {[SAMPLE_UNIFORM] = "uniform", [SAMPLE_PER_CLASS] = "per_class",
                                                    [NSAMPLINGS] = NULL};
static_assert(NFORMATS == 3 && NSAMPLINGS == 2 && NQUOTINGS == 2,
              "FORMAT_NAMES, READERS, SAMPLING_NAMES and QUOTING_NAMES cover every value");

typedef int (*Reader)(Dataset *d, char **lines, int nl, const DataFormat *fmt, Err *e);
/* CLUE files are JSON lines with the CLUE field names as defaults. */
static const Reader READERS[NFORMATS] = {[FMT_CLUE] = read_jsonl, [FMT_JSONL] = read_jsonl, [FMT_TSV] = read_tsv};

int dataset_read(Dataset *d, const char *path, const DataFormat *fmt, Err *e) {
  memset(d, 0, sizeof *d);
  snprintf(d->path, sizeof d->path, "%s", path);
  size_t size;
  char *buf = read_file(path, &size, e);
  if (!buf) return -1;
  char **lines, *text = buf;
  if (size >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) { /* a UTF-8 byte-order mark, as some editors write */
    text += 3;
    size -= 3;
  }
  int nl = split_lines(text, size, path, &lines, e), rc = -1;
  if (nl >= 0) {
    rc = READERS[fmt->format](d, lines, nl, fmt, e);
    free(lines);
  }
  free(buf);
  if (!rc && d->n == 0) rc = errf(e, "%s: no examples", path);
  if (rc) dataset_free(d);
  return rc;
}

void dataset_free(Dataset *d) {
  for (int i = 0; i < d->n; i++) {
    free(d->text_a[i]);
    free(d->text_b[i]);
    free(d->label[i]);
  }
  free(d->text_a);
  free(d->text_b);
  free(d->label);
  free(d->line);
  free(d->label_id);
  d->text_a = d->text_b = d->label = NULL;
  d->line = d->label_id = NULL;
  d->n = 0;
}

static int add_label(LabelSet *ls, const char *name, Err *e) {
  for (int i = 0; i < ls->n; i++)
    if (strcmp(ls->names[i], name) == 0) return 0;
  char **nn = realloc(ls->names, sizeof(char *) * (size_t)(ls->n + 1));
  if (!nn) return errf(e, "out of memory");
  ls->names = nn;
  if (!(ls->names[ls->n] = strdup(name))) return errf(e, "out of memory");
  ls->n++;
  return 0;
}

int labels_read(LabelSet *ls, const char *path, Err *e) {
  memset(ls, 0, sizeof *ls);
  size_t size;
  char *buf = read_file(path, &size, e);
  if (!buf) return -1;
  char **lines;
  int nl = split_lines(buf, size, path, &lines, e), rc = nl < 0 ? -1 : 0;
  for (int i = 0; i < nl && !rc; i++) {
    if (!lines[i][0]) continue;
    if (lines[i][0] == '{') {
      char where[4200];
      snprintf(where, sizeof where, "%s:%d", path, i + 1);
      cJSON *o = json_parse_strict(lines[i], strlen(lines[i]), path, i + 1, e);
      char *l = o ? json_text(cJSON_GetObjectItemCaseSensitive(o, "label")) : NULL;
      cJSON_Delete(o);
      if (!o) rc = -1;
      else if (!l) rc = errf(e, "%s: expected a JSON object with a \"label\"", where);
      else rc = add_label(ls, l, e);
      free(l);
    } else {
      rc = add_label(ls, lines[i], e);
    }
  }
  if (nl >= 0) free(lines);
  free(buf);
  if (!rc && ls->n < 2) rc = errf(e, "%s: needs at least two labels", path);
  if (rc) labels_free(ls);
  return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int labels_from_data(LabelSet *ls, const Dataset *d, Err *e) {
  memset(ls, 0, sizeof *ls);
  for (int i = 0; i < d->n; i++)
    if (add_label(ls, d->label[i], e)) { labels_free(ls); return -1; }
  qsort(ls->names, (size_t)ls->n, sizeof(char *), cmp_str);
  if (ls->n < 2) { labels_free(ls); return errf(e, "%s: needs at least two distinct labels", d->path); }
  return 0;
}

void labels_free(LabelSet *ls) {
  for (int i = 0; i < ls->n; i++) free(ls->names[i]);
  free(ls->names);
  ls->names = NULL;
  ls->n = 0;
}

int dataset_map_labels(Dataset *d, const LabelSet *ls, Err *e) {
  free(d->label_id);
  d->label_id = malloc(sizeof(int) * (size_t)d->n);
  if (!d->label_id) return errf(e, "%s: out of memory", d->path);
  for (int i = 0; i < d->n; i++) {
    int id = -1;
    for (int k = 0; k < ls->n && id < 0; k++)
      if (strcmp(ls->names[k], d->label[i]) == 0) id = k;
    if (id < 0) return errf(e, "%s:%d: unknown label \"%s\"", d->path, d->line[i], d->label[i]);
    d->label_id[i] = id;
  }
  return 0;
}
