#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "src/bow.h"

enum { BOW_ITERS = 150 };
#define BOW_L2 1e-4

typedef struct {
  int n, nnz;
  int *start, *feat; /* CSR rows of binary features: [n+1], [nnz] */
} Csr;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Feature keys of example i: unigram id+1, bigram (a+1)<<32 | (b+1); sorted, unique. */
static int keys_of(const BowData *d, int i, uint64_t *out) {
  const int *x = d->ids + (long)i * d->T;
  int k = 0;
  for (int t = 1; t < d->len[i]; t++) {
    out[k++] = (uint64_t)x[t] + 1;
    if (t + 1 < d->len[i]) out[k++] = ((uint64_t)x[t] + 1) << 32 | ((uint64_t)x[t + 1] + 1);
  }
  qsort(out, (size_t)k, sizeof *out, cmp_u64);
  int u = 0;
  for (int j = 0; j < k; j++)
    if (u == 0 || out[j] != out[u - 1]) out[u++] = out[j];
  return u;
}

/* The vocabulary: every key of the training examples, sorted. */
static uint64_t *vocabulary(const BowData *d, int *nv) {
  size_t cap = 0;
  for (int i = 0; i < d->n; i++) cap += 2 * (size_t)(d->len[i] > 0 ? d->len[i] : 1);
  uint64_t *v = malloc(sizeof *v * (cap ? cap : 1));
  if (!v) return NULL;
  size_t k = 0;
  for (int i = 0; i < d->n; i++) k += (size_t)keys_of(d, i, v + k);
  qsort(v, k, sizeof *v, cmp_u64);
  size_t u = 0;
  for (size_t j = 0; j < k; j++)
    if (u == 0 || v[j] != v[u - 1]) v[u++] = v[j];
  *nv = (int)u;
  return v;
}

static int csr_build(const BowData *d, const uint64_t *vocab, int nv, Csr *c) {
  size_t cap = 0;
  for (int i = 0; i < d->n; i++) cap += 2 * (size_t)(d->len[i] > 0 ? d->len[i] : 1);
  uint64_t *keys = malloc(sizeof *keys * (size_t)(2 * d->T + 2));
  c->n = d->n;
  c->start = malloc(sizeof(int) * (size_t)(d->n + 1));
  c->feat = malloc(sizeof(int) * (cap ? cap : 1));
  if (!keys || !c->start || !c->feat) { free(keys); return -1; }
  c->nnz = 0;
  for (int i = 0; i < d->n; i++) {
    c->start[i] = c->nnz;
    int k = keys_of(d, i, keys);
    for (int j = 0; j < k; j++) {
      const uint64_t *hit = bsearch(&keys[j], vocab, (size_t)nv, sizeof *vocab, cmp_u64);
      if (hit) c->feat[c->nnz++] = (int)(hit - vocab);
    }
  }
  c->start[d->n] = c->nnz;
  free(keys);
  return 0;
}

/* Logits of every row: z[i] = b + sum of W's rows for its features. */
static void logits(const Csr *x, const float *W, const float *b, int C, float *z) {
  for (int i = 0; i < x->n; i++) {
    float *zi = z + (size_t)i * C;
    memcpy(zi, b, sizeof(float) * (size_t)C);
    for (int p = x->start[i]; p < x->start[i + 1]; p++)
      for (int c = 0; c < C; c++) zi[c] += W[(size_t)x->feat[p] * C + c];
  }
}

/* Mean cross-entropy plus BOW_L2/2 |W|^2; turns z into softmax - onehot (the logit gradient). */
static double loss_and_dz(float *z, const int *label, int n, int C, const float *W, size_t nw) {
  double loss = 0, reg = 0;
  for (int i = 0; i < n; i++) {
    float *zi = z + (size_t)i * C, mx = zi[0];
    for (int c = 1; c < C; c++) mx = zi[c] > mx ? zi[c] : mx;
    double s = 0;
    for (int c = 0; c < C; c++) s += exp((double)(zi[c] - mx));
    loss += log(s) - (double)(zi[label[i]] - mx);
    for (int c = 0; c < C; c++) zi[c] = (float)(exp((double)(zi[c] - mx)) / s) - (c == label[i]);
  }
  for (size_t k = 0; k < nw; k++) reg += (double)W[k] * W[k];
  return loss / n + 0.5 * BOW_L2 * reg;
}

static void fit(const Csr *x, const int *label, int C, int nv, float *W, float *b, float *z, float *gW, float *gb,
                float *W0, float *b0) {
  const size_t nw = (size_t)nv * C;
  double lr = 4.0, prev = INFINITY;
  for (int it = 0; it < BOW_ITERS && lr > 1e-6; it++) {
    logits(x, W, b, C, z);
    double loss = loss_and_dz(z, label, x->n, C, W, nw);
    if (loss > prev) { /* overshot: back to the last point with half the step */
      memcpy(W, W0, sizeof(float) * nw);
      memcpy(b, b0, sizeof(float) * (size_t)C);
      lr /= 2;
      it--;
      prev = INFINITY;
      continue;
    }
    prev = loss;
    for (size_t k = 0; k < nw; k++) gW[k] = (float)(BOW_L2 * W[k]);
    memset(gb, 0, sizeof(float) * (size_t)C);
    const float inv = 1.0f / (float)x->n;
    for (int i = 0; i < x->n; i++) {
      const float *dz = z + (size_t)i * C;
      for (int c = 0; c < C; c++) gb[c] += dz[c] * inv;
      for (int p = x->start[i]; p < x->start[i + 1]; p++) {
        float *g = gW + (size_t)x->feat[p] * C;
        for (int c = 0; c < C; c++) g[c] += dz[c] * inv;
      }
    }
    memcpy(W0, W, sizeof(float) * nw);
    memcpy(b0, b, sizeof(float) * (size_t)C);
    for (size_t k = 0; k < nw; k++) W[k] -= (float)lr * gW[k];
    for (int c = 0; c < C; c++) b[c] -= (float)lr * gb[c];
  }
}

double bow_accuracy(const BowData *train, const BowData *dev, int nlabels, Err *e) {
  if (train->n == 0 || dev->n == 0 || nlabels < 1) return NAN;
  int nv = 0, C = nlabels, nmax = train->n > dev->n ? train->n : dev->n;
  uint64_t *vocab = vocabulary(train, &nv);
  Csr xt = {0}, xd = {0};
  size_t nw = (size_t)(nv ? nv : 1) * C;
  float *W = calloc(nw, sizeof(float)), *W0 = calloc(nw, sizeof(float)), *gW = malloc(sizeof(float) * nw);
  float *b = calloc((size_t)C * 3, sizeof(float)), *z = malloc(sizeof(float) * (size_t)nmax * C);
  double acc = -1;
  if (!vocab || !W || !W0 || !gW || !b || !z || csr_build(train, vocab, nv, &xt) || csr_build(dev, vocab, nv, &xd)) {
    errf(e, "out of memory for the bag-of-words baseline (%d features)", nv);
  } else {
    fit(&xt, train->label, C, nv, W, b, z, gW, b + C, W0, b + 2 * C);
    logits(&xd, W, b, C, z);
    int right = 0;
    for (int i = 0; i < dev->n; i++) {
      const float *zi = z + (size_t)i * C;
      int best = 0;
      for (int c = 1; c < C; c++) best = zi[c] > zi[best] ? c : best;
      right += best == dev->label[i];
    }
    acc = (double)right / dev->n;
  }
  free(vocab); free(W); free(W0); free(gW); free(b); free(z);
  free(xt.start); free(xt.feat); free(xd.start); free(xd.feat);
  return acc;
}
