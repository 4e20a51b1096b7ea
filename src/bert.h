/* BERT for sequence classification (post-LN, HF BertForSequenceClassification).
   All parameters live in one contiguous buffer; gradients in a second buffer of the
   same layout. BertView gives named pointers into either. */
#ifndef BS_BERT_H
#define BS_BERT_H
#include <stddef.h>
#include <stdint.h>
#include "src/err.h"

typedef struct {
  int vocab_size, hidden, layers, heads, intermediate, max_position, type_vocab, num_labels;
  float ln_eps, init_range;
  float hidden_dropout, attn_dropout, classifier_dropout;
  int act; /* ACT_GELU or ACT_GELU_TANH */
} BertConfig;

typedef struct { float *w, *b; } LinearView;
typedef struct { float *g, *b; } NormView;
typedef struct {
  LinearView q, k, v, attn_out;
  NormView ln1;
  LinearView ffn_in, ffn_out;
  NormView ln2;
} LayerView;
typedef struct {
  float *word, *pos, *type;
  NormView emb_ln;
  LayerView *layer; /* [layers] */
  LinearView pooler, classifier;
} BertView;

/* Where each tensor sits. group: -1 embeddings, 0..L-1 encoder layer, L pooler, L+1 classifier. */
enum { KIND_WEIGHT = 0, KIND_BIAS = 1, KIND_NORM_W = 2, KIND_EMBED = 3 };
typedef struct {
  char name[80]; /* HF name without the "bert." prefix, LayerNorm as weight/bias */
  int rows, cols; /* cols = 1 for vectors */
  size_t offset, numel;
  int group, kind;
} ParamInfo;

typedef struct {
  BertConfig cfg;
  int ntensors;
  ParamInfo *info;
  size_t nparams;
  float *params, *grads;
  BertView p, g;
} Bert;

int bert_validate_config(const BertConfig *c, Err *e);
int bert_alloc(Bert *m, const BertConfig *c, Err *e);
/* Names, shapes and offsets only (info, ntensors, nparams); no parameter buffers. */
int bert_layout(Bert *m, const BertConfig *c, Err *e);
void bert_free(Bert *m);
const ParamInfo *bert_find(const Bert *m, const char *name);
/* Weight decay applies to Linear/embedding weights, not to biases and LayerNorm weights. */
int bert_param_decays(const ParamInfo *pi);

/* Initialisation as HF _init_weights: Linear/embedding ~ N(0, init_range), bias 0, LN 1/0. */
void bert_init_group(Bert *m, int group, uint64_t seed, uint64_t stream);
/* Every tensor from scratch (token id 0, [PAD], gets a zero embedding). */
void bert_init_all(Bert *m, uint64_t seed);
/* Re-init of the paper's code: classifier head, pooler, top k encoder layers. */
void bert_reinit(Bert *m, int head, int pooler, int top_layers, uint64_t seed);

/* Activations for up to Bmax x Tmax tokens, one buffer with named views (B = batch,
   T = padded length, H = hidden, I = intermediate, NH = heads, C = labels; row-major, token
   index b*T + t). Kept for backward: what it reads, nothing it can cheaply recompute. Dropout
   masks are one byte per element (1 = kept, scaled by 1/(1-p)), in a second buffer. */
typedef struct {
  float *q, *k, *v;            /* (B, T, H) projections; head h is columns [h*H/NH, (h+1)*H/NH) */
  float *probs;                /* (B, NH, T, T) softmax (before dropout) */
  uint8_t *pkeep;              /* (B, NH, T, T) attention-dropout mask */
  float *ctx;                  /* (B, T, H) attention output per head, concatenated */
  uint8_t *ao_keep;            /* (B, T, H) mask of the output projection's dropout */
  float *res1;                 /* (B, T, H) dropout(output projection) + layer input */
  float *ln1, *ln1_mean, *ln1_rstd; /* (B, T, H), (B, T), (B, T) */
  float *ff1;                  /* (B, T, I) FFN input projection, before GELU (GELU recomputed);
                                  backward overwrites it with GELU's slope */
  uint8_t *ff2_keep;           /* (B, T, H) mask of the FFN output's dropout */
  float *res2;                 /* (B, T, H) dropout(FFN output) + ln1 */
  float *ln2, *ln2_mean, *ln2_rstd; /* (B, T, H), (B, T), (B, T): the layer's output */
} LayerActs;
typedef struct {
  int Bmax, Tmax;
  float *buf;   /* the float views below, contiguous */
  size_t size;  /* floats in buf */
  uint8_t *bytes; /* the masks, contiguous */
  size_t nbytes;
  float *mask_add;             /* (B, T) 0 for tokens, -10000 for padding, added to scores */
  float *emb_sum, *emb_mean, *emb_rstd, *emb_out; /* (B,T,H), (B,T), (B,T), (B,T,H) */
  uint8_t *emb_keep;           /* (B, T, H) */
  LayerActs *layer;            /* [layers] */
  float *cls_in, *pool_pre, *pooled, *pooled_drop; /* (B, H) each */
  /* the classifier's forward computes its last layer for the [CLS] rows only (the pooler reads
     nothing else): that layer's LayerActs then hold q, ctx, res1, ln1, ff1, res2, ln2 for B rows,
     probs as (B, NH, T), k and v for every row; its masks are the cls_* rows below (the rest
     of those masks is never drawn) */
  float *cls_x, *dcls_x, *dcls_out; /* (B, H) the last layer's input rows, and gradients */
  uint8_t *cls_pkeep;          /* (B, NH, T) the [CLS] query's attention-dropout mask */
  uint8_t *cls_ao_keep, *cls_ff2_keep; /* (B, H) the [CLS] rows of the hidden-dropout masks */
  uint8_t *pool_keep;          /* (B, H) */
  float *logits, *probs, *dlogits; /* (B, C) each */
  /* scratch shared by all layers: forward temporaries, backward gradients */
  float *ff_act;               /* (B, T, I) GELU output (forward, and recomputed in backward) */
  float *dx, *dln1, *dtmp, *dctx, *dq, *dk, *dv; /* (B, T, H) each */
  float *dff;                  /* (B, T, I) */
  float *dS;                   /* (B, NH, T, T) also the dropped-out probabilities in forward */
  float *dcls;                 /* (B, H) */
  int train; /* whether the last forward used dropout */
} Acts;

int acts_alloc(Acts *a, const BertConfig *c, int Bmax, int Tmax, Err *e);
void acts_free(Acts *a);
typedef struct {
  int B, T;
  const int *ids, *types, *mask, *labels; /* [B*T], [B*T], [B*T] (1 token, 0 pad), [B] */
} Batch;

/* Dropout is on when train is non-zero; masks come from (seed, STREAM_DROPOUT(step, site)). */
typedef struct {
  int train;
  uint64_t seed;
  long step;
} Mode;

/* Copies n of a layer's query, key and value projections, starting at first (0 q, 1 k, 2 v),
   side by side: weights into w [n*H, H], then biases into w + n*H*H [n*H]. One GEMM then
   computes all n: the same dot products as n GEMMs, in one pass over the input (the
   evaluation forward does this; in training it measured no faster, see docs/decisions.md). */
void bert_stack_qkv(const LayerView *P, int first, int n, int H, float *w);

/* out[0..H) = word + position + token-type embedding of one token. */
void bert_embed_token(const Bert *m, float *out, int id, int pos, int type);

/* Embeddings and encoder layers; returns the last hidden states [B*T, H] (inside a). For
   masked LM, which reads every row; bert_forward computes the last layer for [CLS] only. */
const float *bert_encode(Bert *m, Acts *a, const Batch *b, const Mode *mode);
/* With a->dx = d(last hidden states): gradients of the encoder and embeddings. */
void bert_encode_backward(Bert *m, Acts *a, const Batch *b);

/* Forward to logits; returns mean cross-entropy (0 when b->labels is NULL). */
float bert_forward(Bert *m, Acts *a, const Batch *b, const Mode *mode);
/* Gradients of the loss of the last forward, accumulated into m->grads. It consumes the
   forward's activations: a second backward needs a forward first. */
void bert_backward(Bert *m, Acts *a, const Batch *b);
void bert_zero_grad(Bert *m);

#endif
