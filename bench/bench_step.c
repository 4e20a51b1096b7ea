/* Benchmark (not a test): one training step (forward, backward, clipping, AdamW) of a BERT
   with random weights, at the thread count given. Prints tokens/s, GFLOP/s and the share of
   the step spent in GEMM, measured two ways:
   - gemm_share: the step's GEMM shapes replayed alone through cblas_sgemm (on buffers reused
     call after call, so operands are warmer than in the step: a lower bound);
   - gemm_share_in_step: the time the step itself spends inside cblas_sgemm, timed by the
     wrapper below: a GEMM called outside parallel regions counts its wall time, those that
     threads call inside one count for the thread that ran them, and the busiest thread's
     total is the step's GEMM time.

   The best step's phases are printed too: zeroing the gradients, forward, backward, the
   gradient norm (for clipping), the optimizer.

   usage: bench_step [base|small] [threads] [steps] [nogemm]   (one line of key=value results;
   nogemm skips the GEMM replay and prints gemm_share=nan) */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "src/bert.h"
#include "src/clock.h"
#include "src/gemm.h"
#include "src/machine.h"
#include "src/optim.h"
#include "src/rng.h"

/* Every cblas_sgemm of the step comes here (this definition takes precedence over
   OpenBLAS's for the static bs_core linked into this program) and on to OpenBLAS's, timed.
   Process-wide counters: the one piece of global state, a benchmark's instrument. */
typedef void (*SgemmFn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                        const blasint, const blasint, const blasint, const float, const float *, const blasint,
                        const float *, const blasint, const float, float *, const blasint);
static SgemmFn real_sgemm;
enum { MAX_THREADS = 256 };
static atomic_llong gemm_ns_serial, gemm_ns_thread[MAX_THREADS];

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void cblas_sgemm(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint m, const blasint n, const blasint k, const float alpha, const float *a,
                 const blasint lda, const float *b, const blasint ldb, const float beta, float *c,
                 const blasint ldc) {
  const long long t0 = now_ns();
  real_sgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const long long dt = now_ns() - t0;
  const int t = omp_get_thread_num();
  atomic_fetch_add(omp_in_parallel() ? &gemm_ns_thread[t < MAX_THREADS ? t : 0] : &gemm_ns_serial, dt);
}

/* GEMM time so far, each thread's own, in seconds */
static void gemm_times(int threads, double *per_thread) {
  for (int t = 0; t < threads; t++)
    per_thread[t] = (atomic_load(&gemm_ns_serial) + atomic_load(&gemm_ns_thread[t])) * 1e-9;
}

/* Forward FLOPs of the classifier's step: dense layers 2*N*in*out, attention scores and
   context 2*2*B*T*T*H; the last layer for the [CLS] rows only (keys and values for every
   token, the rest for B rows, one query per sequence), as bert_forward computes it. */
static double fwd_flops(const BertConfig *c, int B, int T) {
  double N = (double)B * T, H = c->hidden, Im = c->intermediate;
  double full = 2 * N * (4 * H * H + 2 * H * Im) + 4.0 * B * T * (double)T * H;
  double last = 2 * N * 2 * H * H + 2.0 * B * (2 * H * H + 2 * H * Im) + 4.0 * B * T * H;
  return (c->layers > 0 ? (c->layers - 1) * full + last : 0.0) + 2.0 * B * (H * H + H * c->num_labels);
}

/* Replay buffers: x an input, w a weight, y an output, dx and dw the backward's outputs, each
   room for [B*T, max(H, I, 3H)] floats */
typedef struct {
  float *x, *w, *y, *dx, *dw;
} Bufs;

/* count dense layers of the same shape on rows rows, forward, as linears_fwd runs them */
static void dense_fwd(int count, int rows, int out, int in, const Bufs *b) {
  Gemm g[3];
  for (int i = 0; i < count; i++) g[i] = (Gemm){0, 1, rows, out, in, 1.0f, b->x, in, b->w, in, 0.0f, b->y + (long)i * rows * out, out};
  gemm_run(g, count);
}

/* A dense layer's backward products (dw and dx), as linear_bwd runs them */
static void dense_bwd(int rows, int out, int in, const Bufs *b) {
  const Gemm g[2] = {{1, 0, out, in, rows, 1.0f, b->y, out, b->x, in, 1.0f, b->dw, in},
                     {0, 0, rows, in, out, 1.0f, b->y, out, b->w, in, 1.0f, b->dx, in}};
  gemm_run(g, 2);
}

/* The step's GEMMs: forward and both backward products of every dense layer, and attention's
   per-head products; the last layer's as bert_forward does them (keys and values on every
   row, the rest on the B [CLS] rows; its one-query attention is matrix-vector work, left out). */
static double gemm_only(const BertConfig *c, int B, int T, const Bufs *b) {
  float *x = b->x, *w = b->w, *y = b->y;
  const int N = B * T, H = c->hidden, Im = c->intermediate, hd = H / c->heads;
  double t0 = clock_seconds();
  for (int l = 0; l < c->layers; l++) {
    const int last = l == c->layers - 1, rows = last ? B : N;
    dense_fwd(last ? 2 : 3, N, H, H, b); /* key, value (and query) */
    if (last) dense_fwd(1, rows, H, H, b); /* query */
    dense_fwd(1, rows, H, H, b); /* attention output */
    dense_fwd(1, rows, Im, H, b);
    dense_fwd(1, rows, H, Im, b);
    for (int i = 0; i < 2; i++) dense_bwd(N, H, H, b); /* key, value */
    for (int i = 0; i < 2; i++) dense_bwd(rows, H, H, b); /* query, attention output */
    dense_bwd(rows, Im, H, b);
    dense_bwd(rows, H, Im, b);
    if (last) continue;
#pragma omp parallel for
    for (int bh = 0; bh < B * c->heads; bh++) {
      float *S = y + (size_t)bh * T * T;
      long off = (long)(bh / c->heads) * T * H + (long)(bh % c->heads) * hd;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, x + off, H, x + off, H, 0.0f, S, T);
      for (int r = 0; r < 5; r++) /* ctx forward + four backward products */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, S, T, x + off, H, 0.0f, w + off, H);
    }
  }
  return clock_seconds() - t0;
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "small";
  int threads = argc > 2 ? atoi(argv[2]) : omp_get_max_threads(), steps = argc > 3 ? atoi(argv[3]) : 3;
  if (threads < 1 || threads > MAX_THREADS) {
    fprintf(stderr, "bench_step: threads must be 1..%d\n", MAX_THREADS);
    return 2;
  }
  omp_set_num_threads(threads);
  real_sgemm = (SgemmFn)dlsym(RTLD_NEXT, "cblas_sgemm");
  if (!real_sgemm) {
    fprintf(stderr, "bench_step: OpenBLAS's cblas_sgemm not found: %s\n", dlerror());
    return 1;
  }
  BertConfig c = {21128, 768, 12, 12, 3072, 512, 2, 15, 1e-12f, 0.02f, 0.1f, 0.1f, 0.1f, 0};
  if (strcmp(which, "small") == 0) c = (BertConfig){21128, 256, 4, 4, 1024, 512, 2, 15, 1e-12f, 0.02f, 0.1f, 0.1f, 0.1f, 0};
  const int B = 16, T = 128;
  Err e;
  Bert m;
  Acts a;
  Optim o;
  OptConfig oc = OPT_CONFIG_DEFAULTS;
  oc.weight_decay = 0.01f;
  if (bert_alloc(&m, &c, &e) || acts_alloc(&a, &c, B, T, &e) || optim_init(&o, &oc, m.nparams, &e)) {
    fprintf(stderr, "bench_step: %s\n", e.msg);
    return 1;
  }
  for (int g = -1; g <= c.layers + 1; g++) bert_init_group(&m, g, 1, 100 + (uint64_t)(g + 1));
  int *ids = malloc(sizeof(int) * B * T), *types = calloc(B * T, sizeof(int)), *mask = malloc(sizeof(int) * B * T);
  int labels[16];
  Rng r;
  rng_init(&r, 5, 6);
  for (int i = 0; i < B * T; i++) {
    ids[i] = 100 + (int)rng_below(&r, 20000);
    mask[i] = (i % T) < T - (i / T) * 4; /* some padding */
  }
  for (int b = 0; b < B; b++) labels[b] = b % c.num_labels;
  Batch bt = {B, T, ids, types, mask, labels};
  double best = 1e30, in_step = NAN, phase[5] = {0};
  for (int s = 0; s <= steps; s++) { /* step 0 warms up */
    double g0[MAX_THREADS], g1[MAX_THREADS];
    gemm_times(threads, g0);
    double t[6];
    t[0] = clock_seconds();
    Mode mode = {1, 7, s};
    bert_zero_grad(&m);
    t[1] = clock_seconds();
    bert_forward(&m, &a, &bt, &mode);
    t[2] = clock_seconds();
    bert_backward(&m, &a, &bt);
    t[3] = clock_seconds();
    const float norm = optim_grad_norm(m.grads, m.nparams);
    t[4] = clock_seconds();
    optim_step(&o, &m, 2e-5f, optim_clip_coef(norm, 1.0f));
    t[5] = clock_seconds();
    double dt = t[5] - t[0];
    if (s > 0 && dt < best) {
      best = dt;
      for (int p = 0; p < 5; p++) phase[p] = t[p + 1] - t[p];
      gemm_times(threads, g1);
      in_step = 0.0;
      for (int t = 0; t < threads; t++) in_step = fmax(in_step, (g1[t] - g0[t]) / dt);
    }
  }
  struct rusage ru; /* peak memory of the steps, before the GEMM replay's buffers */
  long peak_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024 : -1;
  const int widest = c.intermediate > 3 * c.hidden ? c.intermediate : 3 * c.hidden;
  const size_t big = (size_t)B * T * widest, att = (size_t)B * c.heads * T * T, len = big > att ? big : att;
  Bufs bufs = {calloc(len, sizeof(float)), calloc(len, sizeof(float)), calloc(len, sizeof(float)),
               calloc(len, sizeof(float)), calloc(len, sizeof(float))};
  if (!bufs.x || !bufs.w || !bufs.y || !bufs.dx || !bufs.dw) {
    fprintf(stderr, "bench_step: out of memory for the GEMM replay\n");
    return 1;
  }
  double g = NAN;
  int replay = !(argc > 4 && !strcmp(argv[4], "nogemm"));
  for (int s = 0; s < 3 * replay; s++) { /* best of three: the first also faults the pages in */
    double t = gemm_only(&c, B, T, &bufs);
    g = s == 0 || t < g ? t : g;
  }
  double flops = 3.0 * fwd_flops(&c, B, T);
  MachineInfo mi;
  machine_describe(&mi);
  machine_one_word(&mi);
  printf("impl=bertsweep cpu=%s blas=%s model=%s layers=%d hidden=%d batch=%d seq=%d threads=%d step_s=%.4f tokens_per_s=%.1f "
         "gflops=%.2f gemm_share=%.2f gemm_share_in_step=%.2f peak_rss_mb=%ld zero_grad_s=%.4f forward_s=%.4f backward_s=%.4f "
         "grad_norm_s=%.4f optimizer_s=%.4f\n",
         mi.cpu, mi.blas, which, c.layers, c.hidden, B, T, threads, best, B * T / best, flops / best / 1e9, g / best, in_step, peak_mb,
         phase[0], phase[1], phase[2], phase[3], phase[4]);
  free(bufs.x); free(bufs.w); free(bufs.y); free(bufs.dx); free(bufs.dw); free(ids); free(types); free(mask);
  optim_free(&o);
  acts_free(&a);
  bert_free(&m);
  return 0;
}
