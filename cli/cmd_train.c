#include <math.h>
/* `bertsweep train CONFIG`: one fine-tuning run, metrics to stdout. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "jobs/job.h"
#include "src/clock.h"
#include "src/machine.h"
#include "cli/commands.h"

int cmd_train(int argc, char **argv, Err *e) {
  const char *config = NULL, *save = NULL, *metrics = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--save") == 0 && i + 1 < argc) save = argv[++i];
    else if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc) metrics = argv[++i];
    else if (argv[i][0] == '-') { errf(e, "train: unknown option %s", argv[i]); return EXIT_USAGE; }
    else config = argv[i];
  }
  if (!config) { errf(e, "usage: bertsweep train CONFIG.json [--save DIR] [--metrics FILE.tsv]"); return EXIT_USAGE; }
  RunConfig cfg;
  if (runconfig_load(&cfg, config, e)) return EXIT_ERROR;
  if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
  Job j;
  if (job_open(&j, &cfg, e)) return EXIT_ERROR;
  FILE *mf = NULL;
  if (metrics && !(mf = fopen(metrics, "w"))) {
    errf(e, "%s: cannot create: %s", metrics, strerror(errno));
    job_close(&j);
    return EXIT_ERROR;
  }
  if (mf) fprintf(mf, "step\tloss\tlr\tgrad_norm\taccuracy\teval_loss\tmacro_f1\n");
  if (j.pooler_missing)
    fprintf(stderr, "bertsweep: warning: %s has no pooler (bert.pooler.dense.*): initialised as transformers does "
                    "(normal, std initializer_range; bias 0)\n", cfg.model_path);
  char advice[512];
  if (machine_blas_advice(advice, sizeof advice)) fprintf(stderr, "bertsweep: warning: %s\n", advice);
  printf("# run: %d train / %d dev examples, %d labels, %ld steps (%d per epoch), warmup %ld, %d threads\n",
         j.train.n, j.dev.n, j.labels.n, j.total_steps, j.steps_per_epoch, j.warmup_steps, omp_get_max_threads());
  printf("# baselines (dev accuracy): majority class %.4f, bag-of-words %.4f\n", j.majority_acc, j.bow_acc);
  printf("%-8s %-10s %-10s %-10s %s\n", "step", "loss", "lr", "grad_norm", "dev");
  double t0 = clock_seconds();
  while (!job_finished(&j)) {
    StepMetrics s;
    job_step(&j, &s);
    printf("%-8ld %-10.6f %-10.3e %-10.4f", j.step, s.loss, s.lr, s.grad_norm);
    /* %.9g round-trips float32 exactly: the sweep tests compare these bit for bit */
    if (mf) fprintf(mf, "%ld\t%.9g\t%.9g\t%.9g", j.step, s.loss, s.lr, s.grad_norm);
    if (!isfinite(s.loss) || !isfinite(s.grad_norm)) {
      printf("\n");
      if (mf) fclose(mf);
      errf(e, "%s: diverged at step %ld (non-finite loss or gradient norm)", config, j.step);
      job_close(&j);
      return EXIT_ERROR;
    }
    if (job_eval_due(&j)) {
      EvalMetrics ev;
      job_eval(&j, &ev);
      printf(" acc=%.4f loss=%.4f macro_f1=%.4f%s", ev.accuracy, ev.loss, ev.macro_f1, j.since_best ? "" : " (best)");
      if (mf) fprintf(mf, "\t%.9g\t%.9g\t%.9g", (float)ev.accuracy, (float)ev.loss, (float)ev.macro_f1);
    }
    printf("\n");
    if (mf) fprintf(mf, "\n");
    fflush(stdout);
  }
  double secs = clock_seconds() - t0;
  printf("# %.1f s, %.2f steps/s\n", secs, (double)j.step / (secs + 1e-9));
  int code = EXIT_OK;
  if (mf && fclose(mf) != 0) {
    errf(e, "%s: write error", metrics);
    code = EXIT_ERROR;
  }
  if (save && hf_save(save, &j.m, j.hf.vocab, j.hf.vocab_n, NULL, 0, 1, j.labels.names, e)) code = EXIT_ERROR;
  job_close(&j);
  return code;
}
