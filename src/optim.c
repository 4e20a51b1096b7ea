#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "src/optim.h"

const char *const OPT_KIND_NAMES[NOPT_KINDS + 1] = {[OPT_HF_ADAMW] = "hf_adamw", [OPT_TORCH_ADAMW] = "torch_adamw",
                                                   [OPT_BERT_ADAM] = "bert_adam", [NOPT_KINDS] = NULL};

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

static void hf_adamw(const OptConfig *c, float *p, const float *g, float *m, float *v, size_t n, float lr, float wd,
                     long t) {
  float step = lr;
  if (c->correct_bias) step = (float)(lr * sqrt(1.0 - pow(c->beta2, (double)t)) / (1.0 - pow(c->beta1, (double)t)));
  const float b1 = c->beta1, b2 = c->beta2;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    p[i] -= step * (m[i] / (sqrtf(v[i]) + c->eps));
    if (wd > 0.0f) p[i] -= lr * wd * p[i];
  }
}

static void torch_adamw(const OptConfig *c, float *p, const float *g, float *m, float *v, size_t n, float lr,
                        float wd, long t) {
  const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2s = sqrt(1.0 - pow(c->beta2, (double)t));
  const float step = (float)(lr / bc1), b1 = c->beta1, b2 = c->beta2;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    if (wd > 0.0f) p[i] -= lr * wd * p[i];
    m[i] += (1.0f - b1) * (g[i] - m[i]);
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    float denom = (float)(sqrtf(v[i]) / bc2s) + c->eps;
    p[i] -= step * (m[i] / denom);
  }
}

static void bert_adam(const OptConfig *c, float *p, const float *g, float *m, float *v, size_t n, float lr,
                      float wd) {
  const float b1 = c->beta1, b2 = c->beta2;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    float update = m[i] / (sqrtf(v[i]) + c->eps);
    if (wd > 0.0f) update += wd * p[i];
    p[i] -= lr * update;
  }
}

void optim_step(Optim *o, Bert *m, float lr) {
  optim_step_tensors(o, m->info, m->ntensors, m->params, m->grads, m->cfg.layers, lr);
}

void optim_step_tensors(Optim *o, const ParamInfo *info, int n, float *params, const float *grads, int layers,
                        float lr) {
  const OptConfig *c = &o->cfg;
  o->t++;
  for (int i = 0; i < n; i++) {
    const ParamInfo *pi = &info[i];
    const size_t off = pi->offset;
    const float plr = lr * optim_lr_scale(c, pi, layers);
    const float wd = bert_param_decays(pi) ? c->weight_decay : 0.0f;
    float *p = params + off, *mm = o->m + off, *vv = o->v + off;
    const float *g = grads + off;
    const float *p0 = NULL;
    if (c->prior_decay && o->prior && wd > 0.0f) {
      /* decay towards the pre-trained weights, before the Adam step (Zhang et al.'s PriorWD),
         in place of the optimizer's own decay */
      p0 = o->prior + off;
#pragma omp parallel for schedule(static)
      for (size_t j = 0; j < pi->numel; j++) p[j] -= plr * wd * (p[j] - p0[j]);
    }
    const float wd_own = p0 ? 0.0f : wd;
    switch (c->kind) {
    case OPT_HF_ADAMW: hf_adamw(c, p, g, mm, vv, pi->numel, plr, wd_own, o->t); break;
    case OPT_TORCH_ADAMW: torch_adamw(c, p, g, mm, vv, pi->numel, plr, wd_own, o->t); break;
    case OPT_BERT_ADAM: bert_adam(c, p, g, mm, vv, pi->numel, plr, wd_own); break;
    case NOPT_KINDS: BS_ASSERT(!"an optimizer kind");
    }
  }
}

static double sumsq(const float *g, size_t n) {
  double ss = 0.0;
  for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
  return ss;
}

static void scale(float *g, size_t n, float coef) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) g[i] *= coef;
}

float optim_clip_grad_norm2(float *g1, size_t n1, float *g2, size_t n2, float max_norm) {
  float norm = (float)sqrt(sumsq(g1, n1) + (g2 ? sumsq(g2, n2) : 0.0));
  float coef = max_norm / (norm + 1e-6f);
  if (max_norm > 0.0f && coef < 1.0f) {
    scale(g1, n1, coef);
    if (g2) scale(g2, n2, coef);
  }
  return norm;
}

float optim_clip_grad_norm(float *g, size_t n, float max_norm) { return optim_clip_grad_norm2(g, n, NULL, 0, max_norm); }

float optim_lr_schedule(float base, long k, long warmup, long total) {
  if (k < warmup) return base * (float)k / (float)(warmup > 1 ? warmup : 1);
  long rest = total - warmup;
  double f = (double)(total - k) / (double)(rest > 1 ? rest : 1);
  return base * (float)(f > 0.0 ? f : 0.0);
}
