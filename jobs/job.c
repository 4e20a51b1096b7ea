#define _GNU_SOURCE /* qsort_r */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "jobs/job.h"
#include "src/fault.h"
#include "src/ops.h"
#include "src/bow.h"
#include "src/metrics.h"
#include "src/mixout.h"
#include "src/rng.h"

static void encoded_free(Encoded *x) {
  free(x->ids);
  free(x->types);
  free(x->mask);
  free(x->len);
  free(x->label);
  memset(x, 0, sizeof *x);
}

/* Indices of the subset: all (size 0 or >= n), uniform, or an equal share per class. */
static int *subsample(const Dataset *d, int size, int per_class, int nclass, uint64_t seed, uint64_t stream,
                      int *out_n, Err *e) {
  int n = d->n;
  int *idx = malloc(sizeof(int) * (size_t)n);
  if (!idx) { errf(e, "out of memory"); return NULL; }
  for (int i = 0; i < n; i++) idx[i] = i;
  if (size <= 0 || size >= n) { *out_n = n; return idx; }
  Rng r;
  rng_init(&r, seed, stream);
  rng_shuffle(&r, idx, n);
  if (!per_class) {
    *out_n = size;
    return idx;
  }
  /* Round-robin over classes in shuffled order: each class gets size/nclass (+1 for the first
     size%nclass classes), fewer if it has fewer examples; the rest filled uniformly. */
  int *out = malloc(sizeof(int) * (size_t)size), *taken = calloc((size_t)n, sizeof(int));
  int *quota = calloc((size_t)nclass, sizeof(int));
  if (!out || !taken || !quota) {
    free(idx); free(out); free(taken); free(quota);
    errf(e, "out of memory");
    return NULL;
  }
  for (int c = 0; c < nclass; c++) quota[c] = size / nclass + (c < size % nclass);
  int k = 0;
  for (int i = 0; i < n && k < size; i++) {
    int c = d->label_id[idx[i]];
    if (quota[c] > 0) { quota[c]--; out[k++] = idx[i]; taken[i] = 1; }
  }
  for (int i = 0; i < n && k < size; i++)
    if (!taken[i]) out[k++] = idx[i];
  free(idx); free(taken); free(quota);
  *out_n = size;
  return out;
}

static int encode(Encoded *x, const Dataset *d, const int *idx, int n, const Tokenizer *t, int T, Err *e) {
  memset(x, 0, sizeof *x);
  x->n = n;
  x->T = T;
  x->ids = malloc(sizeof(int) * (size_t)n * T);
  x->types = malloc(sizeof(int) * (size_t)n * T);
  x->mask = malloc(sizeof(int) * (size_t)n * T);
  x->len = malloc(sizeof(int) * (size_t)n);
  x->label = malloc(sizeof(int) * (size_t)n);
  if (!x->ids || !x->types || !x->mask || !x->len || !x->label) {
    encoded_free(x);
    return errf(e, "out of memory encoding %d examples", n);
  }
  for (int i = 0; i < n; i++) {
    int s = idx[i];
    long o = (long)i * T;
    x->len[i] = tok_encode_pair(t, d->text_a[s], d->text_b[s], T, x->ids + o, x->types + o, x->mask + o);
    if (x->len[i] < 0) {
      encoded_free(x);
      return errf(e, "%s:%d: cannot tokenize", d->path, d->line[s]);
    }
    x->label[i] = d->label_id[s];
  }
  return 0;
}

/* The examples whole, for the bag-of-words baseline (the model reads max_seq_length tokens,
   the baseline every token of the text): ids and lengths only, rows as long as the longest
   example. A token consumes at least one byte of its text, so bytes + 3 bounds its length. */
static int encode_whole(Encoded *x, const Dataset *d, const int *idx, int n, const Tokenizer *t, Err *e) {
  memset(x, 0, sizeof *x);
  size_t cap = 3;
  for (int i = 0; i < n; i++) {
    int s = idx[i];
    size_t c = strlen(d->text_a[s]) + (d->text_b[s] ? strlen(d->text_b[s]) : 0) + 3;
    cap = c > cap ? c : cap;
  }
  if (cap > INT_MAX / 2) return errf(e, "%s: an example of %zu bytes is too long", d->path, cap);
  int *ids = malloc(sizeof(int) * cap), *types = malloc(sizeof(int) * cap), *mask = malloc(sizeof(int) * cap);
  x->len = malloc(sizeof(int) * (size_t)(n ? n : 1));
  x->label = malloc(sizeof(int) * (size_t)(n ? n : 1));
  int rc = ids && types && mask && x->len && x->label ? 0 : errf(e, "out of memory encoding %d examples", n);
  int T = 1;
  for (int i = 0; i < n && !rc; i++) { /* pass 1: each example's length */
    int s = idx[i];
    x->len[i] = tok_encode_pair(t, d->text_a[s], d->text_b[s], (int)cap, ids, types, mask);
    if (x->len[i] < 0) rc = errf(e, "%s:%d: cannot tokenize", d->path, d->line[s]);
    else T = x->len[i] > T ? x->len[i] : T;
    x->label[i] = d->label_id[s];
  }
  if (!rc && !(x->ids = malloc(sizeof(int) * (size_t)n * (size_t)T + 1)))
    rc = errf(e, "out of memory encoding %d whole examples of up to %d tokens", n, T);
  for (int i = 0; i < n && !rc; i++) /* pass 2: into rows of T; no example is cut */
    tok_encode_pair(t, d->text_a[idx[i]], d->text_b[idx[i]], T, x->ids + (size_t)i * T, types, mask);
  x->n = n;
  x->T = T;
  free(ids);
  free(types);
  free(mask);
  if (rc) encoded_free(x);
  return rc;
}

/* Reads, subsamples and encodes a split into x, and into whole (unless NULL) the same examples
   uncut, a character per CJK token, for the bag-of-words baseline, which counts characters and
   character pairs of the whole text. */
static int load_split(Encoded *x, Encoded *whole, const char *path, const RunConfig *cfg, LabelSet *ls, int is_train,
                      const Tokenizer *t, Err *e) {
  Dataset d;
  if (dataset_read(&d, path, &cfg->fmt, e)) return -1;
  int rc = 0;
  if (is_train) {
    rc = cfg->labels[0] ? labels_read(ls, cfg->labels, e) : labels_from_data(ls, &d, e);
  }
  if (!rc) rc = dataset_map_labels(&d, ls, e);
  int n = 0, *idx = NULL;
  if (!rc) {
    int size = is_train ? cfg->train_size : cfg->dev_size;
    if (size > d.n) { /* never cut silently: the run would not be the experiment the config describes */
      errf(e, "%s: data.%s is %d, but the file has %d examples: lower it (0 takes them all)", path,
           is_train ? "train_size" : "dev_size", size, d.n);
      dataset_free(&d);
      return -1;
    }
    idx = subsample(&d, size, is_train && cfg->sampling == SAMPLE_PER_CLASS, ls->n, (uint64_t)cfg->data_seed,
                    is_train ? STREAM_SUBSAMPLE : STREAM_DEVSUB, &n, e);
    rc = idx ? 0 : -1;
  }
  if (!rc) rc = encode(x, &d, idx, n, t, cfg->max_seq_length, e);
  if (!rc && whole) {
    Tokenizer per_char = *t; /* shares the vocabulary, read only */
    per_char.opt.chinese_chars = 1;
    rc = encode_whole(whole, &d, idx, n, &per_char, e);
  }
  free(idx);
  dataset_free(&d);
  return rc;
}

/* [UNK] among the text tokens ([CLS], [SEP] and padding left out) of an encoded split. */
static double unk_share(const Encoded *x, const Tokenizer *t) {
  long unk = 0, all = 0;
  for (int i = 0; i < x->n; i++)
    for (int k = 0; k < x->len[i]; k++) {
      const int id = x->ids[(size_t)i * (size_t)x->T + (size_t)k];
      if (id == t->cls || id == t->sep || id == t->pad) continue;
      all++;
      unk += id == t->unk;
    }
  return all ? (double)unk / (double)all : 0;
}

int job_unk_advice(const Job *j, char *out, size_t size) {
  if (!(j->unk_rate > UNK_WARN)) return 0;
  int upper = 0, letters = 0;
  for (int i = 0; i < j->tok.n; i++)
    for (const char *p = j->tok.tokens[i]; *p && j->tok.tokens[i][0] != '['; p++) { /* [CLS] and the like aside */
      letters += (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
      upper += *p >= 'A' && *p <= 'Z';
    }
  const char *why =
      !j->tok.do_lower_case && letters > 100 && upper * 200 < letters
          ? "the vocabulary looks uncased (no capital letters) but the text is read cased: set \"do_lower_case\": true "
            "in the model's tokenizer_config.json, or model.do_lower_case in the config"
      : !j->tok.opt.chinese_chars
          ? "tokenize_chinese_chars is off, so runs of Chinese must be pieces of the vocabulary: check that it has them, "
            "or turn it on"
          : "the vocabulary may be of another language or script than the data";
  snprintf(out, size, "%.1f%% of the training set's tokens are [UNK] (vocabulary %s/vocab.txt): %s", 100 * j->unk_rate,
           j->cfg.model_path, why);
  return 1;
}

long job_total_steps_for(const RunConfig *cfg, int train_n) {
  if (cfg->max_steps > 0) return cfg->max_steps;
  long spe = (train_n + cfg->batch_size - 1) / cfg->batch_size;
  return spe * cfg->epochs;
}

/* Evaluation workers: one per thread (of those in force now) when their workspaces fit in
   EVAL_WORKSPACE_MB together (then batches run side by side, each on one thread: small
   models' GEMMs are too small to share out well), otherwise one worker whose operations use
   every thread. The logits are the same either way: OpenBLAS shares a GEMM out by rows and
   columns, never along the sum, and every other operation is per row or element. */
enum { EVAL_WORKSPACE_MB = 256 };

static int eval_workers_open(Job *j, const BertConfig *c, Err *e) {
  const RunConfig *cfg = &j->cfg;
  const int EB = cfg->eval_batch_size, T = cfg->max_seq_length;
  const int batches = (j->dev.n + EB - 1) / EB;
  int n = omp_get_max_threads();
  n = n < batches ? n : batches;
  n = n > 1 ? n : 1;
  if (!(j->eval = calloc((size_t)n, sizeof(EvalWorker)))) return errf(e, "out of memory");
  for (int i = 0; i < n; i++) {
    EvalWorker *w = &j->eval[i];
    if (infer_alloc(&w->infer, c, EB, T, e)) return -1;
    j->eval_workers = i + 1;
    if (i == 0) {
      const double mb = (double)w->infer.size * sizeof(float) / (1 << 20);
      const int fit = (int)(EVAL_WORKSPACE_MB / (mb > 1.0 ? mb : 1.0));
      n = n < fit ? n : fit > 1 ? fit : 1;
    }
    w->ids = malloc(sizeof(int) * (size_t)EB * T);
    w->types = malloc(sizeof(int) * (size_t)EB * T);
    w->mask = malloc(sizeof(int) * (size_t)EB * T);
    w->labels = malloc(sizeof(int) * (size_t)EB);
    w->idx = malloc(sizeof(int) * (size_t)EB);
    if (!w->ids || !w->types || !w->mask || !w->labels || !w->idx)
      return errf(e, "out of memory: evaluation staging for batch %d x seq %d", EB, T);
  }
  return 0;
}

static void eval_workers_free(Job *j) {
  for (int i = 0; i < j->eval_workers; i++) {
    EvalWorker *w = &j->eval[i];
    infer_free(&w->infer);
    free(w->ids);
    free(w->types);
    free(w->mask);
    free(w->labels);
    free(w->idx);
  }
  free(j->eval);
  j->eval = NULL;
  j->eval_workers = 0;
}

static int open_model(Job *j, Err *e) {
  const RunConfig *cfg = &j->cfg;
  BertConfig c = j->hf.cfg;
  c.num_labels = j->labels.n;
  if (cfg->dropout >= 0) c.hidden_dropout = c.attn_dropout = c.classifier_dropout = (float)cfg->dropout;
  if (cfg->mixout > 0) c.hidden_dropout = c.attn_dropout = c.classifier_dropout = 0.0f; /* as the paper's code */
  if (cfg->max_seq_length > c.max_position)
    return errf(e, "data.max_seq_length %d exceeds the model's max_position_embeddings %d", cfg->max_seq_length,
                c.max_position);
  if (cfg->reinit_top_layers > c.layers)
    return errf(e, "reinit.top_layers %d exceeds the model's %d layers", cfg->reinit_top_layers, c.layers);
  if (bert_alloc(&j->m, &c, e)) return -1;
  int has_head = 0, has_pooler = 1;
  /* random_init needs only config.json and vocab.txt: every weight is drawn below */
  if (!cfg->random_init && hf_load_weights(&j->hf, &j->m, &has_head, &has_pooler, e)) return -1;
  Bert *m = &j->m;
  j->pooler_missing = !has_pooler;
  if (cfg->random_init) bert_init_all(m, (uint64_t)cfg->seed);
  else bert_reinit(m, !has_head, cfg->reinit_pooler || !has_pooler, cfg->reinit_top_layers, (uint64_t)cfg->seed);
  /* what HF would list as "newly initialized" weights */
  snprintf(j->initialised, sizeof j->initialised, "%s%s%s", cfg->random_init ? "all" : has_head ? "" : "classifier",
           !cfg->random_init && !has_head && !has_pooler ? "," : "", cfg->random_init || has_pooler ? "" : "pooler");
  if (optim_init(&j->opt, &cfg->opt, m->nparams, e)) return -1;
  j->opt.cfg.weight_decay = (float)cfg->weight_decay;
  if (cfg->opt.prior_decay || cfg->mixout > 0) {
    if (!(j->init_params = malloc(sizeof(float) * m->nparams))) return errf(e, "out of memory");
    memcpy(j->init_params, m->params, sizeof(float) * m->nparams);
    j->opt.prior = j->init_params;
  }
  if (cfg->mixout > 0) {
    j->mix_scale = calloc(m->nparams, sizeof(float));
    j->mix_saved = malloc(sizeof(float) * m->nparams);
    if (!j->mix_scale || !j->mix_saved) return errf(e, "out of memory");
  }
  if (acts_alloc(&j->acts, &c, cfg->batch_size, cfg->max_seq_length, e)) return -1;
  return eval_workers_open(j, &c, e);
}

/* The dev set's indices, longest first (ties in file order): batches of similar lengths pad
   little, and dynamic padding cuts each batch to its longest example. */
static int by_length(const void *a, const void *b, void *x_) {
  const Encoded *x = x_;
  int ia = *(const int *)a, ib = *(const int *)b, la = x->len[ia], lb = x->len[ib];
  return la != lb ? lb - la : ia - ib;
}

static int *dev_by_length(const Encoded *x) {
  int *order = malloc(sizeof(int) * (size_t)(x->n ? x->n : 1));
  if (!order) return NULL;
  for (int i = 0; i < x->n; i++) order[i] = i;
  qsort_r(order, (size_t)x->n, sizeof(int), by_length, (void *)x);
  return order;
}

int job_open(Job *j, const RunConfig *cfg, Err *e) {
  Encoded bow_train = {0}, bow_dev = {0};
  memset(j, 0, sizeof *j);
  j->cfg = *cfg;
  j->order_epoch = -1;
  j->best_acc = NAN;
  j->best_step = -1;
  if (hf_open(&j->hf, cfg->model_path, e)) return -1;
  if (cfg->fmt.pair_field[0] && j->hf.cfg.type_vocab < 2) { /* the second sentence's token type is 1 */
    errf(e, "%s/config.json: type_vocab_size is %d, so this model cannot encode sentence pairs (data.text_pair_field "
            "\"%s\")", cfg->model_path, j->hf.cfg.type_vocab, cfg->fmt.pair_field);
    hf_close(&j->hf);
    return -1;
  }
  int lower = cfg->lower_case >= 0 ? cfg->lower_case : j->hf.do_lower_case;
  char vsrc[4200];
  snprintf(vsrc, sizeof vsrc, "%s/vocab.txt", cfg->model_path);
  if (tok_init(&j->tok, j->hf.vocab, j->hf.vocab_n, lower, vsrc, e)) goto fail;
  j->tok.opt = j->hf.tok_opts;
  if (load_split(&j->train, &bow_train, cfg->train, cfg, &j->labels, 1, &j->tok, e)) goto fail;
  j->unk_rate = unk_share(&j->train, &j->tok);
  if (load_split(&j->dev, &bow_dev, cfg->dev, cfg, &j->labels, 0, &j->tok, e)) goto fail;
  if (open_model(j, e)) goto fail;
  j->steps_per_epoch = (j->train.n + cfg->batch_size - 1) / cfg->batch_size;
  j->total_steps = job_total_steps_for(cfg, j->train.n);
  j->warmup_steps = cfg->warmup_steps > 0 ? cfg->warmup_steps : (long)ceil(cfg->warmup_ratio * (double)j->total_steps);
  const int B = cfg->batch_size, T = cfg->max_seq_length;
  j->order = malloc(sizeof(int) * (size_t)j->train.n);
  j->dev_order = dev_by_length(&j->dev);
  j->bids = malloc(sizeof(int) * (size_t)B * T);
  j->btypes = malloc(sizeof(int) * (size_t)B * T);
  j->bmask = malloc(sizeof(int) * (size_t)B * T);
  j->blabels = malloc(sizeof(int) * (size_t)B);
  if (!j->order || !j->dev_order || !j->bids || !j->btypes || !j->bmask || !j->blabels) {
    errf(e, "out of memory");
    goto fail;
  }
  int *count = calloc((size_t)j->labels.n, sizeof(int));
  if (!count) { errf(e, "out of memory"); goto fail; }
  for (int i = 0; i < j->dev.n; i++) count[j->dev.label[i]]++;
  j->majority_label = argmax_int(count, j->labels.n);
  j->majority_acc = j->dev.n ? (double)count[j->majority_label] / j->dev.n : 0.0;
  free(count);
  const Encoded *tr = &bow_train, *dv = &bow_dev;
  BowData bt = {tr->n, tr->T, tr->ids, tr->len, tr->label};
  BowData bd = {dv->n, dv->T, dv->ids, dv->len, dv->label};
  if ((j->bow_acc = bow_accuracy(&bt, &bd, j->labels.n, e)) < 0) goto fail;
  encoded_free(&bow_train);
  encoded_free(&bow_dev);
  return 0;
fail:
  encoded_free(&bow_train);
  encoded_free(&bow_dev);
  job_close(j);
  return -1;
}

void job_close(Job *j) {
  free(j->order);
  free(j->dev_order);
  free(j->bids);
  free(j->btypes);
  free(j->bmask);
  free(j->blabels);
  free(j->init_params);
  free(j->mix_scale);
  free(j->mix_saved);
  j->opt.prior = NULL;
  optim_free(&j->opt);
  acts_free(&j->acts);
  eval_workers_free(j);
  bert_free(&j->m);
  encoded_free(&j->train);
  encoded_free(&j->dev);
  labels_free(&j->labels);
  tok_free(&j->tok);
  hf_close(&j->hf);
  memset(j, 0, sizeof *j);
}

/* Copies examples idx[0..B) into staging arrays, padded to the longest of them. */
static Batch stage(const Encoded *x, const int *idx, int B, int *ids, int *types, int *mask, int *labels) {
  int T = 1;
  for (int b = 0; b < B; b++) T = x->len[idx[b]] > T ? x->len[idx[b]] : T;
  for (int b = 0; b < B; b++) {
    long src = (long)idx[b] * x->T, dst = (long)b * T;
    memcpy(ids + dst, x->ids + src, sizeof(int) * T);
    memcpy(types + dst, x->types + src, sizeof(int) * T);
    memcpy(mask + dst, x->mask + src, sizeof(int) * T);
    labels[b] = x->label[idx[b]];
  }
  return (Batch){B, T, ids, types, mask, labels};
}

void job_step(Job *j, StepMetrics *out) {
  const RunConfig *cfg = &j->cfg;
  long k = j->step;
  int epoch = (int)(k / j->steps_per_epoch), pos = (int)(k % j->steps_per_epoch);
  if (epoch != j->order_epoch) {
    for (int i = 0; i < j->train.n; i++) j->order[i] = i;
    Rng r;
    rng_init(&r, (uint64_t)cfg->seed, STREAM_SHUFFLE(epoch));
    rng_shuffle(&r, j->order, j->train.n);
    j->order_epoch = epoch;
  }
  int start = pos * cfg->batch_size;
  int B = j->train.n - start < cfg->batch_size ? j->train.n - start : cfg->batch_size;
  Batch b = stage(&j->train, j->order + start, B, j->bids, j->btypes, j->bmask, j->blabels);
  Mode mode = {1, (uint64_t)cfg->seed, k};
  bert_zero_grad(&j->m);
  const float pm = (float)cfg->mixout;
  if (pm > 0) {
    mixout_masks(&j->m, j->mix_scale, pm, (uint64_t)cfg->seed, k);
    mixout_apply(&j->m, j->init_params, j->mix_scale, pm, j->mix_saved);
  }
  const float loss = bert_forward(&j->m, &j->acts, &b, &mode);
  bert_backward(&j->m, &j->acts, &b);
  if (pm > 0) mixout_restore(&j->m, j->mix_saved, j->mix_scale);
  const float gnorm = optim_grad_norm(j->m.grads, j->m.nparams);
  const float lr = optim_lr_schedule((float)cfg->learning_rate, k, j->warmup_steps, j->total_steps);
  optim_step(&j->opt, &j->m, lr, optim_clip_coef(gnorm, (float)cfg->max_grad_norm));
  j->step++;
  for (int i = 0; i < NMETRICS; i++) out->v[i] = NAN;
  out->v[DS_LOSS] = loss;
  out->v[DS_LR] = lr;
  out->v[DS_GNORM] = gnorm;
}

void job_eval(Job *j, EvalMetrics *out) { job_eval_stoppable(j, out, NULL, NULL); }

/* Dev examples dev_order[s, s + B) on worker w: their predictions into pred; returns the
   batch's loss summed over its examples. */
static double eval_batch(const Job *j, EvalWorker *w, int s, int B, int *pred) {
  const int C = j->m.cfg.num_labels;
  for (int b = 0; b < B; b++) w->idx[b] = j->dev_order[s + b];
  Batch bt = stage(&j->dev, w->idx, B, w->ids, w->types, w->mask, w->labels);
  const float *logits = bert_infer(&j->m, &w->infer, &bt);
  for (int i = 0; i < B; i++) pred[w->idx[i]] = metrics_argmax(logits + (long)i * C, C);
  return (double)cross_entropy(NULL, NULL, logits, bt.labels, B, C) * B;
}

int job_eval_stoppable(Job *j, EvalMetrics *out, JobStopFn stop, void *ctx) {
  const Encoded *x = &j->dev;
  const int EB = j->cfg.eval_batch_size, nb = (x->n + EB - 1) / EB, nw = j->eval_workers;
  int *pred = malloc(sizeof(int) * (size_t)x->n);
  double *batch_loss = malloc(sizeof(double) * (size_t)(nb > 0 ? nb : 1)), loss = 0.0;
  int stopped = 0;
  if (pred && batch_loss) {
    /* batches shared out as workers come free (longest first, so they even out); the
       stop is polled on the calling thread (thread 0: MPI is FUNNELED) before each of its
       batches, and the others see it before their next one. Inner parallel regions
       (operations, OpenBLAS) run on one thread each here. */
#pragma omp parallel num_threads(nw) if (nw > 1)
    {
      EvalWorker *w = &j->eval[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
      for (int b = 0; b < nb; b++) {
        int halt;
        if (stop && omp_get_thread_num() == 0 && stop(ctx)) {
#pragma omp atomic write
          stopped = 1;
        }
#pragma omp atomic read
        halt = stopped;
        if (halt) continue;
        const int s = b * EB, B = x->n - s < EB ? x->n - s : EB;
        batch_loss[b] = eval_batch(j, w, s, B, pred);
        fault_eval_delay();
      }
    }
  }
  if (stopped) {
    free(pred);
    free(batch_loss);
    return 1;
  }
  for (int b = 0; pred && batch_loss && b < nb; b++) loss += batch_loss[b];
  for (int i = 0; i < NMETRICS; i++) out->v[i] = NAN;
  out->v[DS_ESTEP] = (double)j->step;
  if (pred && batch_loss) {
    out->v[DS_ELOSS] = loss / x->n;
    class_metrics(x->label, pred, x->n, j->labels.n, &out->v[DS_ACC], &out->v[DS_F1]);
  }
  /* the first evaluation is the best so far, whatever it is; after that a higher accuracy
     is, and a number replaces a NaN best, but a NaN never replaces a number */
  const double acc = out->v[DS_ACC];
  if (isnan(j->best_acc) ? !isnan(acc) || j->best_step < 0 : acc > j->best_acc) {
    j->best_acc = acc;
    j->best_step = j->step;
    j->since_best = 0;
  } else {
    j->since_best++;
  }
  free(pred);
  free(batch_loss);
  return 0;
}

int job_finished(const Job *j) {
  return j->step >= j->total_steps || (j->cfg.patience > 0 && j->since_best >= j->cfg.patience);
}

/* The evaluation schedule, the one place it is written: after updates eval_every,
   2 eval_every, ... and after the last update (only then when eval_every is 0). */
static int eval_after(int eval_every, long total_steps, long step) {
  return step >= total_steps || (eval_every > 0 && step % eval_every == 0);
}

long job_evals_through(int eval_every, long total_steps, long step) {
  if (step <= 0) return 0;
  long n = eval_every > 0 ? (step < total_steps ? step : total_steps) / eval_every : 0;
  return n + (step >= total_steps && !(eval_every > 0 && total_steps % eval_every == 0));
}

int job_eval_due(const Job *j) { return eval_after(j->cfg.eval_every, j->total_steps, j->step); }

void job_restore(Job *j, long step, long opt_t, double best_acc, long best_step) {
  j->step = step;
  j->opt.t = opt_t;
  j->order_epoch = -1;
  j->best_acc = best_acc;
  j->best_step = best_step;
  /* the evaluations after the best one: early stopping continues exactly */
  j->since_best = best_step >= 0 ? (int)(job_evals_through(j->cfg.eval_every, j->total_steps, step) -
                                         job_evals_through(j->cfg.eval_every, j->total_steps, best_step))
                                 : 0;
}

/* tokenizer_config.json as the run tokenised: lower-casing and the BasicTokenizer options. */
static int write_tokenizer_config(const char *dir, const Tokenizer *t, Err *e) {
  cJSON *r = cJSON_CreateObject(), *ns = r ? cJSON_AddArrayToObject(r, "never_split") : NULL;
  if (!ns) { cJSON_Delete(r); return errf(e, "out of memory"); }
  cJSON_AddStringToObject(r, "tokenizer_class", "BertTokenizer");
  cJSON_AddBoolToObject(r, "do_lower_case", t->do_lower_case);
  cJSON_AddBoolToObject(r, "tokenize_chinese_chars", t->opt.chinese_chars);
  if (t->opt.strip_accents < 0) cJSON_AddNullToObject(r, "strip_accents");
  else cJSON_AddBoolToObject(r, "strip_accents", t->opt.strip_accents);
  for (int i = 0; i < t->opt.n_never_split; i++) cJSON_AddItemToArray(ns, cJSON_CreateString(t->opt.never_split[i]));
  char *text = cJSON_Print(r), path[4200];
  cJSON_Delete(r);
  if (!text) return errf(e, "out of memory");
  snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
  int rc = write_file_atomic(path, text, strlen(text), e);
  cJSON_free(text);
  return rc;
}

int job_save_model(const Job *j, const char *dir, Err *e) {
  return hf_save(dir, &j->m, j->hf.vocab, j->hf.vocab_n, NULL, 0, 1, j->labels.names, e) ||
                 write_tokenizer_config(dir, &j->tok, e)
             ? -1
             : 0;
}
