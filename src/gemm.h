/* Dense layers' GEMMs shared out over a rank's threads. */
#ifndef BS_GEMM_H
#define BS_GEMM_H

/* C = alpha op(A) op(B) + beta C, row-major, op(A) M x K, op(B) K x N (ta, tb: transposed) */
typedef struct {
  int ta, tb, M, N, K;
  float alpha;
  const float *A;
  int lda;
  const float *B;
  int ldb;
  float beta;
  float *C;
  int ldc;
} Gemm;

/* Runs n independent GEMMs (no output overlaps another GEMM's operands). With up to
   GEMM_TEAM_THREADS threads, each thread runs single-threaded GEMMs of its own: whole GEMMs
   round robin while they divide evenly, then a share of every remaining GEMM's rows (one
   thread never waits on another's packing, as in OpenBLAS's threading). With more threads,
   or inside a parallel region, each GEMM is one OpenBLAS call. The split depends only on the
   shapes and the thread count, so a run repeats bit for bit; across thread counts the bits
   agree under OpenBLAS's Prescott, Haswell and Sandybridge kernels, not under SkylakeX's
   (its small-matrix path rounds by call shape). */
void gemm_run(const Gemm *g, int n);

enum { GEMM_TEAM_THREADS = 2 };

#endif
