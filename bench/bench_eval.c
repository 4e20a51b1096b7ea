/* Benchmark (not a test): evaluation throughput of a config's first run, the dev set as a sweep
   evaluates it (longest-first batches, dynamic padding, no dropout), best of REPEATS passes.
   Writes the token lengths in batch order to LENGTHS_OUT, so that bench_eval_torch.py runs the
   very same batches.

   usage: bench_eval CONFIG.json THREADS BATCH REPEATS LENGTHS_OUT   (one line of key=value) */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "jobs/job.h"
#include "src/clock.h"
#include "src/machine.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: bench_eval CONFIG.json THREADS BATCH REPEATS LENGTHS_OUT\n");
    return 2;
  }
  int threads = atoi(argv[2]), batch = atoi(argv[3]), repeats = atoi(argv[4]);
  omp_set_num_threads(threads);
  Err e;
  RunConfig cfg;
  Job j;
  if (runconfig_load(&cfg, argv[1], &e)) { fprintf(stderr, "bench_eval: %s\n", e.msg); return 1; }
  cfg.eval_batch_size = batch;
  if (job_open(&j, &cfg, &e)) { fprintf(stderr, "bench_eval: %s\n", e.msg); return 1; }
  FILE *f = fopen(argv[5], "w");
  if (!f) { fprintf(stderr, "bench_eval: cannot write %s\n", argv[5]); return 1; }
  long tokens = 0;
  for (int i = 0; i < j.dev.n; i++) {
    fprintf(f, "%d\n", j.dev.len[j.dev_order[i]]);
    tokens += j.dev.len[j.dev_order[i]];
  }
  if (fclose(f)) { fprintf(stderr, "bench_eval: write error on %s\n", argv[5]); return 1; }
  EvalMetrics m;
  double best = 1e30;
  for (int r = 0; r <= repeats; r++) { /* pass 0 warms up */
    double t0 = clock_seconds();
    job_eval(&j, &m);
    double dt = clock_seconds() - t0;
    if (r > 0 && dt < best) best = dt;
  }
  MachineInfo mi;
  machine_describe(&mi);
  machine_one_word(&mi);
  printf("impl=bertsweep cpu=%s blas=%s layers=%d hidden=%d examples=%d tokens=%ld batch=%d threads=%d eval_s=%.4f "
         "examples_per_s=%.1f accuracy=%.4f\n",
         mi.cpu, mi.blas, j.m.cfg.layers, j.m.cfg.hidden, j.dev.n, tokens, batch, threads, best, j.dev.n / best,
         m.v[DS_ACC]);
  job_close(&j);
  return 0;
}
