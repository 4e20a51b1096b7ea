#include <string.h>
#include "src/mixout.h"
#include "src/rng.h"

int mixout_applies(const ParamInfo *pi) { return pi->kind == KIND_WEIGHT && pi->cols > 1; }

void mixout_masks(const Bert *m, float *scale, float p, uint64_t seed, long step) {
  for (int i = 0; i < m->ntensors; i++) {
    const ParamInfo *pi = &m->info[i];
    if (mixout_applies(pi)) rng_dropout_mask(scale + pi->offset, (long)pi->numel, p, seed, STREAM_MIXOUT(step, i));
  }
}

void mixout_apply(Bert *m, const float *target, const float *scale, float p, float *saved) {
  for (int i = 0; i < m->ntensors; i++) {
    const ParamInfo *pi = &m->info[i];
    if (!mixout_applies(pi)) continue;
    float *w = m->params + pi->offset;
    const float *t = target + pi->offset, *s = scale + pi->offset;
    memcpy(saved + pi->offset, w, sizeof(float) * pi->numel);
    /* M = 1: (W - p*Wt)/(1-p) = s*W - p*s*Wt;  M = 0: Wt */
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < pi->numel; j++) w[j] = s[j] != 0.0f ? s[j] * (w[j] - p * t[j]) : t[j];
  }
}

void mixout_restore(Bert *m, const float *saved, const float *scale) {
  for (int i = 0; i < m->ntensors; i++) {
    const ParamInfo *pi = &m->info[i];
    if (!mixout_applies(pi)) continue;
    memcpy(m->params + pi->offset, saved + pi->offset, sizeof(float) * pi->numel);
    float *g = m->grads + pi->offset;
    const float *s = scale + pi->offset;
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < pi->numel; j++) g[j] *= s[j];
  }
}
