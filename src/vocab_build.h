/* A character-level vocabulary in bert-base-chinese's layout, built from a corpus:
   [PAD], [unused1..99], [UNK], [CLS], [SEP], [MASK], <S>, <T>, ASCII punctuation, digits and
   Latin letters, then the corpus's other punctuation and symbols, then its other characters
   (CJK) by frequency. */
#ifndef BS_VOCAB_BUILD_H
#define BS_VOCAB_BUILD_H
#include "src/err.h"

/* Returns the token count (<= max_size) and a malloc'd array of malloc'd strings. */
int vocab_build(char *const *lines, int n, int max_size, int min_count, char ***out, Err *e);
void vocab_free(char **v, int n);

#endif
