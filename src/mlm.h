/* BERT's masked-LM head (HF BertLMPredictionHead): transform = dense, GELU, LayerNorm; decoder
   tied to the word embeddings plus its own bias. Runs on the masked positions only. */
#ifndef BS_MLM_H
#define BS_MLM_H
#include "src/bert.h"

typedef struct {
  int H, V, Mmax;
  ParamInfo info[5];  /* dense.weight, dense.bias, LayerNorm.weight, LayerNorm.bias, bias */
  size_t n;
  float *params, *grads;
  float *dense_w, *dense_b, *ln_g, *ln_b, *bias;
  float *g_dense_w, *g_dense_b, *g_ln_g, *g_ln_b, *g_bias;
  float *x, *h1, *h1a, *h2, *mean, *rstd, *logits, *dlogits, *dh2, *dh1; /* activations for Mmax rows */
} MlmHead;

int mlm_alloc(MlmHead *h, const BertConfig *c, int Mmax, Err *e);
void mlm_free(MlmHead *h);
void mlm_init(MlmHead *h, float init_range, uint64_t seed);
/* Loss over M masked rows: pos[i] indexes rows of hidden [*, H]; target[i] the original token.
   correct (may be NULL) receives how many were predicted right. */
float mlm_forward(MlmHead *h, const Bert *m, const float *hidden, const int *pos, const int *target, int M,
                  int *correct);
/* Accumulates head gradients and the tied word-embedding gradient into m->grads, and writes
   d(hidden) for the masked rows into dhidden (which the caller zeroed). */
void mlm_backward(MlmHead *h, Bert *m, float *dhidden, const int *pos, int M);

#endif
