/* Re-initialisation (Zhang et al.'s code): the pooler and the top k layers are drawn afresh
   (Linear ~ N(0, initializer_range), biases 0, LayerNorm 1/0), nothing else changes, the head is
   fresh and the same for the same seed. argv[1]: the tiny fixture's run config. */
#include <string.h>
#include "jobs/job.h"
#include "tests/check.h"

static double stdev(const float *x, size_t n) {
  double s = 0, ss = 0;
  for (size_t i = 0; i < n; i++) { s += x[i]; ss += (double)x[i] * x[i]; }
  return sqrt(ss / n - (s / n) * (s / n));
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  Err e;
  RunConfig cfg;
  if (runconfig_load(&cfg, argv[1], &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  Job base, re;
  if (job_open(&base, &cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  cfg.reinit_pooler = 1;
  cfg.reinit_top_layers = 1;
  if (job_open(&re, &cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  const Bert *a = &base.m, *b = &re.m;
  const int L = a->cfg.layers;
  for (int i = 0; i < a->ntensors; i++) {
    const ParamInfo *pi = &a->info[i];
    const float *x = a->params + pi->offset, *y = b->params + pi->offset;
    int same = memcmp(x, y, sizeof(float) * pi->numel) == 0;
    int reinit = pi->group == L || pi->group == L - 1;
    if (!reinit) {
      CHECK(same, "%s changed without being re-initialised", pi->name);
      continue;
    }
    if (pi->kind == KIND_WEIGHT) {
      double sd = stdev(y, pi->numel);
      CHECK(!same && fabs(sd - a->cfg.init_range) < 0.15 * a->cfg.init_range, "%s: std %.4f after re-init", pi->name, sd);
    } else {
      float want = pi->kind == KIND_NORM_W ? 1.0f : 0.0f;
      int ok = 1;
      for (size_t j = 0; j < pi->numel; j++) ok &= y[j] == want;
      CHECK(ok, "%s: not all %.0f after re-init", pi->name, want);
    }
  }
  const ParamInfo *cw = bert_find(a, "classifier.weight");
  CHECK(memcmp(a->params + cw->offset, b->params + cw->offset, sizeof(float) * cw->numel) == 0,
        "re-init moved the classifier's initialisation");
  CHECK(fabs(stdev(a->params + cw->offset, cw->numel) - a->cfg.init_range) < 0.3 * a->cfg.init_range,
        "classifier std %.4f", stdev(a->params + cw->offset, cw->numel));
  job_close(&base);
  job_close(&re);
  return check_done();
}
