#include <cblas.h>
#include <omp.h>
#include "src/gemm.h"

/* Part t of nt of g's rows (whole blocks of 16 rows, the kernel's unit), single-threaded
   when called inside a parallel region. */
static void gemm_part(const Gemm *g, int t, int nt) {
  const long blocks = (g->M + 15) / 16;
  const int m0 = (int)(16 * (blocks * t / nt));
  const int m1 = t == nt - 1 ? g->M : (int)(16 * (blocks * (t + 1) / nt));
  if (m1 <= m0) return;
  const float *a = g->ta ? g->A + m0 : g->A + (long)m0 * g->lda; /* op(A)'s rows m0.. */
  cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, m1 - m0, g->N,
              g->K, g->alpha, a, g->lda, g->B, g->ldb, g->beta, g->C + (long)m0 * g->ldc, g->ldc);
}

void gemm_run(const Gemm *g, int n) {
  const int nt = omp_get_max_threads();
  if (nt == 1 || nt > GEMM_TEAM_THREADS || omp_in_parallel()) {
    for (int i = 0; i < n; i++) gemm_part(&g[i], 0, 1);
    return;
  }
#pragma omp parallel num_threads(nt)
  { /* the team actually given (fewer than asked when OMP_DYNAMIC is on) shares the work */
    const int team = omp_get_num_threads(), t = omp_get_thread_num(), whole = n - n % team;
    for (int i = t; i < whole; i += team) gemm_part(&g[i], 0, 1);
    for (int i = whole; i < n; i++) gemm_part(&g[i], t, team);
  }
}
