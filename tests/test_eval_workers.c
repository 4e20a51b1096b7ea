/* Evaluation gives the same numbers however it is shared out: batches side by side on
   workers of one thread each, or one batch at a time with every thread in its operations, at
   1 or 2 threads. The loss (a sum over every example's logits) must agree bit for bit, and so
   must every prediction; the metrics must also equal a plain loop over the training forward
   (dropout off) to float accuracy. argv[1]: the tiny fixture's run config. */
#include <omp.h>
#include <string.h>
#include "jobs/job.h"
#include "src/metrics.h"
#include "src/ops.h"
#include "tests/check.h"

/* Accuracy and mean loss of the dev set through bert_forward, one example at a time. */
static void eval_by_training_forward(Job *j, double *acc, double *loss) {
  const Encoded *x = &j->dev;
  const int C = j->m.cfg.num_labels;
  int right = 0;
  double sum = 0.0;
  for (int i = 0; i < x->n; i++) {
    const int T = x->len[i];
    Batch b = {1, T, x->ids + (long)i * x->T, x->types + (long)i * x->T, x->mask + (long)i * x->T, x->label + i};
    Mode off = {0, 0, 0};
    sum += bert_forward(&j->m, &j->acts, &b, &off);
    right += metrics_argmax(j->acts.logits, C) == x->label[i];
  }
  *acc = (double)right / x->n;
  *loss = sum / x->n;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  Err e;
  RunConfig cfg;
  if (runconfig_load(&cfg, argv[1], &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  cfg.eval_batch_size = 8; /* the fixture's 90 dev examples: 12 batches of varied lengths */
  EvalMetrics ref = {0}, got;
  struct { int threads, single_worker; } ways[] = {{1, 0}, {2, 0}, {2, 1}};
  for (int w = 0; w < 3; w++) {
    omp_set_num_threads(ways[w].threads);
    Job j;
    if (job_open(&j, &cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
    CHECK(j.eval_workers == (ways[w].threads == 2 ? 2 : 1), "%d threads: %d evaluation workers", ways[w].threads,
          j.eval_workers);
    if (ways[w].single_worker) j.eval_workers = 1; /* the other way: every thread inside one batch */
    StepMetrics sm;
    for (int s = 0; s < 6; s++) job_step(&j, &sm); /* logits away from the initial ones */
    job_eval(&j, &got);
    if (w == 0) {
      ref = got;
      double acc, loss;
      eval_by_training_forward(&j, &acc, &loss);
      CHECK(acc == got.v[DS_ACC], "accuracy %.6f, the training forward's %.6f", got.v[DS_ACC], acc);
      CHECK(fabs(loss - got.v[DS_ELOSS]) < 1e-5 * fabs(loss), "loss %.9f, the training forward's %.9f", got.v[DS_ELOSS], loss);
      CHECK(got.v[DS_ACC] > 0.0 && got.v[DS_ELOSS] > 0.0, "accuracy %.3f, loss %.3f", got.v[DS_ACC], got.v[DS_ELOSS]);
    } else {
      CHECK(memcmp(&got.v[DS_ELOSS], &ref.v[DS_ELOSS], sizeof ref.v[DS_ELOSS]) == 0, "%d threads%s: loss %.17g, one thread %.17g",
            ways[w].threads, ways[w].single_worker ? " (one worker)" : "", got.v[DS_ELOSS], ref.v[DS_ELOSS]);
      CHECK(got.v[DS_ACC] == ref.v[DS_ACC] && got.v[DS_F1] == ref.v[DS_F1], "%d threads: accuracy %.6f vs %.6f",
            ways[w].threads, got.v[DS_ACC], ref.v[DS_ACC]);
    }
    job_close(&j);
  }
  return check_done();
}
