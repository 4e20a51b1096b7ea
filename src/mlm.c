#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "src/metrics.h"
#include "src/mlm.h"
#include "src/ops.h"
#include "src/rng.h"

int mlm_alloc(MlmHead *h, const BertConfig *c, int Mmax, Err *e) {
  memset(h, 0, sizeof *h);
  const int H = c->hidden, V = c->vocab_size;
  h->H = H;
  h->V = V;
  h->Mmax = Mmax;
  const char *names[5] = {"cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                          "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
                          "cls.predictions.bias"};
  const int rows[5] = {H, H, H, H, V}, cols[5] = {H, 1, 1, 1, 1};
  const int kinds[5] = {KIND_WEIGHT, KIND_BIAS, KIND_NORM_W, KIND_BIAS, KIND_BIAS};
  for (int i = 0; i < 5; i++) {
    h->info[i] = (ParamInfo){.rows = rows[i], .cols = cols[i], .offset = h->n, .numel = (size_t)rows[i] * cols[i],
                             .group = c->layers, .kind = kinds[i]};
    snprintf(h->info[i].name, sizeof h->info[i].name, "%s", names[i]);
    h->n += h->info[i].numel;
  }
  size_t M = (size_t)Mmax, act = M * (6 * (size_t)H + 2) + 2 * M * V;
  h->params = xcalloc(h->n, sizeof(float), e);
  h->grads = xcalloc(h->n, sizeof(float), e);
  h->x = xcalloc(act, sizeof(float), e);
  if (!h->params || !h->grads || !h->x) {
    mlm_free(h);
    return errctx(e, "MLM head");
  }
  float *p[5] = {0}, *g[5] = {0};
  for (int i = 0; i < 5; i++) {
    p[i] = h->params + h->info[i].offset;
    g[i] = h->grads + h->info[i].offset;
  }
  h->dense_w = p[0]; h->dense_b = p[1]; h->ln_g = p[2]; h->ln_b = p[3]; h->bias = p[4];
  h->g_dense_w = g[0]; h->g_dense_b = g[1]; h->g_ln_g = g[2]; h->g_ln_b = g[3]; h->g_bias = g[4];
  float *q = h->x + M * H;
  h->h1 = q; q += M * H;
  h->h1a = q; q += M * H;
  h->h2 = q; q += M * H;
  h->dh2 = q; q += M * H;
  h->dh1 = q; q += M * H;
  h->mean = q; q += M;
  h->rstd = q; q += M;
  h->logits = q; q += M * V;
  h->dlogits = q;
  return 0;
}

void mlm_free(MlmHead *h) {
  free(h->params);
  free(h->grads);
  free(h->x);
  memset(h, 0, sizeof *h);
}

void mlm_init(MlmHead *h, float init_range, uint64_t seed) {
  Rng r;
  rng_init(&r, seed, 0x4d4c4dull); /* "MLM" */
  for (size_t i = 0; i < h->n; i++) h->params[i] = 0.0f;
  for (long i = 0; i < (long)h->H * h->H; i++) h->dense_w[i] = rng_normal(&r, init_range);
  for (int i = 0; i < h->H; i++) h->ln_g[i] = 1.0f;
}

float mlm_forward(MlmHead *h, const Bert *m, const float *hidden, const int *pos, const int *target, int M,
                  int *correct) {
  const int H = h->H, V = h->V;
  for (int i = 0; i < M; i++) memcpy(h->x + (long)i * H, hidden + (long)pos[i] * H, sizeof(float) * H);
  linear_fwd(h->h1, h->x, h->dense_w, NULL, M, H, H);
  bias_gelu_fwd(h->h1a, h->h1, h->dense_b, M, H, m->cfg.act);
  layernorm_fwd(h->h2, h->mean, h->rstd, h->h1a, h->ln_g, h->ln_b, M, H, m->cfg.ln_eps);
  linear_fwd(h->logits, h->h2, m->p.word, h->bias, M, H, V);
  if (correct) {
    *correct = 0;
    for (int i = 0; i < M; i++) *correct += metrics_argmax(h->logits + (long)i * V, V) == target[i];
  }
  return cross_entropy(h->dlogits, NULL, h->logits, target, M, V);
}

void mlm_backward(MlmHead *h, Bert *m, float *dhidden, const int *pos, int M) {
  const int H = h->H, V = h->V;
  linear_bwd(h->dh2, 0.0f, m->g.word, h->g_bias, h->dlogits, h->h2, m->p.word, M, H, V); /* tied decoder */
  layernorm_bwd(h->dh1, h->g_ln_g, h->g_ln_b, h->dh2, h->h1a, h->mean, h->rstd, h->ln_g, M, H);
  gelu_bwd(h->dh1, h->dh1, h->h1, (long)M * H, m->cfg.act);
  linear_bwd(h->dh2, 0.0f, h->g_dense_w, h->g_dense_b, h->dh1, h->x, h->dense_w, M, H, H);
  for (int i = 0; i < M; i++) {
    float *d = dhidden + (long)pos[i] * H;
    const float *s = h->dh2 + (long)i * H;
    for (int j = 0; j < H; j++) d[j] += s[j];
  }
}
