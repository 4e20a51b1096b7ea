/* Counter-based RNG: Philox4x32-10 (Salmon et al., SC'11, "Random123").
   Every random number is a pure function of (seed, stream, counter), so a run's
   randomness depends only on its config and step, never on which rank runs it,
   and resuming needs no RNG state beyond the step number. */
#ifndef BS_RNG_H
#define BS_RNG_H
#include <stdint.h>

void philox4x32(const uint32_t ctr_in[4], const uint32_t key[2], uint32_t out[4]);

typedef struct {
  uint64_t seed;   /* key */
  uint64_t stream; /* upper half of the counter */
  uint64_t pos;    /* index of the next 32-bit word */
} Rng;

void rng_init(Rng *r, uint64_t seed, uint64_t stream);
uint32_t rng_u32(Rng *r);
float rng_uniform(Rng *r);               /* [0, 1) with 24 random bits */
double rng_uniform53(Rng *r);            /* [0, 1) with 53 random bits */
float rng_normal(Rng *r, float std);     /* Box-Muller */
uint32_t rng_below(Rng *r, uint32_t n);  /* unbiased in [0, n) */
void rng_shuffle(Rng *r, int *a, int n); /* Fisher-Yates */

/* Fills mask[i] with 0 or 1/(1-p) (keep probability 1-p), element i drawn from word i of
   (seed, stream): independent of thread count. */
void rng_dropout_mask(float *mask, long n, float p, uint64_t seed, uint64_t stream);
/* The same draws as one byte each: keep[i] = 1 exactly where mask[i] would be 1/(1-p). */
void rng_dropout_keep(uint8_t *keep, long n, float p, uint64_t seed, uint64_t stream);
/* The same bytes for blocks [b0, b0 + nb) of four words each (keep[4i..4i+3] from block b0 + i),
   by one implementation: rng_dropout_keep uses the best the CPU has; tests compare them all. */
typedef enum { RNG_KEEP_PLAIN, RNG_KEEP_AVX2, RNG_KEEP_AVX512 } RngKeepImpl;
RngKeepImpl rng_keep_best(void);
int rng_keep_supported(RngKeepImpl impl);
void rng_keep_blocks(RngKeepImpl impl, uint8_t *keep, uint64_t b0, long nb, float p, uint64_t seed,
                     uint64_t stream);
/* rng_dropout_keep by the implementation named (the benchmark times each) */
void rng_dropout_keep_by(RngKeepImpl impl, uint8_t *keep, long n, float p, uint64_t seed, uint64_t stream);
/* Rows of that mask alone: keep[r*width + j] = the full mask's element r*stride + j, for r in
   [0, rows) and j in [0, width), without drawing the rest. */
void rng_dropout_keep_rows(uint8_t *keep, long rows, long width, long stride, float p, uint64_t seed,
                           uint64_t stream);

/* Streams: disjoint ranges of the 64-bit stream id. */
enum {
  STREAM_INIT = 1,      /* classifier and re-initialised weights */
  STREAM_SUBSAMPLE = 2, /* few-sample train subset (keyed by data seed) */
  STREAM_DEVSUB = 3,    /* dev subset (keyed by data seed) */
};
#define STREAM_SHUFFLE(epoch) ((1ull << 32) | (uint64_t)(epoch))
#define STREAM_DROPOUT(step, site) ((2ull << 40) | ((uint64_t)(step) << 12) | (uint64_t)(site))
#define STREAM_MIXOUT(step, site) ((3ull << 40) | ((uint64_t)(step) << 12) | (uint64_t)(site))
#define STREAM_SWEEP_RANDOM(key) ((4ull << 40) | (uint64_t)(key)) /* sweep.random's k-th key */
#define STREAM_MASKING(step) ((5ull << 40) | (uint64_t)(step))  /* pre-training masks of update step */

#endif
