/* One run's configuration: the config file without the sweep keys (docs/config.md: "A config, key
   by key"), validated
   against a schema so that unknown keys, wrong types and impossible values name the key. */
#ifndef BS_RUNCONFIG_H
#define BS_RUNCONFIG_H
#include "io/dataset.h"
#include "src/optim.h"

typedef struct cJSON cJSON_t;

typedef struct {
  char model_path[4096];
  int lower_case; /* -1: from tokenizer_config.json (else false) */
  int random_init; /* ignore the checkpoint's weights: the same architecture from scratch */
  char train[4096], dev[4096], labels[4096];
  DataFormat fmt;
  int train_size, dev_size, max_seq_length, data_seed;
  SamplingKind sampling;
  int batch_size, eval_batch_size, epochs, eval_every, seed, threads, checkpoint_every;
  long max_steps, warmup_steps;
  double learning_rate, warmup_ratio, weight_decay, max_grad_norm, dropout, mixout;
  int patience; /* early stopping: evaluations without improvement (0: off) */
  int save_final_weights;
  OptConfig opt;
  int reinit_pooler, reinit_top_layers;
} RunConfig;

/* Parses root (a cJSON object) read from source (a file name, for messages and for resolving
   relative paths). Top-level "sweep" and "output" are left to the caller. */
int runconfig_parse(RunConfig *cfg, const void *root, const char *source, Err *e);
/* Reads and parses a config file. */
int runconfig_load(RunConfig *cfg, const char *path, Err *e);

/* What a run takes from its model where the config leaves a key unset: do_lower_case from
   tokenizer_config.json (-1: unknown), and the dropout when config.json gives one value to
   every dropout (-1: unknown, or values that differ). */
typedef struct {
  int lower_case;
  double dropout;
} ModelDefaults;
/* Adds to root (the run's config as cJSON, parsed into cfg) every key it does not set, with
   the value the run uses: the default, or the model's (md) for do_lower_case and dropout;
   a key whose value is unknown stays unset. The run's config is then self-contained. */
int runconfig_complete(void *root, const RunConfig *cfg, const ModelDefaults *md);

/* The key under which a stored run config records its model's files (io/modelfiles.h):
   written by the sweep, skipped by runconfig_parse (a stored run config trains as it is),
   refused in a sweep's config (the sweep writes it). */
#define RUNCONFIG_MODEL_FILES "model_files"

/* A config (JSON text) as one flat cJSON object {"section.key": value}; NULL when not JSON. */
void *runconfig_flatten(const char *json);
/* The keys both run configs (JSON text) set to different values, skip (NULL-terminated, may
   be NULL) aside, as "train.dropout: 0.1 -> 0.3; ..." in out; returns how many (0: one run),
   or -1 when either is not JSON. A key only one of them sets is a default the other leaves
   out (files of bertsweep <= 0.1, a model that could not be read), not a difference. */
int runconfig_differs(const char *a, const char *b, const char *const *skip, char *out, size_t size);

/* Checks that a dotted key ("optimizer.correct_bias") names a run setting; used by the grid. */
int runconfig_key_known(const char *dotted);

#endif
