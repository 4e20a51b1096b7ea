/* Masked-LM pre-training (BERT's recipe without next-sentence prediction): poems packed into
   sequences [CLS] a [SEP] b [SEP] ...; 15% of words chosen (a word: a token and its "##" pieces), of those 80% [MASK], 10% a random
   token, 10% kept; the MLM head's decoder tied to the word embeddings. */
#ifndef BS_PRETRAIN_H
#define BS_PRETRAIN_H
#include "src/err.h"

typedef struct {
  const char *corpus, *out;
  int vocab_size, min_count, layers, hidden, heads, seq, batch, threads, save_every, log_every;
  long steps;
  double lr, warmup_ratio, weight_decay;
  int seed;
  int whole_word; /* mask a word's "##" pieces together */
  int resume;     /* continue from OUT/pretrain_state.safetensors when it exists */
  const char *init; /* start from this model directory's weights and vocabulary (NULL: new model) */
  const char *vocab; /* a new model's vocab.txt (NULL: built from the corpus) */
  int chinese_chars; /* tokenize_chinese_chars (1: every CJK character a word; 0: WordPiece runs of them) */
} PretrainConfig;

void pretrain_defaults(PretrainConfig *c);
int pretrain_run(const PretrainConfig *c, Err *e);

#endif
