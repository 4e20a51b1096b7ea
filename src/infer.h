/* Inference for evaluation: bert_forward's numbers without dropout, computed without keeping
   activations (one set of buffers serves every layer) and with the last layer worked out for
   the [CLS] token only, the one row the pooler reads (its keys and values still come from
   every token). Padding is never computed: the tokens are packed. */
#ifndef BS_INFER_H
#define BS_INFER_H
#include "src/bert.h"

typedef struct {
  int Bmax, Tmax;
  float *buf;                 /* everything below, contiguous */
  size_t size;                /* floats in buf */
  long *off;                  /* [B] first row of each sequence among the packed tokens */
  int *len;                   /* [B] its tokens (padding left out) */
  /* rows below are the batch's tokens packed without padding: at most B*T of them */
  float *x, *y, *z;           /* (B, T, H) layer input and output, residual sums, first LayerNorm */
  float *qkv;                 /* (B, T, 3H) queries, keys and values side by side */
  float *ctx;                 /* (B, T, H) */
  float *w_in;                /* (3H, H) + (3H): a layer's Q, K, V weights and biases stacked (bert_stack_qkv) */
  float *ff;                  /* (B, T, I) */
  float *probs;               /* (B, NH, T, T) */
  float *mean, *rstd;         /* (B, T) LayerNorm statistics (not needed, written) */
  float *cx, *cq, *cctx, *cy, *cz; /* (B, H) the [CLS] rows of the last layer */
  float *cff;                 /* (B, I) */
  float *pooled, *logits;     /* (B, H), (B, C) */
} Infer;

int infer_alloc(Infer *w, const BertConfig *c, int Bmax, int Tmax, Err *e);
void infer_free(Infer *w);
/* Logits [B, C] of the batch; they live in w until the next call. */
const float *bert_infer(const Bert *m, Infer *w, const Batch *b);

#endif
