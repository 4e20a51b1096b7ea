/* Layer kernels against plain references: GELU (erf form) and its derivative against libm's
   double-precision erf/exp, relative to each value (so the far negative tail counts);
   the column reductions of linear_bwd and layernorm_bwd against a row-order loop, bit for
   bit, at 1 and 2 threads; LayerNorm's row statistics against the 16-lane order it specifies,
   bit for bit (so every vector width gives these bits), and against double precision.
   GEMMs shared out over threads (src/gemm.c) against one single-threaded OpenBLAS call (to
   rounding: some OpenBLAS kernels round differently by call shape) and the same again bit for
   bit; a whole training step's gradients at 1 and 2 threads (to rounding), and twice at 2
   threads (bit for bit). The softmax and its backward against the plain row loops, bit for bit. */
#include <cblas.h>
#include <omp.h>
#include <string.h>
#include "src/bert.h"
#include "src/gemm.h"
#include "src/ops.h"
#include "src/rng.h"
#include "tests/check.h"

static void gelu_accuracy(void) {
  const long n = 200001;
  float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n);
  float *one = malloc(sizeof(float) * n);
  for (long i = 0; i < n; i++) {
    x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
    one[i] = 1.0f;
  }
  gelu_fwd(y, x, n, ACT_GELU);
  gelu_bwd(d, one, x, n, ACT_GELU);
  double worst_y = 0, worst_d = 0, at_y = 0, at_d = 0;
  for (long i = 0; i < n; i++) {
    double xv = x[i], cdf = 0.5 * erfc(-xv / sqrt(2.0)), pdf = exp(-0.5 * xv * xv) / 2.5066282746310002;
    double want_y = xv * cdf, want_d = cdf + xv * pdf;
    /* relative to the value (to the size of its two terms for the derivative, which crosses 0
       at x = -0.75); the tail beyond |x| = 4 (Phi below 3e-5) to 5e-5, where rounding the
       exponent's argument (~x^2/2) dominates */
    double ey = fabs(y[i] - want_y) / fmax(fabs(want_y), 1e-37);
    double ed = fabs(d[i] - want_d) / fmax(fabs(cdf) + fabs(xv * pdf), 1e-37);
    double scale = fabs(xv) <= 4 ? 1.0 : 2e-6 / 5e-5;
    if (fabs(want_y) < 1e-37) ey = fabs(y[i]) < 1e-36 ? 0 : 1;
    if (ey * scale > worst_y) worst_y = ey * scale, at_y = xv;
    if (ed * scale > worst_d) worst_d = ed * scale, at_d = xv;
  }
  CHECK(worst_y < 2e-6, "gelu: worst scaled relative error %.3g at x = %.4f", worst_y, at_y);
  CHECK(worst_d < 2e-6, "gelu': worst scaled relative error %.3g at x = %.4f", worst_d, at_d);
  float z = 0.0f, gz, dz;
  gelu_fwd(&gz, &z, 1, ACT_GELU);
  gelu_bwd(&dz, one, &z, 1, ACT_GELU);
  CHECK(gz == 0.0f && dz == 0.5f, "gelu(0) = %g, gelu'(0) = %g", gz, dz);
  /* non-finite inputs: NaN stays NaN (a diverging run must still show), gelu(+inf) = +inf */
  float special[3] = {NAN, INFINITY, -1e30f}, gs[3], ds[3], ones3[3] = {1, 1, 1};
  gelu_fwd(gs, special, 3, ACT_GELU);
  gelu_bwd(ds, ones3, special, 3, ACT_GELU);
  CHECK(isnan(gs[0]) && isnan(ds[0]), "gelu(NaN) = %g, gelu'(NaN) = %g", gs[0], ds[0]);
  CHECK(gs[1] == INFINITY, "gelu(inf) = %g", gs[1]); /* gelu'(inf) is 1 + inf * 0: NaN, as with libm */
  CHECK(gs[2] == 0.0f && ds[2] == 0.0f, "gelu(-1e30) = %g, gelu'(-1e30) = %g", gs[2], ds[2]);
  free(x), free(y), free(d), free(one);
}

/* dw unused here: linear_bwd's db and layernorm_bwd's dg/db against loops in row order. */
static void column_sums(void) {
  const int n = 333, c = 200; /* c not a multiple of the 64-column blocks */
  float *dy = malloc(sizeof(float) * n * c), *x = malloc(sizeof(float) * n * c);
  float mean[333], rstd[333], g[200];
  Rng r;
  rng_init(&r, 5, 1);
  for (long i = 0; i < (long)n * c; i++) dy[i] = rng_normal(&r, 1.0f), x[i] = rng_normal(&r, 2.0f);
  for (int i = 0; i < n; i++) mean[i] = rng_normal(&r, 0.1f), rstd[i] = 0.5f + rng_uniform(&r);
  for (int j = 0; j < c; j++) g[j] = 1.0f + rng_normal(&r, 0.1f);
  float want_db[200], want_dg[200], want_lb[200];
  for (int j = 0; j < c; j++) {
    float s = 0, sg = 0, sb = 0;
    for (int i = 0; i < n; i++) {
      float dv = dy[(long)i * c + j];
      s += dv;
      sg += dv * (x[(long)i * c + j] - mean[i]) * rstd[i];
      sb += dv;
    }
    want_db[j] = 1.0f + s, want_dg[j] = sg, want_lb[j] = sb;
  }
  float *w = malloc(sizeof(float) * c * 8), *dw = calloc((size_t)c * 8, sizeof(float));
  float *dxl = malloc(sizeof(float) * n * c);
  for (int i = 0; i < c * 8; i++) w[i] = 0.01f;
  for (int th = 1; th <= 2; th++) {
    omp_set_num_threads(th);
    float db[200], dg[200], lb[200];
    for (int j = 0; j < c; j++) db[j] = 1.0f, dg[j] = lb[j] = 0.0f;
    linear_bwd(NULL, 0.0f, dw, db, dy, x, w, n, 8, c); /* in = 8 columns of x, out = c */
    layernorm_bwd(dxl, dg, lb, dy, x, mean, rstd, g, n, c);
    CHECK(memcmp(db, want_db, sizeof db) == 0, "linear_bwd bias gradient differs from row order (%d threads)", th);
    CHECK(memcmp(dg, want_dg, sizeof dg) == 0, "layernorm_bwd dg differs from row order (%d threads)", th);
    CHECK(memcmp(lb, want_lb, sizeof lb) == 0, "layernorm_bwd db differs from row order (%d threads)", th);
  }
  free(dy), free(x), free(w), free(dw), free(dxl);
}

/* The sum layernorm_fwd specifies: lane l adds elements l, l+16, ... in order, then the lanes
   fold in halves (8, 4, 2, 1). Written out with no vectorisation in mind. */
static float lanes16(const float *v, int c) {
  float s[16] = {0};
  for (int j = 0; j < c; j++) s[j % 16] += v[j];
  for (int w = 8; w > 0; w /= 2)
    for (int l = 0; l < w; l++) s[l] += s[l + w];
  return s[0];
}

static void layernorm_lanes(void) {
  const int widths[] = {64, 100, 768}; /* 100: the partial last lane group */
  Rng r;
  rng_init(&r, 8, 2);
  for (int t = 0; t < 3; t++) {
    const int n = 37, c = widths[t];
    float *x = malloc(sizeof(float) * n * c), *y = malloc(sizeof(float) * n * c), *dev = malloc(sizeof(float) * c);
    float g[768], b[768], mean[37], rstd[37];
    for (long i = 0; i < (long)n * c; i++) x[i] = 3.0f + rng_normal(&r, 2.0f);
    for (int j = 0; j < c; j++) g[j] = 1.0f + rng_normal(&r, 0.1f), b[j] = rng_normal(&r, 0.1f);
    layernorm_fwd(y, mean, rstd, x, g, b, n, c, 1e-12f);
    int exact = 1;
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
      const float *xi = x + (long)i * c;
      const float m = lanes16(xi, c) / (float)c;
      for (int j = 0; j < c; j++) dev[j] = (xi[j] - m) * (xi[j] - m);
      const float rs = 1.0f / sqrtf(lanes16(dev, c) / (float)c + 1e-12f);
      exact &= m == mean[i] && rs == rstd[i];
      for (int j = 0; j < c; j++) exact &= y[(long)i * c + j] == (xi[j] - m) * rs * g[j] + b[j];
      double dm = 0.0, dv = 0.0;
      for (int j = 0; j < c; j++) dm += xi[j];
      dm /= c;
      for (int j = 0; j < c; j++) dv += (xi[j] - dm) * (xi[j] - dm);
      const double drs = 1.0 / sqrt(dv / c + 1e-12);
      for (int j = 0; j < c; j++) {
        const double want = (xi[j] - dm) * drs * g[j] + b[j];
        const double err = fabs(y[(long)i * c + j] - want) / (1.0 + fabs(want));
        worst = err > worst ? err : worst;
      }
    }
    CHECK(exact, "layernorm width %d: not the 16-lane sums' bits", c);
    CHECK(worst < 2e-6, "layernorm width %d: error %.3g against double precision", c, worst);
    free(x), free(y), free(dev);
  }
}

static float *random_floats(long n, uint64_t seed) {
  float *x = malloc(sizeof(float) * n);
  Rng r;
  rng_init(&r, seed, 0);
  for (long i = 0; x && i < n; i++) x[i] = rng_uniform(&r) - 0.5f;
  return x;
}

/* gemm_run's outputs at 1 and 2 threads, for every transpose and both betas, with rows that
   are not a multiple of the split's 16: every element within rounding of OpenBLAS called once
   on one thread (a row or column placed wrong is off by the values' scale), and a repeat
   bit for bit */
static void gemm_split(void) {
  const int M = 203, N = 67, K = 130, ld = 211; /* ld > every extent: strides are exercised */
  const long size = (long)M * ld;
  float *A = random_floats((long)ld * ld, 1), *B = random_floats((long)ld * ld, 2), *C0 = random_floats(size, 3);
  float *want = malloc(sizeof(float) * size), *got = malloc(sizeof(float) * 3 * size);
  float *again = malloc(sizeof(float) * 3 * size);
  const int ok = A && B && C0 && want && got && again;
  CHECK(ok, "gemm_split: out of memory");
  for (int ta = 0; ok && ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int beta = 0; beta < 2; beta++) {
        omp_set_num_threads(1);
        memcpy(want, C0, sizeof(float) * size);
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 0.7f, A,
                    ld, B, ld, (float)beta, want, ld);
        for (int threads = 1; threads <= 2; threads++)
          for (int count = 1; count <= 3; count++) { /* count GEMMs side by side */
            omp_set_num_threads(threads);
            Gemm g[3];
            for (int rep = 0; rep < 2; rep++) {
              float *out = rep ? again : got;
              for (int i = 0; i < count; i++) {
                memcpy(out + i * size, C0, sizeof(float) * size);
                g[i] = (Gemm){ta, tb, M, N, K, 0.7f, A, ld, B, ld, (float)beta, out + i * size, ld};
              }
              gemm_run(g, count);
            }
            double worst = 0.0;
            for (int i = 0; i < count; i++) worst = fmax(worst, rel_err(got + i * size, want, size, 1.0));
            CHECK(worst < 1e-6, "gemm_run ta=%d tb=%d beta=%d, %d GEMMs, %d threads: error %.3g", ta, tb, beta,
                  count, threads, worst);
            CHECK(memcmp(got, again, sizeof(float) * count * size) == 0,
                  "gemm_run ta=%d tb=%d beta=%d, %d GEMMs, %d threads: a repeat differs", ta, tb, beta, count,
                  threads);
          }
      }
  omp_set_num_threads(2);
  free(A); free(B); free(C0); free(want); free(got); free(again);
}

/* One training step's gradients (dropout on, padding, B*T not a multiple of 16) */
static float *step_grads(int threads, long *nparams) {
  BertConfig c = {300, 64, 2, 4, 128, 64, 3, 3, 1e-12f, 0.02f, 0.1f, 0.1f, 0.1f, 0};
  enum { B = 5, T = 13 };
  int ids[B * T], types[B * T] = {0}, mask[B * T], labels[B] = {0, 1, 2, 1, 0};
  for (int i = 0; i < B * T; i++) {
    ids[i] = 1 + (i * 37) % 299;
    mask[i] = i % T < T - i / T;
  }
  Batch bt = {B, T, ids, types, mask, labels};
  omp_set_num_threads(threads);
  Bert m;
  Acts a;
  Err e;
  if (bert_alloc(&m, &c, &e) || acts_alloc(&a, &c, B, T, &e)) {
    CHECK(0, "step_grads: %s", e.msg);
    return NULL;
  }
  for (int g = -1; g <= c.layers + 1; g++) bert_init_group(&m, g, 1, 100 + (uint64_t)(g + 1));
  Mode mode = {1, 7, 3};
  bert_zero_grad(&m);
  bert_forward(&m, &a, &bt, &mode);
  bert_backward(&m, &a, &bt);
  float *grads = malloc(sizeof(float) * m.nparams);
  CHECK(grads != NULL, "step_grads: out of memory");
  if (grads) memcpy(grads, m.grads, sizeof(float) * m.nparams);
  *nparams = m.nparams;
  acts_free(&a);
  bert_free(&m);
  return grads;
}

/* at 1 and 2 threads to rounding, at 2 threads twice bit for bit */
static void step_threads(void) {
  long n = 0;
  float *one = step_grads(1, &n), *two = step_grads(2, &n), *two_again = step_grads(2, &n);
  if (!one || !two || !two_again) { /* step_grads has failed a check */
    free(one);
    free(two);
    free(two_again);
    return;
  }
  long nonzero = 0;
  for (long i = 0; i < n; i++) nonzero += one[i] != 0.0f;
  CHECK(nonzero > n / 2, "a step's gradients: only %ld of %ld nonzero", nonzero, n);
  const double err = rel_err(two, one, (size_t)n, 1e-3);
  CHECK(err < 1e-5, "a step's gradients at 1 and 2 threads: relative error %.3g", err);
  CHECK(memcmp(two, two_again, sizeof(float) * n) == 0, "a step's gradients at 2 threads differ between repeats");
  free(one);
  free(two);
  free(two_again);
}

/* The softmax and its backward (row groups summed side by side, maxima in lanes) against the
   plain loops they replace, bit for bit: rows and lengths that are not multiples of the group
   or the lane count, masked keys, fully masked rows, -inf, NaN and signed zeros. */
static void softmax_order(void) {
  const int rows_list[] = {1, 7, 8, 13, 128}, len_list[] = {1, 5, 16, 37, 128};
  Rng r;
  rng_init(&r, 5, 6);
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 5; b++) {
      const int rows = rows_list[a], T = len_list[b];
      const long n = (long)rows * T;
      float *S = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n), *mask = malloc(sizeof(float) * T);
      float *D = malloc(sizeof(float) * n), *dwant = malloc(sizeof(float) * n);
      CHECK(S && want && mask && D && dwant, "softmax_order: out of memory");
      if (!S || !want || !mask || !D || !dwant) return;
      for (int j = 0; j < T; j++) mask[j] = j % 5 == 3 ? -10000.0f : 0.0f;
      for (long i = 0; i < n; i++) {
        S[i] = 8.0f * (rng_uniform(&r) - 0.5f);
        D[i] = rng_uniform(&r) - 0.5f;
      }
      if (rows > 2 && T > 2) { /* oddities in rows 1 and 2: signed zeros and -inf; NaN */
        S[T] = -0.0f, S[T + 1] = 0.0f, S[T + 2] = -INFINITY;
        S[2 * T + 1] = NAN;
      }
      for (int pass = 0; pass < 2; pass++) {
        const float *m = pass ? mask : NULL;
        memcpy(want, S, sizeof(float) * n);
        for (int i = 0; i < rows; i++) { /* the loops as they were, one row at a time */
          float *row = want + (long)i * T, mx = -INFINITY, sum = 0.0f;
          for (int j = 0; j < T; j++) {
            if (m) row[j] += m[j];
            if (row[j] > mx) mx = row[j];
          }
          for (int j = 0; j < T; j++) row[j] = exp_nonpositive(row[j] - mx);
          for (int j = 0; j < T; j++) sum += row[j];
          for (int j = 0; j < T; j++) row[j] *= 1.0f / sum;
        }
        float *got = malloc(sizeof(float) * n);
        CHECK(got != NULL, "softmax_order: out of memory");
        if (!got) return;
        memcpy(got, S, sizeof(float) * n);
        softmax_rows(got, m, T, rows);
        CHECK(memcmp(got, want, sizeof(float) * n) == 0, "softmax of %d x %d (mask %d) differs from the plain loops", rows, T,
              pass);
        memcpy(dwant, D, sizeof(float) * n);
        for (int i = 0; i < rows; i++) {
          float *dr = dwant + (long)i * T, dot = 0.0f;
          const float *pr = want + (long)i * T;
          for (int j = 0; j < T; j++) dot += dr[j] * pr[j];
          for (int j = 0; j < T; j++) dr[j] = pr[j] * (dr[j] - dot);
        }
        memcpy(got, D, sizeof(float) * n);
        softmax_bwd_rows(got, want, T, rows);
        CHECK(memcmp(got, dwant, sizeof(float) * n) == 0, "softmax backward of %d x %d (mask %d) differs from the plain loops",
              rows, T, pass);
        free(got);
      }
      free(S), free(want), free(mask), free(D), free(dwant);
    }
}

int main(void) {
  gelu_accuracy();
  column_sums();
  layernorm_lanes();
  softmax_order();
  gemm_split();
  step_threads();
  return check_done();
}
