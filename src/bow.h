/* A bag-of-words baseline for classification: multinomial logistic regression on the presence
   of token unigrams and bigrams (the model tokenizer's ids, each Chinese character a token of
   its own even where the model reads words: jobs/job.c encodes them so), fitted on the training
   examples and scored on the dev examples. The report prints it beside the majority class: a
   fine-tuned BERT that loses to it says little. */
#ifndef BS_BOW_H
#define BS_BOW_H
#include "src/err.h"

typedef struct {
  int n, T;                            /* examples, row stride of ids */
  const int *ids, *len, *label;        /* [n*T] token ids (position 0 is [CLS], skipped), [n], [n] */
} BowData;

/* Dev accuracy of the baseline (deterministic: full-batch gradient descent from zero with a
   halving step on any increase of the L2-regularised loss). -1 with e set when out of memory. */
double bow_accuracy(const BowData *train, const BowData *dev, int nlabels, Err *e);

#endif
