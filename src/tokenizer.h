/* BERT tokenizer as HF's slow BertTokenizer: special tokens ([CLS], [SEP], [PAD], [UNK],
   [MASK]) split out of the text wherever they stand, NFC, then BasicTokenizer (clean, CJK
   split, optional lower-case and accent strip, punctuation split) and greedy longest-match-
   first WordPiece. Unicode categories, case mapping, NFC and NFD come from utf8proc. */
#ifndef BS_TOKENIZER_H
#define BS_TOKENIZER_H
#include "src/err.h"

/* tokenizer_config.json's BasicTokenizer options (HF names). */
typedef struct {
  int chinese_chars;  /* tokenize_chinese_chars: a space around every CJK character (default 1) */
  int strip_accents;  /* -1: when lower-casing (HF's null, the default), 0: never, 1: always */
  int nfc;            /* NFC-normalise first, as transformers >= 4.29's BertTokenizer (default 1) */
  char **never_split; /* words kept whole (borrowed; HF's never_split) */
  int n_never_split;
} TokOptions;

void tok_default_options(TokOptions *o);

typedef struct {
  int n;          /* vocabulary size */
  char **tokens;  /* [n] */
  int *slots;     /* open-addressing hash table of token ids, -1 empty */
  int nslots;     /* power of two */
  int do_lower_case;
  int unk, cls, sep, pad, mask; /* special ids; mask may be -1 */
  TokOptions opt;                /* defaults from tok_init; the caller may replace them */
} Tokenizer;

/* Builds from the lines of a vocab (ids = line numbers). source names the file in errors. */
int tok_init(Tokenizer *t, char **lines, int n, int do_lower_case, const char *source, Err *e);
void tok_free(Tokenizer *t);
int tok_id(const Tokenizer *t, const char *s, int len); /* -1 when absent */

/* WordPiece ids of text (no [CLS]/[SEP]); returns the count, at most max (extra are dropped). */
int tok_encode(const Tokenizer *t, const char *text, int *ids, int max);
/* Same, as token strings joined by single spaces into out (for tests and debugging). */
int tok_tokenize_str(const Tokenizer *t, const char *text, char *out, int outsize);

/* [CLS] a [SEP] (b [SEP]) truncated "longest first" to max_len; pads to max_len with [PAD]. 
   Fills ids, types, mask; returns the unpadded length. */
int tok_encode_pair(const Tokenizer *t, const char *a, const char *b, int max_len, int *ids, int *types, int *mask);

#endif
