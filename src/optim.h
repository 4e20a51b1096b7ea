/* Optimizers, gradient clipping and the learning-rate schedule: each variant matches its
   PyTorch/transformers counterpart (transformers' AdamW with and without bias correction,
   torch.optim.AdamW, Google's BERTAdam), checked by tests/test_parity.c. */
#ifndef BS_OPTIM_H
#define BS_OPTIM_H
#include "src/bert.h"

typedef enum {
  OPT_HF_ADAMW = 0,    /* transformers.AdamW: decay after the Adam step, optional bias correction */
  OPT_TORCH_ADAMW = 1, /* torch.optim.AdamW: decay first, eps added after bias correction */
  OPT_BERT_ADAM = 2,   /* Google's AdamWeightDecayOptimizer: no bias correction, decay in the update */
  NOPT_KINDS
} OptKind;
/* The config's names ("optimizer.name"), indexed by OptKind; NULL-terminated. */
extern const char *const OPT_KIND_NAMES[NOPT_KINDS + 1];

typedef struct {
  OptKind kind;
  int correct_bias;
  float beta1, beta2, eps, weight_decay;
  float llrd;         /* layer-wise lr decay factor (1 = off) */
  int prior_decay;    /* decay towards the pre-trained weights instead of towards 0 */
} OptConfig;
/* transformers' AdamW defaults (the config's defaults too): fill a config from these and set
   what differs by name, e.g. `OptConfig c = OPT_CONFIG_DEFAULTS; c.eps = 1e-6f;`. */
#define OPT_CONFIG_DEFAULTS \
  ((OptConfig){.kind = OPT_HF_ADAMW, .correct_bias = 1, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f, \
               .llrd = 1.0f, .prior_decay = 0})

typedef struct {
  OptConfig cfg;
  long t; /* updates done */
  float *m, *v;       /* [nparams] */
  const float *prior; /* [nparams] pre-trained weights, for prior_decay */
} Optim;

int optim_init(Optim *o, const OptConfig *cfg, size_t nparams, Err *e);
void optim_free(Optim *o);
/* Per-tensor lr multiplier for LLRD: classifier/pooler 1, layer l: d^(L-l), embeddings d^(L+1). */
float optim_lr_scale(const OptConfig *cfg, const ParamInfo *pi, int layers);
/* One update with learning rate lr of every parameter from m->grads scaled by gscale (the
   clipping coefficient; 1: as they are). The gradients themselves are left unchanged. */
void optim_step(Optim *o, Bert *m, float lr, float gscale);
/* The same over any tensor table (the MLM head's). */
void optim_step_tensors(Optim *o, const ParamInfo *info, int n, float *params, const float *grads, int layers,
                        float lr, float gscale);

/* The total L2 norm of the gradients (of two buffers as one parameter set: encoder + MLM head). */
float optim_grad_norm(const float *g, size_t n);
float optim_grad_norm2(const float *g1, size_t n1, const float *g2, size_t n2);
/* torch.nn.utils.clip_grad_norm_'s factor: max/(norm+1e-6) when that is < 1, else 1. */
float optim_clip_coef(float norm, float max_norm);

/* HF get_linear_schedule_with_warmup: factor for update k (0-based) of total. */
float optim_lr_schedule(float base, long k, long warmup, long total);

#endif
