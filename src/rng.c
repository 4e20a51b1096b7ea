#include <math.h>
#include "src/rng.h"
#include "src/simd.h"

/* The ten rounds of Philox4x32 on counter (c0..c3) with key (k0, k1), in place. */
static inline __attribute__((always_inline)) void philox_rounds(uint32_t *c0, uint32_t *c1, uint32_t *c2,
                                                                uint32_t *c3, uint32_t k0, uint32_t k1) {
#pragma GCC unroll 10
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * *c0, p1 = (uint64_t)0xCD9E8D57u * *c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ *c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ *c3 ^ k1;
    *c1 = (uint32_t)p1;
    *c3 = (uint32_t)p0;
    *c0 = n0;
    *c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
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

/* Blocks [b0, b0 + nb) of (seed, stream), all four words of each present in keep: Philox
   inlined and unrolled so that the compiler runs many blocks side by side in vector lanes. */
VECTOR_CLONES static void keep_blocks(uint8_t *keep, uint64_t b0, long nb, uint32_t thresh, uint64_t seed,
                                      uint64_t stream) {
  const uint32_t s0 = (uint32_t)stream, s1 = (uint32_t)(stream >> 32);
  const uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
  for (long i = 0; i < nb; i++) {
    uint64_t blk = b0 + (uint64_t)i;
    uint32_t c0 = (uint32_t)blk, c1 = (uint32_t)(blk >> 32), c2 = s0, c3 = s1;
    philox_rounds(&c0, &c1, &c2, &c3, key0, key1);
    keep[4 * i] = c0 >= thresh;
    keep[4 * i + 1] = c1 >= thresh;
    keep[4 * i + 2] = c2 >= thresh;
    keep[4 * i + 3] = c3 >= thresh;
  }
}

void rng_dropout_keep(uint8_t *keep, long n, float p, uint64_t seed, uint64_t stream) {
  const uint32_t thresh = drop_threshold(p);
  const long full = n / 4;
#pragma omp parallel for schedule(static)
  for (long b = 0; b < full; b += SIMD_SPAN / 4)
    keep_blocks(keep + 4 * b, (uint64_t)b, full - b < SIMD_SPAN / 4 ? full - b : SIMD_SPAN / 4, thresh, seed, stream);
  if (n > 4 * full) { /* the last, partial block */
    uint32_t out[4];
    block(seed, stream, (uint64_t)full, out);
    for (long j = 4 * full; j < n; j++) keep[j] = out[j - 4 * full] >= thresh;
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
