/* Benchmark (not a test): the dropout masks of one training step (batch 16 x 128) drawn by
   each implementation this CPU has (src/rng.c: one Philox block at a time, AVX2, AVX-512),
   at the thread count given: the embeddings' mask and, for every layer but the last (which
   draws its [CLS] rows alone), the attention probabilities' and the two hidden masks, one call
   per site as bert_forward makes them. Prints one key=value line per model and
   implementation, with the speed ratio to the one-block-at-a-time code.

   usage: bench_masks [threads] [repeats]   (best of repeats) */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "src/clock.h"
#include "src/machine.h"
#include "src/rng.h"

/* every site's mask of one step into keep (room for all of them), by impl; seconds taken */
static double draw_step(RngKeepImpl impl, uint8_t *keep, int layers, long attn, long hidden) {
  const double t0 = clock_seconds();
  long at = 0;
  rng_dropout_keep_by(impl, keep, hidden, 0.1f, 7, STREAM_DROPOUT(1, 0));
  at += hidden;
  for (int l = 0; l < layers - 1; l++) {
    const long sizes[3] = {attn, hidden, hidden};
    for (int s = 0; s < 3; s++) {
      rng_dropout_keep_by(impl, keep + at, sizes[s], 0.1f, 7, STREAM_DROPOUT(1, 3 * l + s + 1));
      at += sizes[s];
    }
  }
  return clock_seconds() - t0;
}

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads(), repeats = argc > 2 ? atoi(argv[2]) : 10;
  if (threads < 1 || repeats < 1) {
    fprintf(stderr, "usage: bench_masks [threads] [repeats]\n");
    return 2;
  }
  omp_set_num_threads(threads);
  MachineInfo mi;
  machine_describe(&mi);
  machine_one_word(&mi);
  static const char *const impls[] = {"plain", "avx2", "avx512"};
  const struct { const char *name; int layers, hidden, heads; } models[2] = {{"small", 4, 256, 4}, {"base", 12, 768, 12}};
  const long B = 16, T = 128;
  for (int m = 0; m < 2; m++) {
    const long attn = B * models[m].heads * T * T, hidden = B * T * models[m].hidden;
    const long bytes = hidden + (models[m].layers - 1) * (attn + 2 * hidden);
    uint8_t *keep = malloc((size_t)bytes);
    if (!keep) {
      fprintf(stderr, "bench_masks: out of memory\n");
      return 1;
    }
    double plain = 0.0;
    for (int i = RNG_KEEP_PLAIN; i <= RNG_KEEP_AVX512; i++) {
      if (!rng_keep_supported((RngKeepImpl)i)) continue;
      double best = 1e30;
      for (int r = 0; r <= repeats; r++) { /* the first warms up (and faults the pages in) */
        const double dt = draw_step((RngKeepImpl)i, keep, models[m].layers, attn, hidden);
        if (r > 0 && dt < best) best = dt;
      }
      if (i == RNG_KEEP_PLAIN) plain = best;
      printf("impl=bertsweep cpu=%s model=%s masks=%s threads=%d bytes=%ld ms=%.2f speedup_vs_plain=%.2f%s\n", mi.cpu,
             models[m].name, impls[i], threads, bytes, best * 1e3, plain / best,
             (RngKeepImpl)i == rng_keep_best() ? " (the one training uses)" : "");
    }
    free(keep);
  }
  return 0;
}
