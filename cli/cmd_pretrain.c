/* `bertsweep pretrain`: masked-LM pre-training of a small BERT on a text corpus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs/pretrain.h"
#include "cli/commands.h"


int cmd_pretrain(int argc, char **argv, Err *e) {
  PretrainConfig c;
  pretrain_defaults(&c);
  for (int i = 0; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(k, "--resume")) { c.resume = 1; continue; }
    int *ip = !strcmp(k, "--vocab-size") ? &c.vocab_size : !strcmp(k, "--min-count") ? &c.min_count
            : !strcmp(k, "--layers") ? &c.layers : !strcmp(k, "--hidden") ? &c.hidden : !strcmp(k, "--heads") ? &c.heads
            : !strcmp(k, "--seq") ? &c.seq : !strcmp(k, "--batch") ? &c.batch : !strcmp(k, "--threads") ? &c.threads
            : !strcmp(k, "--save-every") ? &c.save_every : !strcmp(k, "--log-every") ? &c.log_every
            : !strcmp(k, "--seed") ? &c.seed : !strcmp(k, "--whole-word") ? &c.whole_word
            : !strcmp(k, "--chinese-chars") ? &c.chinese_chars : NULL;
    double *dp = !strcmp(k, "--lr") ? &c.lr : !strcmp(k, "--warmup") ? &c.warmup_ratio
               : !strcmp(k, "--weight-decay") ? &c.weight_decay : NULL;
    if (!v) return usage_error(e, "pretrain", "%s needs a value", k);
    char *end;
    if (!strcmp(k, "--corpus")) c.corpus = v;
    else if (!strcmp(k, "--out")) c.out = v;
    else if (!strcmp(k, "--init")) c.init = v;
    else if (!strcmp(k, "--vocab")) c.vocab = v;
    else if (!strcmp(k, "--steps")) c.steps = strtol(v, &end, 10);
    else if (ip) *ip = (int)strtol(v, &end, 10);
    else if (dp) *dp = strtod(v, &end);
    else return usage_error(e, "pretrain", "unknown option %s", k);
    if ((ip || dp || !strcmp(k, "--steps")) && (end == v || *end)) {
      errf(e, "pretrain: %s needs a number, not '%s'", k, v);
      return EXIT_USAGE;
    }
    i++;
  }
  if (!c.corpus || !c.out) return usage_error(e, "pretrain", "%s", !c.corpus ? "--corpus FILE is needed" : "--out DIR is needed");
  if (c.layers < 1 || c.hidden < 8 || c.heads < 1 || c.hidden % c.heads || c.seq < 8 || c.batch < 1 || c.steps < 1 ||
      c.log_every < 1 || c.vocab_size < 200 || c.lr <= 0) {
    errf(e, "pretrain: sizes must be positive, hidden a multiple of heads, seq >= 8, vocab-size >= 200");
    return EXIT_USAGE;
  }
  if (!c.chinese_chars && c.whole_word) {
    errf(e, "pretrain: --chinese-chars 0 needs --whole-word 0 (a run of Chinese text would be one word)");
    return EXIT_USAGE;
  }
  if (c.init && c.vocab) {
    errf(e, "pretrain: --init brings its model's vocabulary; --vocab is for a new model");
    return EXIT_USAGE;
  }
  return pretrain_run(&c, e) ? EXIT_ERROR : EXIT_OK;
}
