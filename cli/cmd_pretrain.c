/* `bertsweep pretrain`: masked-LM pre-training of a small BERT on a text corpus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs/pretrain.h"
#include "cli/commands.h"

static const char *PRETRAIN_USAGE =
    "usage: bertsweep pretrain --corpus FILE --out DIR [--vocab-size 8000] [--min-count 3]\n"
    "         [--layers 4] [--hidden 256] [--heads 4] [--seq 128] [--batch 32] [--steps 3000]\n"
    "         [--lr 5e-4] [--warmup 0.06] [--weight-decay 0.01] [--seed 1] [--threads N]\n"
    "         [--save-every 500] [--log-every 20] [--whole-word 1] [--resume] [--init MODEL_DIR]\n"
    "  --resume continues from OUT/pretrain_state.safetensors (written at every save) when it\n"
    "  exists; the other options must be those the pre-training began with.\n"
    "  --init continues pre-training a model directory (HF layout: config.json, vocab.txt, weights,\n"
    "  cls.predictions.* when saved) on the corpus, with its vocabulary and shape: --layers,\n"
    "  --hidden, --heads, --vocab-size and --min-count are then not used.\n"
    "  --vocab uses a vocab.txt instead of building a character vocabulary from the corpus;\n"
    "  --chinese-chars 0 (HF's tokenize_chinese_chars false) lets WordPiece cut runs of Chinese\n"
    "  into the vocabulary's multi-character pieces (scripts/build_word_vocab.py makes one); it\n"
    "  needs --whole-word 0, since a whole run would be one word.";

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
    if (!v) { errf(e, "pretrain: %s needs a value\n%s", k, PRETRAIN_USAGE); return EXIT_USAGE; }
    char *end;
    if (!strcmp(k, "--corpus")) c.corpus = v;
    else if (!strcmp(k, "--out")) c.out = v;
    else if (!strcmp(k, "--init")) c.init = v;
    else if (!strcmp(k, "--vocab")) c.vocab = v;
    else if (!strcmp(k, "--steps")) c.steps = strtol(v, &end, 10);
    else if (ip) *ip = (int)strtol(v, &end, 10);
    else if (dp) *dp = strtod(v, &end);
    else { errf(e, "pretrain: unknown option %s\n%s", k, PRETRAIN_USAGE); return EXIT_USAGE; }
    if ((ip || dp || !strcmp(k, "--steps")) && (end == v || *end)) {
      errf(e, "pretrain: %s needs a number, not '%s'", k, v);
      return EXIT_USAGE;
    }
    i++;
  }
  if (!c.corpus || !c.out) { errf(e, "%s", PRETRAIN_USAGE); return EXIT_USAGE; }
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
