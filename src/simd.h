/* Element-wise loops compiled for AVX-512 and AVX2 as well as the baseline; the loader picks
   one per CPU. No fused multiply-add is formed (ISO C mode contracts nothing), and each
   element's operations are the same IEEE operations in every version, so all give identical
   results. Loops go over spans of SIMD_SPAN elements that threads share out. */
#ifndef BS_SIMD_H
#define BS_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    defined(BS_NO_AVX512_CLONES)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

enum { SIMD_SPAN = 4096 };
#define SPAN_LEN(n, i) ((n) - (i) < SIMD_SPAN ? (n) - (i) : SIMD_SPAN)

#endif
