#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "src/optim.h"
#include "src/simd.h"

const char *const OPT_KIND_NAMES[NOPT_KINDS + 1] = {[OPT_HF_ADAMW] = "hf_adamw", [OPT_TORCH_ADAMW] = "torch_adamw",
                                                   [OPT_BERT_ADAM] = "bert_adam", [NOPT_KINDS] = NULL};
static_assert(NOPT_KINDS == 3, "OPT_KIND_NAMES names every OptKind");

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

/* Each update reads the gradient as g * gs: gs is the clipping coefficient (1 when the norm is
   within bounds, which leaves g exactly as it is). */

VECTOR_CLONES static void hf_adamw_span(float *p, const float *g, float *m, float *v, long n, float b1, float b2,
                                        float eps, float step, float lr, float wd, float gs) {
  for (long i = 0; i < n; i++) {
    const float gi = g[i] * gs;
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    p[i] -= step * (m[i] / (sqrtf(v[i]) + eps));
    if (wd > 0.0f) p[i] -= lr * wd * p[i];
  }
}

static void hf_adamw(const OptConfig *c, float *p, const float *g, float *m, float *v, long n, float lr, float wd,
                     long t, float gs) {
  float step = lr;
  if (c->correct_bias) step = (float)(lr * sqrt(1.0 - pow(c->beta2, (double)t)) / (1.0 - pow(c->beta1, (double)t)));
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += SIMD_SPAN)
    hf_adamw_span(p + i, g + i, m + i, v + i, SPAN_LEN(n, i), c->beta1, c->beta2, c->eps, step, lr, wd, gs);
}

VECTOR_CLONES static void torch_adamw_span(float *p, const float *g, float *m, float *v, long n, float b1, float b2,
                                           float eps, float step, double bc2s, float lr, float wd, float gs) {
  for (long i = 0; i < n; i++) {
    const float gi = g[i] * gs;
    if (wd > 0.0f) p[i] -= lr * wd * p[i];
    m[i] += (1.0f - b1) * (gi - m[i]);
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    float denom = (float)(sqrtf(v[i]) / bc2s) + eps;
    p[i] -= step * (m[i] / denom);
  }
}

static void torch_adamw(const OptConfig *c, float *p, const float *g, float *m, float *v, long n, float lr,
                        float wd, long t, float gs) {
  const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2s = sqrt(1.0 - pow(c->beta2, (double)t));
  const float step = (float)(lr / bc1);
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += SIMD_SPAN)
    torch_adamw_span(p + i, g + i, m + i, v + i, SPAN_LEN(n, i), c->beta1, c->beta2, c->eps, step, bc2s, lr, wd, gs);
}

VECTOR_CLONES static void bert_adam_span(float *p, const float *g, float *m, float *v, long n, float b1, float b2,
                                         float eps, float lr, float wd, float gs) {
  for (long i = 0; i < n; i++) {
    const float gi = g[i] * gs;
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    float update = m[i] / (sqrtf(v[i]) + eps);
    if (wd > 0.0f) update += wd * p[i];
    p[i] -= lr * update;
  }
}

static void bert_adam(const OptConfig *c, float *p, const float *g, float *m, float *v, long n, float lr, float wd,
                      float gs) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += SIMD_SPAN)
    bert_adam_span(p + i, g + i, m + i, v + i, SPAN_LEN(n, i), c->beta1, c->beta2, c->eps, lr, wd, gs);
}

void optim_step(Optim *o, Bert *m, float lr, float gscale) {
  optim_step_tensors(o, m->info, m->ntensors, m->params, m->grads, m->cfg.layers, lr, gscale);
}

void optim_step_tensors(Optim *o, const ParamInfo *info, int n, float *params, const float *grads, int layers,
                        float lr, float gscale) {
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
    case OPT_HF_ADAMW: hf_adamw(c, p, g, mm, vv, (long)pi->numel, plr, wd_own, o->t, gscale); break;
    case OPT_TORCH_ADAMW: torch_adamw(c, p, g, mm, vv, (long)pi->numel, plr, wd_own, o->t, gscale); break;
    case OPT_BERT_ADAM: bert_adam(c, p, g, mm, vv, (long)pi->numel, plr, wd_own, gscale); break;
    case NOPT_KINDS: BS_ASSERT(!"an optimizer kind");
    }
  }
}

/* Sum of squares of g[0, n) in double, in SUMSQ_LANES lanes (lane k takes the elements
   i = k mod SUMSQ_LANES) added in order at the end: vector code at every width with the same
   bits, since the product of two floats is exact in double. */
enum { SUMSQ_LANES = 16 };
VECTOR_CLONES static double sumsq_span(const float *g, size_t n) {
  double acc[SUMSQ_LANES] = {0.0}, s = 0.0;
  size_t i = 0;
  for (; i + SUMSQ_LANES <= n; i += SUMSQ_LANES)
    for (int k = 0; k < SUMSQ_LANES; k++) acc[k] += (double)g[i + k] * g[i + k];
  for (int k = 0; k < SUMSQ_LANES; k++) s += acc[k];
  for (; i < n; i++) s += (double)g[i] * g[i];
  return s;
}

/* Sum of squares over NCHUNK fixed chunks (their bounds depend on n alone), the chunks' sums
   added in order: the same number at any thread count. */
static double sumsq(const float *g, size_t n) {
  enum { NCHUNK = 256 };
  const size_t per = (n + NCHUNK - 1) / NCHUNK;
  double part[NCHUNK], ss = 0.0;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < NCHUNK; c++) {
    size_t lo = (size_t)c * per < n ? (size_t)c * per : n, hi = lo + per < n ? lo + per : n;
    part[c] = sumsq_span(g + lo, hi - lo);
  }
  for (int c = 0; c < NCHUNK; c++) ss += part[c];
  return ss;
}

float optim_grad_norm2(const float *g1, size_t n1, const float *g2, size_t n2) {
  return (float)sqrt(sumsq(g1, n1) + (g2 ? sumsq(g2, n2) : 0.0));
}

float optim_grad_norm(const float *g, size_t n) { return optim_grad_norm2(g, n, NULL, 0); }

float optim_clip_coef(float norm, float max_norm) {
  float coef = max_norm / (norm + 1e-6f);
  return max_norm > 0.0f && coef < 1.0f ? coef : 1.0f;
}

float optim_lr_schedule(float base, long k, long warmup, long total) {
  if (k < warmup) return base * (float)k / (float)(warmup > 1 ? warmup : 1);
  long rest = total - warmup;
  double f = (double)(total - k) / (double)(rest > 1 ? rest : 1);
  return base * (float)(f > 0.0 ? f : 0.0);
}
