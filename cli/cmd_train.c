/* `bertsweep train CONFIG`: one fine-tuning run through the same driver as a sweep's runs
   (jobs/run.h), recorded to stdout, a TSV of every metric (--metrics) and a model directory
   (--save). */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"
#include "jobs/run.h"
#include "src/clock.h"
#include "src/machine.h"

static const char *TRAIN_USAGE = "usage: bertsweep train CONFIG.json [--save DIR] [--metrics FILE.tsv]";

typedef struct {
  const char *config, *save;
  FILE *tsv;       /* --metrics, or NULL */
  int line_open;   /* a step's line waits for its evaluation */
  double t0;
} TrainSink;

/* Ends the current step's line (stdout and TSV). */
static void end_line(TrainSink *t) {
  if (!t->line_open) return;
  printf("\n");
  if (t->tsv) fprintf(t->tsv, "\n");
  fflush(stdout);
  t->line_open = 0;
}

static int train_opened(void *ctx, const Job *j, int restored, Err *e) {
  TrainSink *t = ctx;
  (void)restored;
  (void)e;
  if (j->pooler_missing)
    fprintf(stderr, "bertsweep: warning: %s has no pooler (bert.pooler.dense.*): initialised as transformers does "
                    "(normal, std initializer_range; bias 0)\n", j->cfg.model_path);
  char advice[4800];
  if (job_unk_advice(j, advice, sizeof advice)) fprintf(stderr, "bertsweep: warning: %s\n", advice);
  if (machine_blas_advice(advice, sizeof advice)) fprintf(stderr, "bertsweep: warning: %s\n", advice);
  printf("# run: %d train / %d dev examples, %d labels, %ld steps (%d per epoch), warmup %ld, %d threads\n",
         j->train.n, j->dev.n, j->labels.n, j->total_steps, j->steps_per_epoch, j->warmup_steps, omp_get_max_threads());
  printf("# baselines (dev accuracy): majority class %.4f, bag-of-words %.4f\n", j->majority_acc, j->bow_acc);
  printf("%-8s %-10s %-10s %-10s %s\n", "step", "loss", "lr", "grad_norm", "dev");
  if (t->tsv) { /* "step", then every metric of the results file that has a column of its own */
    fprintf(t->tsv, "step");
    for (int k = 0; k < NMETRICS; k++)
      if (strcmp(RESULTS_METRICS[k].column, "step") != 0) fprintf(t->tsv, "\t%s", RESULTS_METRICS[k].column);
    fprintf(t->tsv, "\n");
  }
  t->t0 = clock_seconds();
  return 0;
}

/* One shape's metrics as TSV fields; %.9g round-trips float32 exactly (tests compare them
   with the results file bit for bit). */
static void tsv_fields(FILE *f, ShapeRule shape, const Metrics *m) {
  for (int k = 0; f && k < NMETRICS; k++)
    if (RESULTS_METRICS[k].shape == shape && strcmp(RESULTS_METRICS[k].column, "step") != 0)
      fprintf(f, "\t%.9g", (float)m->v[k]);
}

static int train_step(void *ctx, const Job *j, const StepMetrics *m, Err *e) {
  TrainSink *t = ctx;
  (void)e;
  end_line(t);
  printf("%-8ld %-10.6f %-10.3e %-10.4f", j->step, m->v[DS_LOSS], m->v[DS_LR], m->v[DS_GNORM]);
  if (t->tsv) fprintf(t->tsv, "%ld", j->step);
  tsv_fields(t->tsv, SHAPE_RUN_STEP, m);
  t->line_open = 1;
  return 0;
}

static int train_eval(void *ctx, const Job *j, const EvalMetrics *m, Err *e) {
  TrainSink *t = ctx;
  (void)e;
  printf(" acc=%.4f loss=%.4f macro_f1=%.4f%s", m->v[DS_ACC], m->v[DS_ELOSS], m->v[DS_F1], j->since_best ? "" : " (best)");
  tsv_fields(t->tsv, SHAPE_RUN_EVAL, m);
  return 0;
}

static int train_end(void *ctx, const Job *j, RunEnd how, const char *why, Err *e) {
  TrainSink *t = ctx;
  (void)why;
  end_line(t);
  if (how == END_DIVERGED) return errf(e, "%s: diverged at step %ld (non-finite loss or gradient norm)", t->config, j->step);
  if (how != END_DONE) return 0;
  if (j->step < j->total_steps)
    printf("# early stopping at step %ld of %ld: no better dev accuracy in %d evaluations (best %.4f at step %ld)\n",
           j->step, j->total_steps, j->cfg.patience, j->best_acc, j->best_step);
  double secs = clock_seconds() - t->t0;
  printf("# %.1f s, %.2f steps/s\n", secs, (double)j->step / (secs + 1e-9));
  if (t->save && job_save_model(j, t->save, e)) return -1;
  if (t->save) printf("# saved to %s (config.json, model.safetensors, vocab.txt, tokenizer_config.json)\n", t->save);
  return 0;
}

int cmd_train(int argc, char **argv, Err *e) {
  const char *config = NULL, *save = NULL, *metrics = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--save") == 0 && i + 1 < argc) save = argv[++i];
    else if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc) metrics = argv[++i];
    else if (strcmp(argv[i], "--save") == 0) return usage_error(e, "train", "--save needs a directory");
    else if (strcmp(argv[i], "--metrics") == 0) return usage_error(e, "train", "--metrics needs a file name");
    else if (argv[i][0] == '-') return usage_error(e, "train", "unknown option %s", argv[i]);
    else config = argv[i];
  }
  if (!config) return usage_error(e, "train", "which config? (%s)", TRAIN_USAGE);
  RunConfig cfg;
  if (runconfig_load(&cfg, config, e)) return EXIT_ERROR;
  if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
  TrainSink t = {.config = config, .save = save};
  if (metrics && !(t.tsv = fopen(metrics, "w"))) return errf(e, "%s: cannot create: %s", metrics, strerror(errno)), EXIT_ERROR;
  const RunSink sink = {.ctx = &t, .id = -1, .opened = train_opened, .step = train_step, .eval = train_eval,
                        .end = train_end};
  RunEnd how = run_drive(&cfg, &sink, e);
  int code = how == END_DONE ? EXIT_OK : EXIT_ERROR;
  if (t.tsv && fclose(t.tsv) != 0 && code == EXIT_OK) code = (errf(e, "%s: write error", metrics), EXIT_ERROR);
  if (how == END_DIVERGED && !e->msg[0]) errf(e, "%s: diverged", config);
  return code;
}
