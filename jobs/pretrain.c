#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "io/fileutil.h"
#include "src/clock.h"
#include "io/hfmodel.h"
#include "jobs/pretrain.h"
#include "src/mlm.h"
#include "src/optim.h"
#include "src/rng.h"
#include "src/vocab_build.h"

#define STREAM_MASKING(step) ((4ull << 40) | (uint64_t)(step))

void pretrain_defaults(PretrainConfig *c) {
  *c = (PretrainConfig){.vocab_size = 8000, .min_count = 3, .layers = 4, .hidden = 256, .heads = 4, .seq = 128,
                        .batch = 32, .threads = 0, .save_every = 500, .log_every = 20, .steps = 3000, .lr = 5e-4,
                        .warmup_ratio = 0.06, .weight_decay = 0.01, .seed = 1};
}

typedef struct {
  int n, T;
  int *ids, *len; /* [n*T], [n] */
} Packed;

/* Packs the encoded lines into sequences of at most T tokens. */
static int pack(const Tokenizer *t, char **lines, int nl, int T, Packed *p, Err *e) {
  int cap = 1024, *tmp = malloc(sizeof(int) * (size_t)T);
  p->T = T;
  p->n = 0;
  p->ids = malloc(sizeof(int) * (size_t)cap * T);
  p->len = malloc(sizeof(int) * (size_t)cap);
  if (!tmp || !p->ids || !p->len) { free(tmp); return errf(e, "out of memory"); }
  int *cur = NULL, curlen = 0;
  for (int i = 0; i < nl; i++) {
    int n = tok_encode(t, lines[i], tmp, T - 2);
    if (n <= 0) continue;
    if (!cur || curlen + n + 1 > T) {
      if (p->n == cap) {
        cap *= 2;
        int *ni = realloc(p->ids, sizeof(int) * (size_t)cap * T), *nl2 = realloc(p->len, sizeof(int) * (size_t)cap);
        if (ni) p->ids = ni;
        if (nl2) p->len = nl2;
        if (!ni || !nl2) { free(tmp); return errf(e, "out of memory packing the corpus"); }
      }
      cur = p->ids + (long)p->n * T;
      for (int k = 0; k < T; k++) cur[k] = t->pad;
      cur[0] = t->cls;
      curlen = 1;
      p->n++;
    }
    memcpy(cur + curlen, tmp, sizeof(int) * (size_t)n);
    curlen += n;
    cur[curlen++] = t->sep;
    p->len[p->n - 1] = curlen;
  }
  free(tmp);
  return p->n > 0 ? 0 : errf(e, "the corpus has no text");
}

typedef struct {
  const PretrainConfig *c;
  Tokenizer tok;
  char **vocab;
  int nv;
  Packed data;
  Bert m;
  MlmHead head;
  Acts a;
  Optim om, oh;
  int *ids, *types, *mask, *pos, *target, *order;
} Pre;

/* The batch of update k with its masking (from (seed, k) alone). Returns the masked count. */
static int make_batch(Pre *p, long k, Batch *b) {
  const PretrainConfig *c = p->c;
  const int T = c->seq, N = p->data.n, B = c->batch;
  long first = k * B;
  int epoch = (int)(first / N);
  if (k == 0 || (first % N) < B) { /* a new epoch began within this batch: reshuffle for it */
    for (int i = 0; i < N; i++) p->order[i] = i;
    Rng r;
    rng_init(&r, (uint64_t)c->seed, STREAM_SHUFFLE(epoch));
    rng_shuffle(&r, p->order, N);
  }
  Rng r;
  rng_init(&r, (uint64_t)c->seed, STREAM_MASKING(k));
  int M = 0, maxlen = 1;
  for (int i = 0; i < B; i++) {
    int s = p->order[(first + i) % N];
    maxlen = p->data.len[s] > maxlen ? p->data.len[s] : maxlen;
  }
  for (int i = 0; i < B; i++) {
    int s = p->order[(first + i) % N];
    const int *src = p->data.ids + (long)s * T;
    for (int t = 0; t < maxlen; t++) {
      int id = src[t], o = i * maxlen + t;
      p->types[o] = 0;
      p->mask[o] = t < p->data.len[s];
      p->ids[o] = id;
      if (id == p->tok.cls || id == p->tok.sep || id == p->tok.pad) continue;
      if (rng_uniform(&r) >= 0.15f) continue;
      p->pos[M] = o;
      p->target[M++] = id;
      float u = rng_uniform(&r);
      if (u < 0.8f) p->ids[o] = p->tok.mask;
      else if (u < 0.9f) p->ids[o] = 106 + (int)rng_below(&r, (uint32_t)(p->nv - 106));
    }
  }
  *b = (Batch){B, maxlen, p->ids, p->types, p->mask, NULL};
  return M;
}

static int save(Pre *p, Err *e) {
  StOut extra[5];
  for (int i = 0; i < 5; i++) {
    const ParamInfo *pi = &p->head.info[i];
    extra[i] = (StOut){pi->name, p->head.params + pi->offset, pi->cols == 1 ? 1 : 2, {pi->rows, pi->cols}};
  }
  if (hf_save(p->c->out, &p->m, p->vocab, p->nv, extra, 5, 0, e)) return -1;
  char path[4200];
  snprintf(path, sizeof path, "%s/tokenizer_config.json", p->c->out);
  const char *tc = "{\"do_lower_case\": false, \"tokenize_chinese_chars\": true}\n";
  return write_file_atomic(path, tc, strlen(tc), e);
}

static int setup(Pre *p, Err *e) {
  const PretrainConfig *c = p->c;
  size_t size;
  char *buf = read_file(c->corpus, &size, e), **lines = NULL;
  if (!buf) return -1;
  int nl = split_lines(buf, size, c->corpus, &lines, e), rc = nl < 0 ? -1 : 0;
  if (!rc) rc = (p->nv = vocab_build(lines, nl, c->vocab_size, c->min_count, &p->vocab, e)) < 0 ? -1 : 0;
  if (!rc) rc = tok_init(&p->tok, p->vocab, p->nv, 0, "built vocabulary", e);
  if (!rc) rc = pack(&p->tok, lines, nl, c->seq, &p->data, e);
  free(lines);
  free(buf);
  if (rc) return -1;
  BertConfig bc = {p->nv, c->hidden, c->layers, c->heads, 4 * c->hidden, c->seq, 2, 2, 1e-12f, 0.02f,
                   0.1f, 0.1f, 0.1f, 0};
  if (bert_alloc(&p->m, &bc, e) || mlm_alloc(&p->head, &bc, c->batch * c->seq, e) ||
      acts_alloc(&p->a, &bc, c->batch, c->seq, e))
    return -1;
  /* init streams 1000 + group: models/poetry-zh-tiny was trained with these */
  for (int g = -1; g <= c->layers + 1; g++) bert_init_group(&p->m, g, (uint64_t)c->seed, 1000 + (uint64_t)(g + 1));
  memset(p->m.p.word, 0, sizeof(float) * (size_t)c->hidden); /* [PAD]'s row, as HF's padding_idx */
  mlm_init(&p->head, bc.init_range, (uint64_t)c->seed);
  OptConfig oc = {OPT_HF_ADAMW, 1, 0.9f, 0.999f, 1e-6f, (float)c->weight_decay, 1.0f, 0};
  if (optim_init(&p->om, &oc, p->m.nparams, e) || optim_init(&p->oh, &oc, p->head.n, e)) return -1;
  size_t BT = (size_t)c->batch * c->seq;
  p->ids = malloc(sizeof(int) * BT);
  p->types = malloc(sizeof(int) * BT);
  p->mask = malloc(sizeof(int) * BT);
  p->pos = malloc(sizeof(int) * BT);
  p->target = malloc(sizeof(int) * BT);
  p->order = malloc(sizeof(int) * (size_t)p->data.n);
  if (!p->ids || !p->types || !p->mask || !p->pos || !p->target || !p->order) return errf(e, "out of memory");
  return 0;
}

static void teardown(Pre *p) {
  free(p->ids); free(p->types); free(p->mask); free(p->pos); free(p->target); free(p->order);
  free(p->data.ids); free(p->data.len);
  optim_free(&p->om);
  optim_free(&p->oh);
  acts_free(&p->a);
  mlm_free(&p->head);
  bert_free(&p->m);
  tok_free(&p->tok);
  if (p->vocab) vocab_free(p->vocab, p->nv);
}

int pretrain_run(const PretrainConfig *c, Err *e) {
  if (c->threads > 0) omp_set_num_threads(c->threads);
  Pre p = {0};
  p.c = c;
  if (setup(&p, e)) { teardown(&p); return errctx(e, "pretrain"); }
  char logpath[4200];
  if (mkdir_p(c->out, e)) { teardown(&p); return -1; }
  snprintf(logpath, sizeof logpath, "%s/pretrain_log.tsv", c->out);
  FILE *log = fopen(logpath, "w");
  if (!log) { teardown(&p); return errf(e, "%s: cannot create", logpath); }
  fprintf(log, "# corpus %s: %d sequences of <= %d tokens; vocab %d; %d layers, hidden %d, %d heads; batch %d, "
               "lr %g, %ld steps, %d threads\nstep\tmlm_loss\tmasked_acc\tlr\tseconds\n",
          c->corpus, p.data.n, c->seq, p.nv, c->layers, c->hidden, c->heads, c->batch, c->lr, c->steps,
          omp_get_max_threads());
  printf("pretrain: %d sequences, vocab %d, %zu parameters, %ld steps\n", p.data.n, p.nv, p.m.nparams, c->steps);
  long warm = (long)(c->warmup_ratio * (double)c->steps + 0.999);
  double t0 = clock_seconds(), lsum = 0;
  long msum = 0, csum = 0;
  int rc = 0;
  for (long k = 0; k < c->steps && !rc; k++) {
    Batch b;
    int M = make_batch(&p, k, &b), correct = 0;
    Mode mode = {1, (uint64_t)c->seed, k};
    bert_zero_grad(&p.m);
    memset(p.head.grads, 0, sizeof(float) * p.head.n);
    const float *hidden = bert_encode(&p.m, &p.a, &b, &mode);
    float loss = M ? mlm_forward(&p.head, &p.m, hidden, p.pos, p.target, M, &correct) : 0.0f;
    memset(p.a.dx, 0, sizeof(float) * (size_t)b.B * b.T * c->hidden);
    if (M) mlm_backward(&p.head, &p.m, p.a.dx, p.pos, M);
    bert_encode_backward(&p.m, &p.a, &b);
    optim_clip_grad_norm2(p.m.grads, p.m.nparams, p.head.grads, p.head.n, 1.0f);
    float lr = optim_lr_schedule((float)c->lr, k, warm, c->steps);
    optim_step(&p.om, &p.m, lr);
    optim_step_tensors(&p.oh, p.head.info, 5, p.head.params, p.head.grads, c->layers, lr);
    lsum += loss * M;
    msum += M;
    csum += correct;
    if ((k + 1) % c->log_every == 0 || k + 1 == c->steps) {
      double t = clock_seconds() - t0;
      fprintf(log, "%ld\t%.4f\t%.4f\t%.3e\t%.0f\n", k + 1, lsum / (msum ? msum : 1), (double)csum / (msum ? msum : 1), lr, t);
      fflush(log);
      printf("step %ld/%ld  mlm loss %.4f  masked acc %.3f  lr %.2e  %.0fs\n", k + 1, c->steps, lsum / (msum ? msum : 1),
             (double)csum / (msum ? msum : 1), lr, t);
      fflush(stdout);
      lsum = 0;
      msum = csum = 0;
    }
    if (c->save_every > 0 && (k + 1) % c->save_every == 0) rc = save(&p, e);
  }
  if (!rc) rc = save(&p, e);
  fclose(log);
  teardown(&p);
  return rc;
}
