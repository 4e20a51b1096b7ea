#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "src/optim.h"

int optim_init(Optim *o, const OptConfig *cfg, size_t nparams, Err *e) {
  memset(o, 0, sizeof *o);
  o->cfg = *cfg;
  o->m = xcalloc(nparams, sizeof(float), e);
  o->v = xcalloc(nparams, sizeof(float), e);
  if (!o->m || !o->v) {
    optim_free(o);
    return errctx(e, "optimizer state");
  }
  return 0;
}

void optim_free(Optim *o) {
  free(o->m);
  free(o->v);
  o->m = o->v = NULL;
}

float optim_lr_scale(const OptConfig *cfg, const ParamInfo *pi, int layers) {
  if (cfg->llrd == 1.0f || pi->group >= layers) return 1.0f;
  int depth = pi->group < 0 ? layers + 1 : layers - pi->group;
  return powf(cfg->llrd, (float)depth);
}

static void hf_adamw(const OptConfig *c, float *p, const float *g, float *m, float *v, const float *p0,
                     size_t n, float lr, float wd, long t) {
  float step = lr;
  if (c->correct_bias) step = (float)(lr * sqrt(1.0 - pow(c->beta2, (double)t)) / (1.0 - pow(c->beta1, (double)t)));
  const float b1 = c->beta1, b2 = c->beta2;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    p[i] -= step * (m[i] / (sqrtf(v[i]) + c->eps));
    if (wd > 0.0f) p[i] -= lr * wd * (p[i] - (p0 ? p0[i] : 0.0f));
  }
}

static void torch_adamw(const OptConfig *c, float *p, const float *g, float *m, float *v, const float *p0,
                        size_t n, float lr, float wd, long t) {
  const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2s = sqrt(1.0 - pow(c->beta2, (double)t));
  const float step = (float)(lr / bc1), b1 = c->beta1, b2 = c->beta2;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    if (wd > 0.0f) p[i] -= lr * wd * (p[i] - (p0 ? p0[i] : 0.0f));
    m[i] += (1.0f - b1) * (g[i] - m[i]);
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    float denom = (float)(sqrtf(v[i]) / bc2s) + c->eps;
    p[i] -= step * (m[i] / denom);
  }
}

static void bert_adam(const OptConfig *c, float *p, const float *g, float *m, float *v, const float *p0,
                      size_t n, float lr, float wd) {
  const float b1 = c->beta1, b2 = c->beta2;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    float update = m[i] / (sqrtf(v[i]) + c->eps);
    if (wd > 0.0f) update += wd * (p[i] - (p0 ? p0[i] : 0.0f));
    p[i] -= lr * update;
  }
}

void optim_step(Optim *o, Bert *m, float lr) {
  const OptConfig *c = &o->cfg;
  o->t++;
  for (int i = 0; i < m->ntensors; i++) {
    const ParamInfo *pi = &m->info[i];
    const size_t off = pi->offset;
    const float plr = lr * optim_lr_scale(c, pi, m->cfg.layers);
    const float wd = param_decays(pi) ? c->weight_decay : 0.0f;
    const float *p0 = c->prior_decay && o->prior ? o->prior + off : NULL;
    float *p = m->params + off, *g = m->grads + off, *mm = o->m + off, *vv = o->v + off;
    switch (c->kind) {
    case OPT_HF_ADAMW: hf_adamw(c, p, g, mm, vv, p0, pi->numel, plr, wd, o->t); break;
    case OPT_TORCH_ADAMW: torch_adamw(c, p, g, mm, vv, p0, pi->numel, plr, wd, o->t); break;
    case OPT_BERT_ADAM: bert_adam(c, p, g, mm, vv, p0, pi->numel, plr, wd); break;
    }
  }
}

float clip_grad_norm(float *g, size_t n, float max_norm) {
  double ss = 0.0;
  for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
  float norm = (float)sqrt(ss);
  if (max_norm > 0.0f) {
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f) {
#pragma omp parallel for schedule(static)
      for (size_t i = 0; i < n; i++) g[i] *= coef;
    }
  }
  return norm;
}

float lr_schedule(float base, long k, long warmup, long total) {
  if (k < warmup) return base * (float)k / (float)(warmup > 1 ? warmup : 1);
  long rest = total - warmup;
  double f = (double)(total - k) / (double)(rest > 1 ? rest : 1);
  return base * (float)(f > 0.0 ? f : 0.0);
}
