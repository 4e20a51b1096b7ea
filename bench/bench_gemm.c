/* Benchmark (not a test): a dense layer's GEMMs as the step runs them (src/gemm.c: side by
   side, one single-threaded GEMM per thread) against the same GEMMs one after the other, each
   threaded by OpenBLAS, at the thread count given; for the small model's and BERT-base's
   shapes, batch 16 x 128. Prints one key=value line per case with the ratio.

   usage: bench_gemm [threads] [repeats]   (best of repeats) */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "src/clock.h"
#include "src/gemm.h"
#include "src/machine.h"

static void one_by_one(const Gemm *g, int n) {
  for (int i = 0; i < n; i++)
    cblas_sgemm(CblasRowMajor, g[i].ta ? CblasTrans : CblasNoTrans, g[i].tb ? CblasTrans : CblasNoTrans, g[i].M,
                g[i].N, g[i].K, g[i].alpha, g[i].A, g[i].lda, g[i].B, g[i].ldb, g[i].beta, g[i].C, g[i].ldc);
}

static double best_of(void (*run)(const Gemm *, int), const Gemm *g, int n, int repeats) {
  double best = 1e30;
  for (int r = 0; r <= repeats; r++) { /* the first warms up */
    const double t0 = clock_seconds();
    run(g, n);
    const double dt = clock_seconds() - t0;
    if (r > 0 && dt < best) best = dt;
  }
  return best;
}

static void report(const char *model, const char *what, const Gemm *g, int n, int threads, int repeats,
                   const MachineInfo *mi) {
  const double serial = best_of(one_by_one, g, n, repeats), team = best_of(gemm_run, g, n, repeats);
  printf("impl=bertsweep cpu=%s blas=%s model=%s gemms=%s threads=%d one_by_one_ms=%.3f side_by_side_ms=%.3f "
         "speedup=%.3f\n", mi->cpu, mi->blas, model, what, threads, serial * 1e3, team * 1e3, serial / team);
}

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads(), repeats = argc > 2 ? atoi(argv[2]) : 10;
  if (threads < 1 || repeats < 1) {
    fprintf(stderr, "usage: bench_gemm [threads] [repeats]\n");
    return 2;
  }
  omp_set_num_threads(threads);
  MachineInfo mi;
  machine_describe(&mi);
  machine_one_word(&mi);
  const int N = 16 * 128, shapes[2][2] = {{256, 1024}, {768, 3072}};
  const char *models[2] = {"small", "base"};
  for (int s = 0; s < 2; s++) {
    const int H = shapes[s][0], Im = shapes[s][1];
    const size_t big = (size_t)N * Im;
    float *x = calloc(big, sizeof(float)), *w = calloc((size_t)Im * H, sizeof(float));
    float *y = calloc(3 * big, sizeof(float)), *dy = calloc(big, sizeof(float)), *dw = calloc((size_t)Im * H, sizeof(float));
    if (!x || !w || !y || !dy || !dw) {
      fprintf(stderr, "bench_gemm: out of memory\n");
      return 1;
    }
    for (size_t i = 0; i < big; i++) x[i] = dy[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)Im * H; i++) w[i] = (float)(i % 5) * 0.1f;
    Gemm qkv[3], ff_fwd[1] = {{0, 1, N, Im, H, 1.0f, x, H, w, H, 0.0f, y, Im}};
    for (int i = 0; i < 3; i++) qkv[i] = (Gemm){0, 1, N, H, H, 1.0f, x, H, w, H, 0.0f, y + (size_t)i * N * H, H};
    /* the FFN input layer's backward: dW [Im, H] += dy^T x, dx [N, H] = dy W */
    const Gemm ff_bwd[2] = {{1, 0, Im, H, N, 1.0f, dy, Im, x, H, 1.0f, dw, H}, {0, 0, N, H, Im, 1.0f, dy, Im, w, H, 0.0f, y, H}};
    report(models[s], "qkv_forward", qkv, 3, threads, repeats, &mi);
    report(models[s], "ffn_in_forward", ff_fwd, 1, threads, repeats, &mi);
    report(models[s], "ffn_in_backward", ff_bwd, 2, threads, repeats, &mi);
    free(x); free(w); free(y); free(dy); free(dw);
  }
  return 0;
}
