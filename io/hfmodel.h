/* HuggingFace checkpoint directories: config.json, vocab.txt, model.safetensors
   (and tokenizer_config.json when present). */
#ifndef BS_HFMODEL_H
#define BS_HFMODEL_H
#include "io/safetensors.h"
#include "src/bert.h"
#include "src/mlm.h"
#include "src/tokenizer.h"

typedef struct {
  char dir[4096];
  BertConfig cfg;     /* num_labels left as in config.json (or 2) */
  int has_lower_case; /* tokenizer_config.json sets do_lower_case */
  int do_lower_case;  /* what the model's own pipeline would do: tokenizer_config.json's; else true
                         for Google's TF layout (bert_config.json: run_classifier and transformers'
                         BertTokenizer(vocab_file) both default to lower-casing); else false (as
                         bert-base-chinese's tokenizer_config.json says) */
  const char *lower_case_why; /* where do_lower_case came from, for messages */
  int google_layout;  /* bert_config.json, no config.json: a TF release as Google and HFL ship them */
  TokOptions tok_opts; /* the rest of tokenizer_config.json's BasicTokenizer options */
  char **never_split;  /* owns tok_opts.never_split's words */
  char *vocab_buf;    /* owns the vocab lines */
  char **vocab;
  int vocab_n;
} HfDir;

/* Reads config.json, tokenizer_config.json and vocab.txt. */
int hf_open(HfDir *d, const char *dir, Err *e);
void hf_close(HfDir *d);

/* Loads model.safetensors into m (allocated by the caller with d->cfg and the task's
   num_labels). Accepts "bert." prefixes and LayerNorm gamma/beta; ignores cls.*.
   Sets *has_head when classifier.weight/bias of the right shape were loaded, and *has_pooler
   when the pooler was there (a checkpoint without one loads; the caller initialises it). */
int hf_load_weights(const HfDir *d, Bert *m, int *has_head, int *has_pooler, Err *e);

/* Loads the masked-LM head (cls.predictions.*, as BertForMaskedLM saves it) into h: *found = 1
   when all five tensors are there, 0 when none is (h untouched); some of them is an error. */
int hf_load_mlm_head(const HfDir *d, MlmHead *h, int *found, Err *e);

/* Writes config.json (id2label and label2id from labels, or LABEL_i when NULL), vocab.txt and model.safetensors (names with the "bert." prefix), the
   classifier when asked, and extra tensors (the MLM head) as they are named. */
int hf_save(const char *dir, const Bert *m, char *const *vocab, int vocab_n, const StOut *extra, int nextra,
            int with_classifier, char *const *labels, Err *e);

#endif
