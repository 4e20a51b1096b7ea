/* One fine-tuning run from start to end: data subsampling and encoding, the train loop,
   evaluation and the state a checkpoint needs. A run is a pure function of its RunConfig:
   every random draw is keyed by (seed, step), so step k always sees the same batch and the
   same dropout masks, whoever runs it and whenever it resumes. */
#ifndef BS_JOB_H
#define BS_JOB_H
#include "io/hfmodel.h"
#include "io/results_schema.h"
#include "io/runconfig.h"
#include "src/bert.h"
#include "src/infer.h"
#include "src/optim.h"
#include "src/tokenizer.h"

typedef struct {
  int n, T;                       /* examples, padded length */
  int *ids, *types, *mask, *len;  /* [n*T], [n*T], [n*T], [n] */
  int *label;                     /* [n] */
} Encoded;

/* Evaluation batches run side by side, one per worker, when their workspaces are small
   (job_open decides how many, for the OpenMP thread count in force when it runs): each
   worker has its own buffers and staging. */
typedef struct {
  Infer infer;
  int *ids, *types, *mask, *labels, *idx; /* [Bmax*T] x 3, [Bmax] x 2: batch staging */
} EvalWorker;

typedef struct {
  RunConfig cfg;
  HfDir hf;
  Tokenizer tok;
  LabelSet labels;
  Encoded train, dev;
  Bert m;
  Acts acts;               /* training batches */
  EvalWorker *eval;        /* [eval_workers] evaluation batches */
  int eval_workers;
  Optim opt;
  int steps_per_epoch;
  long total_steps, warmup_steps, step; /* step: updates done */
  int *order, order_epoch; /* [train.n] shuffled train indices of epoch order_epoch */
  int *dev_order;          /* [dev.n] dev indices, longest first: evaluation batches */
  int *bids, *btypes, *bmask; /* [batch_size * T] batch staging */
  int *blabels;            /* [batch_size] */
  float *init_params;      /* [nparams] weights when fine-tuning starts: prior decay and Mixout targets */
  float *mix_scale, *mix_saved; /* [nparams] Mixout: gradient scale M/(1-p), the swapped-out weights */
  double best_acc;         /* best evaluation so far (NAN before the first) and its step */
  long best_step;
  int since_best;          /* evaluations since the best, for early stopping */
  int majority_label;      /* most frequent dev label, for the failed-run baseline */
  double majority_acc;     /* its share of the dev set */
  double bow_acc;          /* dev accuracy of the bag-of-words baseline (src/bow.h) */
  char initialised[32];    /* tensors initialised rather than loaded: "classifier", "classifier,pooler", "all" */
  int pooler_missing;      /* the checkpoint had no pooler (initialised, with a warning) */
  double unk_rate;         /* share of the training set's text tokens that are [UNK] */
} Job;

/* A step's metrics (v[DS_LOSS], v[DS_LR], v[DS_GNORM]) and an evaluation's (v[DS_ACC],
   v[DS_ELOSS], v[DS_F1], v[DS_ESTEP]): the results file's metric table (io/results_schema.h)
   indexes them, so a new metric is a table entry and its value set here. */
typedef Metrics StepMetrics;
typedef Metrics EvalMetrics;

int job_open(Job *j, const RunConfig *cfg, Err *e);
/* Above UNK_WARN of the training set's text tokens unknown to the vocabulary: a sentence for a
   warning naming the likely cause (an uncased vocabulary read cased, tokenize_chinese_chars off,
   a vocabulary of another language) into out, and 1; else 0. */
int job_unk_advice(const Job *j, char *out, size_t size);
void job_close(Job *j);
/* Runs update j->step (0-based) and advances it. */
void job_step(Job *j, StepMetrics *out);
/* Evaluates on the dev set (no dropout, no Mixout) and tracks the best evaluation. */
void job_eval(Job *j, EvalMetrics *out);
/* The same, asking stop(ctx) between batches (on the calling thread only): when it says
   stop, the evaluation is abandoned (nothing of the job changes) and 1 is returned. */
typedef int (*JobStopFn)(void *ctx);
int job_eval_stoppable(Job *j, EvalMetrics *out, JobStopFn stop, void *ctx);
/* The evaluation schedule: whether an evaluation is due after j->step updates (every
   eval_every, and after the last), and how many evaluations follow updates 1..step. */
long job_evals_through(int eval_every, long total_steps, long step);
int job_eval_due(const Job *j);
/* Whether the run is over: all steps done, or early stopping's patience ran out. */
int job_finished(const Job *j);

/* After the caller copied a checkpoint's parameters and Adam moments into j->m.params,
   j->opt.m and j->opt.v: continue after `step` updates (the optimizer at t = opt_t). */
void job_restore(Job *j, long step, long opt_t, double best_acc, long best_step);

/* The model as a complete HuggingFace directory that `train` and transformers load to the
   same tokens: config.json (with the labels), model.safetensors, vocab.txt and
   tokenizer_config.json (lower-casing and the BasicTokenizer options the run used). The one
   writer of `train --save` and `export`. */
int job_save_model(const Job *j, const char *dir, Err *e);

/* Steps a config implies without loading the data: needs the train set size. */
long job_total_steps_for(const RunConfig *cfg, int train_n);

#endif
