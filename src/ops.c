#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include "src/err.h"
#include "src/gemm.h"
#include "src/ops.h"
#include "src/simd.h"

/* acc[j] += sum_i x[i][j], each column summed in row order whatever the thread count;
   threads take blocks of columns and walk rows contiguously. */
static void col_sums_add(float *acc, const float *x, int n, int c) {
  enum { CB = 64 };
  const int nb = (c + CB - 1) / CB;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nb; blk++) {
    const int j0 = blk * CB, w = c - j0 < CB ? c - j0 : CB;
    float s[CB];
    for (int j = 0; j < w; j++) s[j] = 0.0f;
    for (int i = 0; i < n; i++) {
      const float *xi = x + (long)i * c + j0;
      for (int j = 0; j < w; j++) s[j] += xi[j];
    }
    for (int j = 0; j < w; j++) acc[j0 + j] += s[j];
  }
}

void linear_fwd(float *y, const float *x, const float *w, const float *b, int n, int in, int out) {
  linears_fwd(1, &y, x, &w, &b, n, in, out);
}

void linears_fwd(int count, float *const *y, const float *x, const float *const *w, const float *const *b, int n,
                 int in, int out) {
  enum { MAX_LINEARS = 3 };
  BS_ASSERT(count >= 1 && count <= MAX_LINEARS);
  Gemm g[MAX_LINEARS];
#pragma omp parallel for schedule(static)
  for (int r = 0; r < n; r++)
    for (int i = 0; i < count; i++)
      if (b[i]) memcpy(y[i] + (long)r * out, b[i], sizeof(float) * out);
  for (int i = 0; i < count; i++)
    g[i] = (Gemm){0, 1, n, out, in, 1.0f, x, in, w[i], in, b[i] ? 1.0f : 0.0f, y[i], out};
  gemm_run(g, count);
}

void linear_bwd(float *dx, float beta, float *dw, float *db, const float *dy, const float *x,
                const float *w, int n, int in, int out) {
  /* dw and dx are independent: with two threads each takes one */
  const Gemm g[2] = {{1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in},
                     {0, 0, n, in, out, 1.0f, dy, out, w, in, beta, dx, in}};
  gemm_run(g, dx ? 2 : 1);
  if (db) col_sums_add(db, dy, n, out);
}

/* Sum of x[0..c) in 16 lanes (lane l takes elements l, l+16, ...) folded in a fixed tree:
   the same additions in the same order whatever the vector width, so every CPU gives the
   same bits, and vectorised. */
enum { LANES = 16 };
static inline float lane_fold(float *s) {
  for (int w = LANES / 2; w > 0; w /= 2)
    for (int l = 0; l < w; l++) s[l] += s[l + w];
  return s[0];
}

static inline float lane_sum(const float *x, int c) {
  float s[LANES] = {0};
  int j = 0;
  for (; j + LANES <= c; j += LANES)
    for (int l = 0; l < LANES; l++) s[l] += x[j + l];
  for (int l = 0; j + l < c; l++) s[l] += x[j + l];
  return lane_fold(s);
}

/* sum (x - m)^2 */
static inline float lane_sum_sq_dev(const float *x, float m, int c) {
  float s[LANES] = {0};
  int j = 0;
  for (; j + LANES <= c; j += LANES)
    for (int l = 0; l < LANES; l++) s[l] += (x[j + l] - m) * (x[j + l] - m);
  for (int l = 0; j + l < c; l++) s[l] += (x[j + l] - m) * (x[j + l] - m);
  return lane_fold(s);
}

/* One row: mean, then the variance about it (two passes: no cancellation). */
VECTOR_CLONES static void layernorm_row(float *y, float *mean, float *rstd, const float *x, const float *g,
                                        const float *b, int c, float eps) {
  const float m = lane_sum(x, c) / (float)c;
  const float r = 1.0f / sqrtf(lane_sum_sq_dev(x, m, c) / (float)c + eps);
  for (int j = 0; j < c; j++) y[j] = (x[j] - m) * r * g[j] + b[j];
  *mean = m;
  *rstd = r;
}

void layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *g,
                   const float *b, int n, int c, float eps) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++)
    layernorm_row(y + (long)i * c, mean + i, rstd + i, x + (long)i * c, g, b, c, eps);
}

/* res = dropout(y + bias) + r on one row (keep NULL: no dropout) */
VECTOR_CLONES static void bias_dropout_residual_row(float *res, const float *y, const float *bias,
                                                    const uint8_t *keep, float scale, const float *r, int c) {
  if (keep)
    for (int j = 0; j < c; j++) res[j] = (y[j] + bias[j]) * (keep[j] ? scale : 0.0f) + r[j];
  else
    for (int j = 0; j < c; j++) res[j] = (y[j] + bias[j]) + r[j];
}

void add_layernorm_fwd(float *out, float *res, float *mean, float *rstd, const float *y, const float *bias,
                       const uint8_t *keep, float scale, const float *r, const float *g, const float *b, int n,
                       int c, float eps) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) {
    const long o = (long)i * c;
    bias_dropout_residual_row(res + o, y + o, bias, keep ? keep + o : NULL, scale, r + o, c);
    layernorm_row(out + o, mean + i, rstd + i, res + o, g, b, c, eps);
  }
}

/* dx for one row; dxhat = dy g, xhat = (x - m) r */
VECTOR_CLONES static void layernorm_bwd_row(float *dx, const float *dy, const float *x, float m, float r,
                                            const float *g, int c) {
  float sd[LANES] = {0}, sdx[LANES] = {0};
  int j = 0;
  for (; j + LANES <= c; j += LANES)
    for (int l = 0; l < LANES; l++) {
      const float dxh = dy[j + l] * g[j + l];
      sd[l] += dxh;
      sdx[l] += dxh * ((x[j + l] - m) * r);
    }
  for (int l = 0; j + l < c; l++) {
    const float dxh = dy[j + l] * g[j + l];
    sd[l] += dxh;
    sdx[l] += dxh * ((x[j + l] - m) * r);
  }
  const float md = lane_fold(sd) / (float)c, mdx = lane_fold(sdx) / (float)c;
  for (int k = 0; k < c; k++) dx[k] = r * (dy[k] * g[k] - md - (x[k] - m) * r * mdx);
}

void layernorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x,
                   const float *mean, const float *rstd, const float *g, int n, int c) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++)
    layernorm_bwd_row(dx + (long)i * c, dy + (long)i * c, x + (long)i * c, mean[i], rstd[i], g, c);
  /* dg = sum_rows dy * xhat, db = sum_rows dy: column blocks, rows in order */
  enum { CB = 64 };
  const int nb = (c + CB - 1) / CB;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nb; blk++) {
    const int j0 = blk * CB, w = c - j0 < CB ? c - j0 : CB;
    float sg[CB], sb[CB];
    for (int j = 0; j < w; j++) sg[j] = sb[j] = 0.0f;
    for (int i = 0; i < n; i++) {
      const float *dyi = dy + (long)i * c + j0, *xi = x + (long)i * c + j0;
      const float m = mean[i], r = rstd[i];
      for (int j = 0; j < w; j++) {
        sg[j] += dyi[j] * (xi[j] - m) * r;
        sb[j] += dyi[j];
      }
    }
    for (int j = 0; j < w; j++) {
      dg[j0 + j] += sg[j];
      db[j0 + j] += sb[j];
    }
  }
}

#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

/* exp(x) for x <= 0 (0 below -87; NaN stays NaN, so a diverging run still shows) from
   arithmetic alone (no libm, no branches), so that the compiler vectorises the loops below and
   every CPU gives the same bits: x = k ln2 + r with ln2 split in two (Cody-Waite),
   |r| <= ln2/2, e^r by its Taylor series to r^7 (relative error < 2e-8 there), 2^k put into
   the exponent field. The argument is clamped to [-87, 0] first (NaN to -87), so the
   conversion to an integer and the shift are always defined. */
static inline float exp_neg(float x_in) {
  const int under = x_in < -87.0f, nan = x_in != x_in;
  const float x = x_in > -87.0f ? (x_in < 0.0f ? x_in : 0.0f) : -87.0f;
  const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float k = (x * 1.44269504f + shifter) - shifter;
  float r = (x - k * 0.693145752f) - k * 1.42860677e-6f;
  /* Estrin's scheme: the same polynomial in fewer dependent steps */
  const float r2 = r * r, r4 = r2 * r2;
  const float lo = (1.0f + r) + r2 * (0.5f + r * (1.0f / 6.0f));
  const float hi = (1.0f / 24.0f + r * (1.0f / 120.0f)) + r2 * (1.0f / 720.0f + r * (1.0f / 5040.0f));
  const float p = lo + r4 * hi;
  union { float f; int32_t i; } two_k = {.i = ((int32_t)k + 127) << 23};
  return nan ? x_in : under ? 0.0f : p * two_k.f;
}

/* Phi(x) = 0.5 erfc(-x / sqrt 2), the normal CDF. erfc(z), z >= 0, by the Chebyshev fit of
   Numerical Recipes (2nd ed., §6.2, "erfcc"): fractional error < 1.2e-7 everywhere, so the
   far tail of Phi keeps its relative accuracy. */
static inline float normal_cdf(float x) {
  float z = (x < 0.0f ? -x : x) * INV_SQRT2;
  float t = 1.0f / (1.0f + 0.5f * z);
  /* Estrin's scheme for the degree-9 polynomial in t (Horner's would chain 18 operations) */
  const float t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
  const float q01 = -1.26551223f + t * 1.00002368f, q23 = 0.37409196f + t * 0.09678418f;
  const float q45 = -0.18628806f + t * 0.27886807f, q67 = -1.13520398f + t * 1.48851587f;
  const float q89 = -0.82215223f + t * 0.17087277f;
  const float q = ((q01 + t2 * q23) + t4 * (q45 + t2 * q67)) + t8 * q89;
  float half_erfc = 0.5f * t * exp_neg(q - z * z);
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

static float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
}

VECTOR_CLONES static void gelu_erf_span(float *y, const float *x, long n) {
  for (long i = 0; i < n; i++) y[i] = x[i] * normal_cdf(x[i]);
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x) */
VECTOR_CLONES static void gelu_erf_bwd_span(float *dx, const float *dy, const float *x, long n) {
  for (long i = 0; i < n; i++) {
    float pdf = INV_SQRT_2PI * exp_neg(-0.5f * x[i] * x[i]);
    dx[i] = dy[i] * (normal_cdf(x[i]) + x[i] * pdf);
  }
}

void gelu_fwd(float *y, const float *x, long n, int kind) {
  if (kind == ACT_GELU) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i += SIMD_SPAN) gelu_erf_span(y + i, x + i, SPAN_LEN(n, i));
  } else {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) y[i] = gelu_tanh(x[i]);
  }
}

/* x += bias, y = gelu(x) on one row; y may alias x */
VECTOR_CLONES static void bias_gelu_erf_row(float *y, float *x, const float *bias, int c) {
  for (int j = 0; j < c; j++) {
    const float v = x[j] + bias[j];
    x[j] = v;
    y[j] = v * normal_cdf(v);
  }
}

void bias_gelu_fwd(float *y, float *x, const float *bias, int n, int c, int kind) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) {
    float *xi = x + (long)i * c, *yi = y + (long)i * c;
    if (kind == ACT_GELU) {
      bias_gelu_erf_row(yi, xi, bias, c);
    } else {
      for (int j = 0; j < c; j++) {
        xi[j] += bias[j];
        yi[j] = gelu_tanh(xi[j]);
      }
    }
  }
}

/* y = gelu(x) and x = gelu'(x) in one pass, for a backward that needs both */
VECTOR_CLONES static void gelu_erf_both_span(float *y, float *x, long n) {
  for (long i = 0; i < n; i++) {
    const float v = x[i], pdf = INV_SQRT_2PI * exp_neg(-0.5f * v * v), cdf = normal_cdf(v);
    y[i] = v * cdf;
    x[i] = cdf + v * pdf;
  }
}

VECTOR_CLONES static void mul_span(float *y, const float *a, long n) {
  for (long i = 0; i < n; i++) y[i] *= a[i];
}

void gelu_value_and_slope(float *y, float *x, long n, int kind) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += SIMD_SPAN) {
    const long len = SPAN_LEN(n, i);
    if (kind == ACT_GELU) {
      gelu_erf_both_span(y + i, x + i, len);
    } else {
      for (long k = i; k < i + len; k++) {
        const float v = x[k], x3 = v * v * v;
        const float t = tanhf(SQRT_2_OVER_PI * (v + 0.044715f * x3));
        const float du = SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * v * v);
        y[k] = gelu_tanh(v);
        x[k] = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
      }
    }
  }
}

void mul_inplace(float *y, const float *a, long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += SIMD_SPAN) mul_span(y + i, a + i, SPAN_LEN(n, i));
}

void gelu_bwd(float *dx, const float *dy, const float *x, long n, int kind) {
  if (kind == ACT_GELU) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i += SIMD_SPAN) gelu_erf_bwd_span(dx + i, dy + i, x + i, SPAN_LEN(n, i));
  } else {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
      float x3 = x[i] * x[i] * x[i];
      float t = tanhf(SQRT_2_OVER_PI * (x[i] + 0.044715f * x3));
      float du = SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x[i] * x[i]);
      dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * x[i] * (1.0f - t * t) * du);
    }
  }
}

void tanh_fwd(float *y, const float *x, long n) {
  for (long i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void tanh_bwd(float *dx, const float *dy, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* Row sums and dot products run in order (j = 0, 1, ...) so that their bits are those of a
   plain loop; a single such chain waits on each addition's latency, so ROW_GROUP rows are
   summed side by side, each in its own order. */
enum { ROW_GROUP = 8 };

/* max of x[0..n) in 16 lanes, folded: the value a scan in order finds (NaNs are skipped either
   way; of a -0/+0 tie either serves, x - max being the same) */
static inline float lane_max(const float *x, int n) {
  float m[LANES];
  for (int l = 0; l < LANES; l++) m[l] = -INFINITY;
  int j = 0;
  for (; j + LANES <= n; j += LANES)
    for (int l = 0; l < LANES; l++) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
  for (int l = 0; j + l < n; l++) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
  for (int w = LANES / 2; w > 0; w /= 2)
    for (int l = 0; l < w; l++) m[l] = m[l + w] > m[l] ? m[l + w] : m[l];
  return m[0];
}

/* s[r] = sum_j a_r[j] (b_r[j] when b: a_r[j] b_r[j]) in order of j, for rows r < g of a and b
   (row stride T) */
static inline void group_sums(float *s, const float *a, const float *b, int T, int g) {
  if (g == ROW_GROUP) {
    float acc[ROW_GROUP] = {0};
    for (int j = 0; j < T; j++)
      for (int r = 0; r < ROW_GROUP; r++) acc[r] += b ? a[(long)r * T + j] * b[(long)r * T + j] : a[(long)r * T + j];
    for (int r = 0; r < ROW_GROUP; r++) s[r] = acc[r];
    return;
  }
  for (int r = 0; r < g; r++) {
    float acc = 0.0f;
    for (int j = 0; j < T; j++) acc += b ? a[(long)r * T + j] * b[(long)r * T + j] : a[(long)r * T + j];
    s[r] = acc;
  }
}

/* Softmax of rows [0, g) of S (g <= ROW_GROUP, row length T) after adding the key mask (NULL:
   none) */
VECTOR_CLONES static void softmax_group(float *S, const float *mask_add, int T, int g) {
  float sum[ROW_GROUP];
  for (int r = 0; r < g; r++) {
    float *row = S + (long)r * T;
    if (mask_add)
      for (int j = 0; j < T; j++) row[j] += mask_add[j];
    const float mx = lane_max(row, T);
    for (int j = 0; j < T; j++) row[j] = exp_neg(row[j] - mx);
  }
  group_sums(sum, S, NULL, T, g);
  for (int r = 0; r < g; r++) {
    float *row = S + (long)r * T;
    const float inv = 1.0f / sum[r];
    for (int j = 0; j < T; j++) row[j] *= inv;
  }
}

void softmax_rows(float *S, const float *mask_add, int T, int rows) {
  for (int i = 0; i < rows; i += ROW_GROUP)
    softmax_group(S + (long)i * T, mask_add, T, rows - i < ROW_GROUP ? rows - i : ROW_GROUP);
}

/* Softmax backward on rows [0, g) of D (g <= ROW_GROUP): D = P * (D - sum_j D_j P_j) */
VECTOR_CLONES static void softmax_bwd_group(float *D, const float *P, int T, int g) {
  float dot[ROW_GROUP];
  group_sums(dot, D, P, T, g);
  for (int r = 0; r < g; r++) {
    float *dr = D + (long)r * T;
    const float *pr = P + (long)r * T;
    for (int j = 0; j < T; j++) dr[j] = pr[j] * (dr[j] - dot[r]);
  }
}

void softmax_bwd_rows(float *D, const float *P, int T, int rows) {
  for (int i = 0; i < rows; i += ROW_GROUP)
    softmax_bwd_group(D + (long)i * T, P + (long)i * T, T, rows - i < ROW_GROUP ? rows - i : ROW_GROUP);
}

float exp_nonpositive(float x) { return exp_neg(x); }

static void apply_keep(float *y, const float *x, const uint8_t *keep, float scale, long n) {
  for (long i = 0; i < n; i++) y[i] = x[i] * (keep[i] ? scale : 0.0f);
}

void attention_fwd(float *ctx, float *probs, float *scratch, const uint8_t *keep, float scale_drop,
                   const float *q, const float *k, const float *v, const float *mask_add, int B, int T, int NH,
                   int H) {
  const int hd = H / NH;
  const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH;
    long off = (long)b * T * H + (long)h * hd, tt = (long)bh * T * T;
    float *S = probs + tt;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q + off, H, k + off, H, 0.0f, S, T);
    softmax_rows(S, mask_add + (long)b * T, T, T);
    const float *P = S;
    if (keep) {
      apply_keep(scratch + tt, S, keep + tt, scale_drop, (long)T * T);
      P = scratch + tt;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, v + off, H, 0.0f, ctx + off, H);
  }
}

void attention_bwd(float *dq, float *dk, float *dv, float *dS, const float *dctx, const float *probs,
                   const uint8_t *keep, float scale_drop, const float *q, const float *k, const float *v, int B,
                   int T, int NH, int H) {
  const int hd = H / NH;
  const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH;
    long off = (long)b * T * H + (long)h * hd, tt = (long)bh * T * T;
    const float *P = probs + tt;
    float *D = dS + tt;
    /* dv = pdrop^T dctx, pdrop recomputed from the kept bytes into D first */
    const float *Pd = P;
    if (keep) {
      apply_keep(D, P, keep + tt, scale_drop, (long)T * T);
      Pd = D;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, Pd, T, dctx + off, H, 0.0f, dv + off, H);
    /* d(pdrop) = dctx v^T, then through the dropout */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dctx + off, H, v + off, H, 0.0f, D, T);
    if (keep) apply_keep(D, D, keep + tt, scale_drop, (long)T * T);
    /* softmax backward: dS = P * (dP - sum_j dP_j P_j) */
    softmax_bwd_rows(D, P, T, T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, D, T, k + off, H, 0.0f, dq + off, H);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, D, T, q + off, H, 0.0f, dk + off, H);
  }
}

/* One query per sequence ([CLS]: q and ctx are [B, H]) against all T keys and values
   ([B*T, H]) with the padding mask and dropout: row 0 of attention_fwd's computation. */
void attention_cls_fwd(float *ctx, float *probs, float *scratch, const uint8_t *keep, float scale_drop,
                       const float *q, const float *k, const float *v, const float *mask_add, int B, int T, int NH,
                       int H) {
  const int hd = H / NH;
  const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    const int b = bh / NH, h = bh % NH;
    const long kv = (long)b * T * H + (long)h * hd, qc = (long)b * H + (long)h * hd, tt = (long)bh * T;
    float *p = probs + tt;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, T, hd, scale, k + kv, H, q + qc, 1, 0.0f, p, 1);
    softmax_rows(p, mask_add + (long)b * T, T, 1);
    const float *pd = p;
    if (keep) {
      apply_keep(scratch + tt, p, keep + tt, scale_drop, T);
      pd = scratch + tt;
    }
    cblas_sgemv(CblasRowMajor, CblasTrans, T, hd, 1.0f, v + kv, H, pd, 1, 0.0f, ctx + qc, 1);
  }
}

void attention_cls_bwd(float *dq, float *dk, float *dv, float *dS, const float *dctx, const float *probs,
                       const uint8_t *keep, float scale_drop, const float *q, const float *k, const float *v, int B,
                       int T, int NH, int H) {
  const int hd = H / NH;
  const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    const int b = bh / NH, h = bh % NH;
    const long kv = (long)b * T * H + (long)h * hd, qc = (long)b * H + (long)h * hd, tt = (long)bh * T;
    const float *p = probs + tt, *dc = dctx + qc, *qh = q + qc;
    float *d = dS + tt;
    /* dv[j] = pdrop[j] dctx (an outer product: the one query's share of every value row) */
    for (int j = 0; j < T; j++) {
      const float pj = keep ? p[j] * (keep[tt + j] ? scale_drop : 0.0f) : p[j];
      float *dvj = dv + kv + (long)j * H;
      for (int e = 0; e < hd; e++) dvj[e] = pj * dc[e];
    }
    /* d(pdrop) = v dctx, through the dropout, then the softmax: dS = P (dP - sum_j dP_j P_j) */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, T, hd, 1.0f, v + kv, H, dc, 1, 0.0f, d, 1);
    if (keep) apply_keep(d, d, keep + tt, scale_drop, T);
    softmax_bwd_rows(d, p, T, 1);
    /* dq = scale dS k, dk[j] = scale dS[j] q */
    cblas_sgemv(CblasRowMajor, CblasTrans, T, hd, scale, k + kv, H, d, 1, 0.0f, dq + qc, 1);
    for (int j = 0; j < T; j++) {
      const float sj = scale * d[j];
      float *dkj = dk + kv + (long)j * H;
      for (int e = 0; e < hd; e++) dkj[e] = sj * qh[e];
    }
  }
}

static int longest(const int *len, int B) {
  int T = 1;
  for (int b = 0; b < B; b++) T = len[b] > T ? len[b] : T;
  return T;
}

void attention_packed_fwd(float *ctx, float *scratch, const float *q, const float *k, const float *v, int ld,
                          const long *off, const int *len, int B, int NH, int H) {
  const int hd = H / NH, T = longest(len, B);
  const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic)
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH, n = len[b];
    long o = off[b] * ld + (long)h * hd;
    float *S = scratch + (long)bh * T * T;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, scale, q + o, ld, k + o, ld, 0.0f, S, n);
    softmax_rows(S, NULL, n, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1.0f, S, n, v + o, ld, 0.0f,
                ctx + off[b] * H + (long)h * hd, H);
  }
}

void attention_packed_one_query_fwd(float *ctx, float *scores, const float *q, const float *k, const float *v,
                                    int ld, const long *off, const int *len, int B, int NH, int H) {
  const int hd = H / NH, T = longest(len, B);
  const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH, n = len[b];
    long o = off[b] * ld + (long)h * hd;
    float *s = scores + (long)bh * T;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, hd, scale, k + o, ld, q + (long)b * H + h * hd, 1, 0.0f, s, 1);
    softmax_rows(s, NULL, n, 1);
    cblas_sgemv(CblasRowMajor, CblasTrans, n, hd, 1.0f, v + o, ld, s, 1, 0.0f, ctx + (long)b * H + h * hd, 1);
  }
}

void dropout_apply(float *y, const float *x, const uint8_t *keep, float scale, long n) {
  if (!keep) {
    if (y != x) memcpy(y, x, sizeof(float) * n);
    return;
  }
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += SIMD_SPAN) apply_keep(y + i, x + i, keep + i, scale, SPAN_LEN(n, i));
}

float cross_entropy(float *dlogits, float *probs, const float *logits, const int *labels, int n, int c) {
  double total = 0.0;
  for (int i = 0; i < n; i++) {
    const float *li = logits + (long)i * c;
    float mx = li[0];
    for (int j = 1; j < c; j++) mx = li[j] > mx ? li[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < c; j++) sum += exp((double)li[j] - mx);
    double lse = mx + log(sum);
    total += lse - li[labels[i]];
    for (int j = 0; j < c; j++) {
      float p = (float)exp((double)li[j] - lse);
      if (probs) probs[(long)i * c + j] = p;
      if (dlogits) dlogits[(long)i * c + j] = (p - (j == labels[i] ? 1.0f : 0.0f)) / n;
    }
  }
  return (float)(total / n);
}
