/* Mixout(p) (Lee et al., ICLR 2020) on every dense weight: during training the forward and
   backward use W' = ((1-M)*W_target + M*W - p*W_target)/(1-p) with an elementwise Bernoulli
   mask M of keep probability 1-p, where W_target is the weight when fine-tuning starts.
   dL/dW = M/(1-p) * dL/dW'. Implemented by swapping W' into the parameter buffer around
   forward/backward, so the layer kernels stay as they are. */
#ifndef BS_MIXOUT_H
#define BS_MIXOUT_H
#include "src/bert.h"

int mixout_applies(const ParamInfo *pi); /* dense weights: encoder, pooler, classifier */
/* scale[i] = M/(1-p) (0 or 1/(1-p)) for the dense weights, from (seed, step). */
void mixout_masks(const Bert *m, float *scale, float p, uint64_t seed, long step);
/* Saves W into saved and writes W' into the parameters. */
void mixout_apply(Bert *m, const float *target, const float *scale, float p, float *saved);
/* Restores W and turns the gradients of W' into gradients of W. */
void mixout_restore(Bert *m, const float *saved, const float *scale);

#endif
