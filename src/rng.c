#include <math.h>
#include <string.h>
#include "src/rng.h"
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define RNG_X86 1 /* AVX2 and AVX-512 versions of the dropout draws, picked at run time */
#endif

/* Philox4x32-10: ten rounds, two multipliers, the key bumped by two Weyl increments per round */
enum { PHILOX_ROUNDS = 10 };
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* The rounds on counter (c0..c3) with key (k0, k1), in place. */
static inline __attribute__((always_inline)) void philox_rounds(uint32_t *c0, uint32_t *c1, uint32_t *c2,
                                                                uint32_t *c3, uint32_t k0, uint32_t k1) {
#pragma GCC unroll 10
  for (int round = 0; round < PHILOX_ROUNDS; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * *c0, p1 = (uint64_t)PHILOX_M1 * *c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ *c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ *c3 ^ k1;
    *c1 = (uint32_t)p1;
    *c3 = (uint32_t)p0;
    *c0 = n0;
    *c2 = n2;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
}

void philox4x32(const uint32_t ctr_in[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  philox_rounds(&c0, &c1, &c2, &c3, key[0], key[1]);
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static void block(uint64_t seed, uint64_t stream, uint64_t blk, uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  philox4x32(ctr, key, out);
}

void rng_init(Rng *r, uint64_t seed, uint64_t stream) {
  r->seed = seed;
  r->stream = stream;
  r->pos = 0;
}

uint32_t rng_u32(Rng *r) {
  uint32_t out[4];
  block(r->seed, r->stream, r->pos >> 2, out);
  return out[r->pos++ & 3];
}

float rng_uniform(Rng *r) { return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float rng_normal(Rng *r, float std) {
  double u1 = ((double)(rng_u32(r) >> 8) + 1.0) / 16777217.0; /* (0, 1) */
  double u2 = (double)(rng_u32(r) >> 8) / 16777216.0;
  return (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint32_t rng_below(Rng *r, uint32_t n) {
  uint32_t limit = UINT32_MAX - UINT32_MAX % n;
  uint32_t x;
  do x = rng_u32(r);
  while (x >= limit);
  return x % n;
}

void rng_shuffle(Rng *r, int *a, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)rng_below(r, (uint32_t)i + 1);
    int t = a[i]; a[i] = a[j]; a[j] = t;
  }
}

static uint32_t drop_threshold(float p) {
  double t = (double)p * 4294967296.0;
  return (uint32_t)(t > 4294967295.0 ? 4294967295.0 : t);
}

void rng_dropout_mask(float *mask, long n, float p, uint64_t seed, uint64_t stream) {
  const float scale = 1.0f / (1.0f - p);
  const uint32_t thresh = drop_threshold(p);
  long nblk = (n + 3) / 4;
#pragma omp parallel for schedule(static)
  for (long b = 0; b < nblk; b++) {
    uint32_t out[4];
    block(seed, stream, (uint64_t)b, out);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) mask[b * 4 + j] = out[j] >= thresh ? scale : 0.0f;
  }
}

/* Blocks [b0, b0 + nb) of (seed, stream), all four words of each present in keep, one block
   at a time: the reference the vector versions below must match byte for byte. */
static void keep_blocks_plain(uint8_t *keep, uint64_t b0, long nb, uint32_t thresh, uint64_t seed,
                              uint64_t stream) {
  for (long i = 0; i < nb; i++) {
    uint32_t w[4];
    block(seed, stream, b0 + (uint64_t)i, w);
    for (int j = 0; j < 4; j++) keep[4 * i + j] = w[j] >= thresh;
  }
}

#ifdef RNG_X86
/* Each round's key words from the seed, as philox_rounds steps them */
static void round_keys(uint64_t seed, uint32_t k0[PHILOX_ROUNDS], uint32_t k1[PHILOX_ROUNDS]) {
  k0[0] = (uint32_t)seed;
  k1[0] = (uint32_t)(seed >> 32);
  for (int r = 1; r < PHILOX_ROUNDS; r++) {
    k0[r] = k0[r - 1] + PHILOX_W0;
    k1[r] = k1[r - 1] + PHILOX_W1;
  }
}

/* Philox on 16 (AVX-512) or 8 (AVX2) blocks at once, one block per 32-bit lane: the 32 x 32 ->
   64-bit products are vpmuludq on the even lanes and on the odd lanes shifted down, their
   high and low halves blended back into lanes; the four words are compared with the threshold
   and packed into one 32-bit lane each (bytes 4i..4i+3 of keep, little-endian). Integer
   arithmetic only: the same bytes as keep_blocks_plain. The caller keeps the block counter's
   low word from wrapping within a call. */

__attribute__((target("avx512f"))) static inline __m512i mul_hilo16(__m512i a, __m512i m, __m512i *lo) {
  const __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

__attribute__((target("avx512f"))) static long keep_blocks16(uint8_t *keep, uint64_t b0, long nb, uint32_t thresh,
                                                             uint64_t seed, uint64_t stream) {
  const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
  const __m512i th = _mm512_set1_epi32((int)thresh), one = _mm512_set1_epi32(1);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i hi_ctr = _mm512_set1_epi32((int)(uint32_t)(b0 >> 32));
  const __m512i s0 = _mm512_set1_epi32((int)(uint32_t)stream), s1 = _mm512_set1_epi32((int)(uint32_t)(stream >> 32));
  uint32_t key0[PHILOX_ROUNDS], key1[PHILOX_ROUNDS];
  round_keys(seed, key0, key1);
  __m512i k0[PHILOX_ROUNDS], k1[PHILOX_ROUNDS];
  for (int r = 0; r < PHILOX_ROUNDS; r++) {
    k0[r] = _mm512_set1_epi32((int)key0[r]);
    k1[r] = _mm512_set1_epi32((int)key1[r]);
  }
  long i = 0;
  for (; i + 16 <= nb; i += 16) {
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)(b0 + (uint64_t)i)), lane);
    __m512i c1 = hi_ctr, c2 = s0, c3 = s1;
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
      __m512i lo0, lo2;
      const __m512i hi0 = mul_hilo16(c0, m0, &lo0), hi2 = mul_hilo16(c2, m1, &lo2);
      c0 = _mm512_ternarylogic_epi32(hi2, c1, k0[r], 0x96); /* three-way xor */
      c2 = _mm512_ternarylogic_epi32(hi0, c3, k1[r], 0x96);
      c1 = lo2;
      c3 = lo0;
    }
    __m512i v = _mm512_maskz_mov_epi32(_mm512_cmpge_epu32_mask(c0, th), one);
    v = _mm512_mask_mov_epi32(v, _mm512_cmpge_epu32_mask(c1, th), _mm512_or_si512(v, _mm512_slli_epi32(one, 8)));
    v = _mm512_mask_mov_epi32(v, _mm512_cmpge_epu32_mask(c2, th), _mm512_or_si512(v, _mm512_slli_epi32(one, 16)));
    v = _mm512_mask_mov_epi32(v, _mm512_cmpge_epu32_mask(c3, th), _mm512_or_si512(v, _mm512_slli_epi32(one, 24)));
    _mm512_storeu_si512(keep + 4 * i, v);
  }
  return i;
}

__attribute__((target("avx2"))) static inline __m256i mul_hilo8(__m256i a, __m256i m, __m256i *lo) {
  const __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* bit where c >= th (unsigned), else 0 */
__attribute__((target("avx2"))) static inline __m256i at_least8(__m256i c, __m256i th, int bit) {
  return _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(c, th), c), _mm256_set1_epi32(bit));
}

__attribute__((target("avx2"))) static long keep_blocks8(uint8_t *keep, uint64_t b0, long nb, uint32_t thresh,
                                                         uint64_t seed, uint64_t stream) {
  const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0), m1 = _mm256_set1_epi32((int)PHILOX_M1);
  const __m256i th = _mm256_set1_epi32((int)thresh), lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i hi_ctr = _mm256_set1_epi32((int)(uint32_t)(b0 >> 32));
  const __m256i s0 = _mm256_set1_epi32((int)(uint32_t)stream), s1 = _mm256_set1_epi32((int)(uint32_t)(stream >> 32));
  uint32_t key0[PHILOX_ROUNDS], key1[PHILOX_ROUNDS];
  round_keys(seed, key0, key1);
  __m256i k0[PHILOX_ROUNDS], k1[PHILOX_ROUNDS];
  for (int r = 0; r < PHILOX_ROUNDS; r++) {
    k0[r] = _mm256_set1_epi32((int)key0[r]);
    k1[r] = _mm256_set1_epi32((int)key1[r]);
  }
  long i = 0;
  for (; i + 8 <= nb; i += 8) {
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)(b0 + (uint64_t)i)), lane);
    __m256i c1 = hi_ctr, c2 = s0, c3 = s1;
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
      __m256i lo0, lo2;
      const __m256i hi0 = mul_hilo8(c0, m0, &lo0), hi2 = mul_hilo8(c2, m1, &lo2);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi2, c1), k0[r]);
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1[r]);
      c1 = lo2;
      c3 = lo0;
    }
    const __m256i v = _mm256_or_si256(_mm256_or_si256(at_least8(c0, th, 1), at_least8(c1, th, 1 << 8)),
                                      _mm256_or_si256(at_least8(c2, th, 1 << 16), at_least8(c3, th, 1 << 24)));
    _mm256_storeu_si256((__m256i *)(keep + 4 * i), v);
  }
  return i;
}
#endif

RngKeepImpl rng_keep_best(void) {
#ifdef RNG_X86
#ifndef BS_NO_AVX512_CLONES
  if (__builtin_cpu_supports("avx512f")) return RNG_KEEP_AVX512;
#endif
  if (__builtin_cpu_supports("avx2")) return RNG_KEEP_AVX2;
#endif
  return RNG_KEEP_PLAIN;
}

int rng_keep_supported(RngKeepImpl impl) {
#ifdef RNG_X86
  if (impl == RNG_KEEP_AVX512) return __builtin_cpu_supports("avx512f");
  if (impl == RNG_KEEP_AVX2) return __builtin_cpu_supports("avx2");
#endif
  return impl == RNG_KEEP_PLAIN;
}

void rng_keep_blocks(RngKeepImpl impl, uint8_t *keep, uint64_t b0, long nb, float p, uint64_t seed,
                     uint64_t stream) {
  const uint32_t thresh = drop_threshold(p);
  long done = 0;
#ifdef RNG_X86
  /* the vector versions add lane numbers to the counter's low word only */
  if ((uint64_t)(uint32_t)b0 + (uint64_t)nb <= ((uint64_t)1 << 32)) {
    if (impl == RNG_KEEP_AVX512) done = keep_blocks16(keep, b0, nb, thresh, seed, stream);
    else if (impl == RNG_KEEP_AVX2) done = keep_blocks8(keep, b0, nb, thresh, seed, stream);
  }
#endif
  keep_blocks_plain(keep + 4 * done, b0 + (uint64_t)done, nb - done, thresh, seed, stream);
}

void rng_dropout_keep(uint8_t *keep, long n, float p, uint64_t seed, uint64_t stream) {
  rng_dropout_keep_by(rng_keep_best(), keep, n, p, seed, stream);
}

void rng_dropout_keep_by(RngKeepImpl impl, uint8_t *keep, long n, float p, uint64_t seed, uint64_t stream) {
  enum { SPAN = 1024 }; /* blocks per task */
  const long full = n / 4;
#pragma omp parallel for schedule(static)
  for (long b = 0; b < full; b += SPAN)
    rng_keep_blocks(impl, keep + 4 * b, (uint64_t)b, full - b < SPAN ? full - b : SPAN, p, seed, stream);
  if (n > 4 * full) { /* the last, partial block */
    uint8_t last[4];
    rng_keep_blocks(RNG_KEEP_PLAIN, last, (uint64_t)full, 1, p, seed, stream);
    memcpy(keep + 4 * full, last, (size_t)(n - 4 * full));
  }
}

void rng_dropout_keep_rows(uint8_t *keep, long rows, long width, long stride, float p, uint64_t seed,
                           uint64_t stream) {
  const uint32_t thresh = drop_threshold(p);
#pragma omp parallel for schedule(static)
  for (long r = 0; r < rows; r++) {
    const long first = r * stride;
    uint8_t *out = keep + r * width;
    for (long i = first - first % 4; i < first + width; i += 4) {
      uint32_t w[4];
      block(seed, stream, (uint64_t)(i / 4), w);
      for (int j = 0; j < 4; j++)
        if (i + j >= first && i + j < first + width) out[i + j - first] = w[j] >= thresh;
    }
  }
}

double rng_uniform53(Rng *r) {
  uint32_t a = rng_u32(r) >> 5, b = rng_u32(r) >> 6; /* 27 + 26 bits */
  return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}
