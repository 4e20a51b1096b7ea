/* Layer kernels, forward and backward side by side. Row-major; N = rows (batch*seq).
   Linear layers follow PyTorch: W is [out, in], y = x W^T + b. Backward functions
   accumulate into weight/bias gradients (+=); reductions over rows run in row order
   per column so results do not depend on the thread count. */
#ifndef BS_OPS_H
#define BS_OPS_H
#include <stdint.h>

/* b NULL: no bias (add_layernorm_fwd and bias_gelu_fwd add it in their pass) */
void linear_fwd(float *y, const float *x, const float *w, const float *b, int n, int in, int out);
/* count (at most 3) layers on the same input, y[i] = x w[i]^T + b[i], their GEMMs run side
   by side (src/gemm.h) */
void linears_fwd(int count, float *const *y, const float *x, const float *const *w, const float *const *b, int n,
                 int in, int out);
/* dx = beta*dx + dy W (skipped when dx is NULL); dw += dy^T x; db += sum_rows dy. */
void linear_bwd(float *dx, float beta, float *dw, float *db, const float *dy, const float *x,
                const float *w, int n, int in, int out);

/* y = (x - mean)/sqrt(var + eps) * g + b; saves mean and rstd per row. */
void layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *g,
                   const float *b, int n, int c, float eps);
/* dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * g. */
void layernorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x,
                   const float *mean, const float *rstd, const float *g, int n, int c);

/* out = LayerNorm(res) with res = dropout(y + bias) + r, row by row (keep NULL: no dropout):
   a sublayer's bias, dropout, residual and LayerNorm in one pass; res is kept for backward. */
void add_layernorm_fwd(float *out, float *res, float *mean, float *rstd, const float *y, const float *bias,
                       const uint8_t *keep, float scale, const float *r, const float *g, const float *b, int n,
                       int c, float eps);

enum { ACT_GELU = 0, ACT_GELU_TANH = 1 };
void gelu_fwd(float *y, const float *x, long n, int kind);
/* x += bias on each of n rows of c, then y = gelu(x) (y may alias x) */
void bias_gelu_fwd(float *y, float *x, const float *bias, int n, int c, int kind);
void gelu_bwd(float *dx, const float *dy, const float *x, long n, int kind); /* dx may alias dy */
/* y = gelu(x), and x replaced by gelu'(x): a backward's recomputed activation and its slope
   from one pass (the same bits as gelu_fwd and gelu_bwd's factor); then mul_inplace(dy, x)
   is gelu_bwd. */
void gelu_value_and_slope(float *y, float *x, long n, int kind);
void mul_inplace(float *y, const float *a, long n); /* y *= a */

void tanh_fwd(float *y, const float *x, long n);
void tanh_bwd(float *dx, const float *dy, const float *y, long n);

/* Softmax of each row of S (rows x T, in place) after adding mask_add (NULL: none), and its
   backward D = P * (D - sum_j D_j P_j) on rows of D and P: every row's sum and dot product
   added in order of j, so the bits are those of plain loops. */
void softmax_rows(float *S, const float *mask_add, int T, int rows);
void softmax_bwd_rows(float *D, const float *P, int T, int rows);
/* exp(x) for x <= 0 as the softmax and GELU compute it (0 below -87, NaN stays NaN) */
float exp_nonpositive(float x);

/* Multi-head self-attention core on q,k,v [B*T, H]: probs = softmax(q k^T / sqrt(d) + mask),
   ctx = dropout(probs) v, where dropout keeps element i when keep[i] and scales it by
   scale_drop (keep NULL: no dropout). mask_add is [B, T]: 0 for tokens, -10000 for padding
   (HF v4 classic). scratch is [B, NH, T, T] (it holds the dropped-out probabilities). */
void attention_fwd(float *ctx, float *probs, float *scratch, const uint8_t *keep, float scale_drop,
                   const float *q, const float *k, const float *v, const float *mask_add, int B, int T, int NH,
                   int H);
/* dS is scratch [B, NH, T, T]; the dropped-out probabilities are recomputed from keep. */
void attention_bwd(float *dq, float *dk, float *dv, float *dS, const float *dctx, const float *probs,
                   const uint8_t *keep, float scale_drop, const float *q, const float *k, const float *v, int B,
                   int T, int NH, int H);

/* Row 0 of the above alone, the [CLS] query of each sequence: q, ctx and dq are [B, H], k, v,
   dk and dv [B*T, H]; probs, keep, scratch and dS are [B, NH, T] (keep: the masks' query-0
   rows). Backward writes dq, dk and dv (the keys' and values' gradients from this query). */
void attention_cls_fwd(float *ctx, float *probs, float *scratch, const uint8_t *keep, float scale_drop,
                       const float *q, const float *k, const float *v, const float *mask_add, int B, int T, int NH,
                       int H);
void attention_cls_bwd(float *dq, float *dk, float *dv, float *dS, const float *dctx, const float *probs,
                       const uint8_t *keep, float scale_drop, const float *q, const float *k, const float *v, int B,
                       int T, int NH, int H);

/* The same without dropout on tokens packed without padding: sequence b is rows
   [off[b], off[b] + len[b]) of q, k, v (row stride ld, so they may be column blocks of one
   matrix) and of ctx (stride H). scratch holds B*NH*T*T floats, T = max len. */
void attention_packed_fwd(float *ctx, float *scratch, const float *q, const float *k, const float *v, int ld,
                          const long *off, const int *len, int B, int NH, int H);
/* One query per sequence (q and ctx are [B, H]) against its packed keys and values (row
   stride ld); scores is scratch [B, NH, T]. */
void attention_packed_one_query_fwd(float *ctx, float *scores, const float *q, const float *k, const float *v,
                                    int ld, const long *off, const int *len, int B, int NH, int H);

/* y = x * (keep ? scale : 0) per element (keep NULL: copy); y may alias x. */
void dropout_apply(float *y, const float *x, const uint8_t *keep, float scale, long n);

/* Mean cross-entropy over rows; dlogits = (softmax - onehot) / n (skipped when NULL).
   Writes softmax probabilities into probs when not NULL. */
float cross_entropy(float *dlogits, float *probs, const float *logits, const int *labels, int n, int c);


#endif
