/* RNG and dropout: Philox known answers (Random123 kat_vectors), mask statistics, determinism
   for a fixed seed and independence of the thread count, and a finite-difference check that
   backward uses exactly the forward's dropout masks. argv[1]: a model dir from reference.py. */
#include <omp.h>
#include <string.h>
#include "io/hfmodel.h"
#include "src/ops.h"
#include "src/rng.h"
#include "tests/check.h"

static void kat(void) {
  struct { uint32_t ctr[4], key[2], want[4]; } v[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (int i = 0; i < 3; i++) {
    uint32_t out[4];
    philox4x32(v[i].ctr, v[i].key, out);
    CHECK(memcmp(out, v[i].want, sizeof out) == 0, "philox KAT %d: %08x %08x %08x %08x", i, out[0], out[1], out[2], out[3]);
  }
}

/* Every implementation of the byte masks the CPU can run (AVX-512, AVX2, one block at a time)
   against Philox itself: any start block, counts that are not multiples of the vector width,
   runs of blocks that end exactly where the counter's low word wraps and that cross it, keys
   and streams with high bits set, drop rates from 0 to 0.9. */
static void keep_impls(void) {
  static const char *const names[] = {"plain", "avx2", "avx512"};
  const uint64_t starts[] = {0, 5, 1000003, ((uint64_t)1 << 32) - 77, ((uint64_t)1 << 32) - 7, ((uint64_t)3 << 32) + 11};
  const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
  const uint64_t seed = 0x9E3779B97F4A7C15ull, stream = STREAM_DROPOUT(123456, 7);
  enum { NB = 77 };
  uint8_t got[4 * NB];
  for (int impl = RNG_KEEP_PLAIN; impl <= RNG_KEEP_AVX512; impl++) {
    if (!rng_keep_supported((RngKeepImpl)impl)) {
      printf("keep masks: this CPU has no %s; not checked\n", names[impl]);
      continue;
    }
    for (size_t s = 0; s < sizeof starts / sizeof *starts; s++)
      for (size_t q = 0; q < sizeof ps / sizeof *ps; q++)
        for (long nb = NB - 17; nb <= NB; nb += 17) {
          memset(got, 0xAB, sizeof got);
          rng_keep_blocks((RngKeepImpl)impl, got, starts[s], nb, ps[q], seed, stream);
          const uint32_t thresh = (uint32_t)((double)ps[q] * 4294967296.0);
          long diff = 0;
          for (long i = 0; i < nb; i++) {
            const uint64_t blk = starts[s] + (uint64_t)i;
            const uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
            const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
            uint32_t w[4];
            philox4x32(ctr, key, w);
            for (int j = 0; j < 4; j++) diff += got[4 * i + j] != (w[j] >= thresh);
          }
          for (long i = 4 * nb; i < 4 * NB; i++) diff += got[i] != 0xAB; /* nothing written past the end */
          CHECK(diff == 0, "%s keep masks, blocks [%llu, +%ld), p=%.1f: %ld bytes differ from Philox's", names[impl],
                (unsigned long long)starts[s], nb, ps[q], diff);
        }
  }
}

static void mask_stats(void) {
  const long n = 1000000;
  float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
  for (int p10 = 1; p10 <= 5; p10 += 4) {
    float p = p10 / 10.0f;
    omp_set_num_threads(1);
    rng_dropout_mask(a, n, p, 7, STREAM_DROPOUT(3, 5));
    omp_set_num_threads(2);
    rng_dropout_mask(b, n, p, 7, STREAM_DROPOUT(3, 5));
    CHECK(memcmp(a, b, sizeof(float) * n) == 0, "mask depends on the thread count");
    long kept = 0, bad = 0;
    for (long i = 0; i < n; i++) {
      kept += a[i] != 0.0f;
      bad += a[i] != 0.0f && a[i] != 1.0f / (1.0f - p);
    }
    double rate = (double)kept / n, sd = sqrt(p * (1 - p) / n);
    CHECK(fabs(rate - (1 - p)) < 5 * sd, "p=%.1f: keep rate %.5f, want %.5f +- %.5f", p, rate, 1 - p, 5 * sd);
    CHECK(bad == 0, "p=%.1f: %ld kept values are not 1/(1-p)", p, bad);
    rng_dropout_mask(b, n, p, 7, STREAM_DROPOUT(4, 5));
    long same = 0;
    for (long i = 0; i < n; i++) same += (a[i] != 0) == (b[i] != 0);
    CHECK(same < n - 1000, "masks of different steps agree on %ld of %ld", same, n);
    /* the byte masks the model uses: the same draws as the float masks, any length, any threads */
    for (long len = n - 3; len <= n; len++)
      for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        uint8_t *k = malloc((size_t)len);
        rng_dropout_keep(k, len, p, 7, STREAM_DROPOUT(3, 5));
        long diff = 0;
        for (long i = 0; i < len; i++) diff += k[i] != (a[i] != 0.0f);
        CHECK(diff == 0, "p=%.1f n=%ld %d threads: byte mask differs from the float mask at %ld places", p, len, th, diff);
        free(k);
      }
  }
  /* rows of a mask drawn alone (the [CLS] rows of the last layer), at odd offsets and widths */
  {
    enum { ROWS = 7, W = 13, STRIDE = 30 };
    uint8_t full[ROWS * STRIDE], rows[ROWS * W];
    rng_dropout_keep(full, ROWS * STRIDE, 0.3f, 9, STREAM_DROPOUT(2, 4));
    rng_dropout_keep_rows(rows, ROWS, W, STRIDE, 0.3f, 9, STREAM_DROPOUT(2, 4));
    int diff = 0;
    for (int r = 0; r < ROWS; r++) diff += memcmp(rows + r * W, full + r * STRIDE, W) != 0;
    CHECK(diff == 0, "rng_dropout_keep_rows: %d of %d rows differ from the full mask's", diff, ROWS);
  }
  free(a);
  free(b);
  Rng r;
  rng_init(&r, 1, 2);
  double s = 0, ss = 0;
  for (int i = 0; i < 200000; i++) {
    double x = rng_normal(&r, 0.02f);
    s += x;
    ss += x * x;
  }
  double mean = s / 200000, sd = sqrt(ss / 200000 - mean * mean);
  CHECK(fabs(mean) < 5 * 0.02 / sqrt(200000) && fabs(sd - 0.02) < 0.0003, "normal: mean %g sd %g", mean, sd);
}

/* The loss through bert_encode (every row of every layer), then pooler, dropout and
   classifier as bert_forward applies them (dropout site 3L+1). */
static float full_path_loss(Bert *m, Acts *a, const Batch *b, const Mode *mode) {
  const int H = m->cfg.hidden, C = m->cfg.num_labels, L = m->cfg.layers;
  const float *x = bert_encode(m, a, b, mode);
  float cls[16 * 128], pooled[16 * 128], logits[16 * 8];
  uint8_t keep[16 * 128];
  BS_ASSERT(b->B <= 16 && H <= 128 && C <= 8);
  for (int i = 0; i < b->B; i++) memcpy(cls + i * H, x + (long)i * b->T * H, sizeof(float) * H);
  linear_fwd(pooled, cls, m->p.pooler.w, m->p.pooler.b, b->B, H, H);
  tanh_fwd(pooled, pooled, (long)b->B * H);
  const float p = m->cfg.classifier_dropout;
  rng_dropout_keep(keep, (long)b->B * H, p, mode->seed, STREAM_DROPOUT(mode->step, 3 * L + 1));
  dropout_apply(pooled, pooled, keep, 1.0f / (1.0f - p), (long)b->B * H);
  linear_fwd(logits, pooled, m->p.classifier.w, m->p.classifier.b, b->B, H, C);
  return cross_entropy(NULL, NULL, logits, b->labels, b->B, C);
}

int main(int argc, char **argv) {
  kat();
  keep_impls();
  mask_stats();
  if (argc < 2) return check_done();
  Err e;
  HfDir hf;
  Bert m;
  int head, pooler;
  if (hf_open(&hf, argv[1], &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  BertConfig c = hf.cfg;
  c.hidden_dropout = c.attn_dropout = c.classifier_dropout = 0.3f;
  if (bert_alloc(&m, &c, &e) || hf_load_weights(&hf, &m, &head, &pooler, &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  enum { B = 3, T = 8 };
  int ids[B * T], types[B * T], mask[B * T], labels[B] = {0, 1, 2};
  for (int i = 0; i < B * T; i++) {
    ids[i] = 5 + (i * 37) % 90;
    types[i] = (i % T) > 4;
    mask[i] = !(i / T == 1 && i % T > 5);
  }
  Batch b = {B, T, ids, types, mask, labels};
  Acts a;
  if (acts_alloc(&a, &c, B, T, &e)) return 2;
  Mode m1 = {1, 11, 5}, m2 = {1, 11, 6};
  float l1 = bert_forward(&m, &a, &b, &m1), l1b = bert_forward(&m, &a, &b, &m1);
  float l2 = bert_forward(&m, &a, &b, &m2), l0 = bert_forward(&m, &a, &b, NULL);
  CHECK(l1 == l1b, "same seed and step gave losses %.9g and %.9g", l1, l1b);
  CHECK(l1 != l2 && l1 != l0, "dropout had no effect (%.6g %.6g %.6g)", l1, l2, l0);

  /* the classifier's forward computes the last layer for [CLS] only: its loss must equal the
     one every row gives (bert_encode, then the head by hand), under the same dropout masks */
  CHECK(fabs(l1 - full_path_loss(&m, &a, &b, &m1)) <= 2e-6f * fabs(l1), "[CLS]-only last layer: loss %.9g, %.9g "
        "with every row computed", l1, full_path_loss(&m, &a, &b, &m1));

  /* d loss / d p by central differences (double-step float32) vs backward, dropout on. */
  bert_zero_grad(&m);
  bert_forward(&m, &a, &b, &m1);
  bert_backward(&m, &a, &b);
  const char *names[] = {"encoder.layer.1.attention.self.query.weight", "encoder.layer.1.attention.self.key.weight",
                         "encoder.layer.1.attention.self.value.bias", "encoder.layer.1.output.dense.weight",
                         "encoder.layer.0.attention.self.key.weight", "encoder.layer.0.output.dense.weight",
                         "pooler.dense.weight", "embeddings.LayerNorm.weight"};
  for (int t = 0; t < 8; t++) {
    const ParamInfo *pi = bert_find(&m, names[t]);
    double worst = 0;
    for (int k = 0; k < 5; k++) {
      size_t i = pi->offset + (size_t)(k * 977) % pi->numel;
      float keep = m.params[i], h = 1e-2f;
      m.params[i] = keep + h;
      double lp = bert_forward(&m, &a, &b, &m1);
      m.params[i] = keep - h;
      double lm = bert_forward(&m, &a, &b, &m1);
      m.params[i] = keep;
      double fd = (lp - lm) / (2 * h), an = m.grads[i];
      double err = fabs(fd - an) / (fabs(an) + 1e-3);
      worst = err > worst ? err : worst;
    }
    CHECK(worst < 0.05, "%s: finite differences disagree with backward under dropout (%.3g)", names[t], worst);
  }
  acts_free(&a);
  bert_free(&m);
  hf_close(&hf);
  return check_done();
}
