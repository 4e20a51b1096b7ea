#include <assert.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "io/fileutil.h"
#include "src/clock.h"
#include "src/fault.h"
#include "io/hfmodel.h"
#include "jobs/pretrain.h"
#include "src/mlm.h"
#include "src/optim.h"
#include "src/rng.h"
#include "src/vocab_build.h"


void pretrain_defaults(PretrainConfig *c) {
  *c = (PretrainConfig){.vocab_size = 8000, .min_count = 3, .layers = 4, .hidden = 256, .heads = 4, .seq = 128,
                        .batch = 32, .threads = 0, .save_every = 500, .log_every = 20, .steps = 3000, .lr = 5e-4,
                        .warmup_ratio = 0.06, .weight_decay = 0.01, .seed = 1, .whole_word = 1, .chinese_chars = 1};
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
  long order_epoch;
  unsigned char *is_piece; /* [nv] token starts with "##" */
  uint32_t corpus_crc, vocab_crc; /* a resume needs the same text and the same vocabulary */
  int lower;         /* lower-cases text (an --init model's tokenizer_config.json says so) */
  int chinese_chars; /* tokenize_chinese_chars: a CJK character is a word of its own */
} Pre;

/* Whole-word masking (HF's DataCollatorForWholeWordMask): a word is a token and the "##"
   pieces that follow it; with a character vocabulary every Chinese character is its own word. */
static int word_len(const Pre *p, const int *src, int t, int len) {
  int n = 1;
  while (p->c->whole_word && t + n < len && p->is_piece[src[t + n]]) n++;
  return n;
}

/* The batch of update k with its masking: a pure function of (seed, k). Returns the masked count. */
static int make_batch(Pre *p, long k, Batch *b) {
  const PretrainConfig *c = p->c;
  const int T = c->seq, N = p->data.n, B = c->batch;
  long first = k * B;
  long epoch = first / N;
  if (p->order_epoch != epoch) { /* the order of an epoch depends on (seed, epoch) alone */
    for (int i = 0; i < N; i++) p->order[i] = i;
    Rng r;
    rng_init(&r, (uint64_t)c->seed, STREAM_SHUFFLE(epoch));
    rng_shuffle(&r, p->order, N);
    p->order_epoch = epoch;
  }
  Rng r;
  rng_init(&r, (uint64_t)c->seed, STREAM_MASKING(k));
  int M = 0, maxlen = 1;
  for (int i = 0; i < B; i++) {
    int s = p->order[(first + i) % N];
    maxlen = p->data.len[s] > maxlen ? p->data.len[s] : maxlen;
  }
  for (int i = 0; i < B; i++) {
    int s = p->order[(first + i) % N], len = p->data.len[s];
    const int *src = p->data.ids + (long)s * T;
    for (int t = 0; t < maxlen; t++) {
      int o = i * maxlen + t;
      p->types[o] = 0;
      p->mask[o] = t < len;
      p->ids[o] = src[t];
    }
    for (int t = 0, w; t < len; t += w) {
      w = word_len(p, src, t, len);
      int id = src[t];
      if (id == p->tok.cls || id == p->tok.sep || id == p->tok.pad) continue;
      if (rng_uniform(&r) >= 0.15f) continue;
      float u = rng_uniform(&r); /* 80% [MASK], 10% a random token, 10% kept; one choice per word */
      for (int j = t; j < t + w; j++) {
        int o = i * maxlen + j;
        p->pos[M] = o;
        p->target[M++] = src[j];
        if (u < 0.8f) p->ids[o] = p->tok.mask;
        else if (u < 0.9f) p->ids[o] = 106 + (int)rng_below(&r, (uint32_t)(p->nv - 106));
      }
    }
  }
  *b = (Batch){B, maxlen, p->ids, p->types, p->mask, NULL};
  return M;
}

/* The resumable state, one safetensors file: what a resume must match (meta), the weights and
   both AdamW moments. Written after the model directory, so a kill between the two leaves a
   state that resumes and re-exports. */
#define STATE_FILE "pretrain_state.safetensors"
enum { M_STEP, M_SECONDS, M_LAYERS, M_HIDDEN, M_HEADS, M_SEQ, M_BATCH, M_STEPS, M_SEED, M_VOCAB, M_SEQUENCES,
       M_LR, M_WARMUP, M_WD, M_WHOLE_WORD, M_CORPUS_LO, M_CORPUS_HI, M_CHINESE_CHARS, M_VOCAB_LO, M_VOCAB_HI, M_N };
/* older states hold the first M_CORPUS_LO (before the corpus check) or M_CHINESE_CHARS entries */
static const char *const META_NAMES[] = {"step", "seconds", "--layers", "--hidden", "--heads", "--seq", "--batch",
                                      "--steps", "--seed", "vocabulary size", "sequence count", "--lr",
                                      "--warmup", "--weight-decay", "--whole-word",
                                      "the corpus's CRC-32 (low half)", "the corpus's CRC-32 (high half)",
                                      "--chinese-chars", "the vocabulary's CRC-32 (low half)",
                                      "the vocabulary's CRC-32 (high half)"};
static_assert(sizeof META_NAMES / sizeof *META_NAMES == M_N, "META_NAMES names every M_ field");

static void meta_fill(const Pre *p, long step, double secs, float *meta) {
  const PretrainConfig *c = p->c;
  const double v[M_N] = {(double)step, secs, c->layers, c->hidden, c->heads, c->seq, c->batch, (double)c->steps,
                         c->seed, p->nv, p->data.n, c->lr, c->warmup_ratio, c->weight_decay, c->whole_word,
                         (double)(p->corpus_crc & 0xffff), (double)(p->corpus_crc >> 16), p->chinese_chars,
                         (double)(p->vocab_crc & 0xffff), (double)(p->vocab_crc >> 16)}; /* exact in float */
  for (int i = 0; i < M_N; i++) meta[i] = (float)v[i];
}

static int state_tensors(Pre *p, float *meta, StOut *st) {
  const int64_t nm = (int64_t)p->m.nparams, nh = (int64_t)p->head.n;
  st[0] = (StOut){"meta", meta, 1, {M_N}};
  st[1] = (StOut){"model", p->m.params, 1, {nm}};
  st[2] = (StOut){"model.adam_m", p->om.m, 1, {nm}};
  st[3] = (StOut){"model.adam_v", p->om.v, 1, {nm}};
  st[4] = (StOut){"head", p->head.params, 1, {nh}};
  st[5] = (StOut){"head.adam_m", p->oh.m, 1, {nh}};
  st[6] = (StOut){"head.adam_v", p->oh.v, 1, {nh}};
  return 7;
}

static int save(Pre *p, long step, double secs, Err *e) {
  StOut extra[5];
  for (int i = 0; i < 5; i++) {
    const ParamInfo *pi = &p->head.info[i];
    extra[i] = (StOut){pi->name, p->head.params + pi->offset, pi->cols == 1 ? 1 : 2, {pi->rows, pi->cols}};
  }
  if (hf_save(p->c->out, &p->m, p->vocab, p->nv, extra, 5, 0, NULL, e)) return -1;
  char path[4200];
  snprintf(path, sizeof path, "%s/tokenizer_config.json", p->c->out);
  char tc[128];
  int n = snprintf(tc, sizeof tc, "{\"do_lower_case\": %s, \"tokenize_chinese_chars\": %s}\n",
                   p->lower ? "true" : "false", p->chinese_chars ? "true" : "false");
  if (write_file_atomic(path, tc, (size_t)n, e)) return -1;
  float meta[M_N];
  StOut st[8];
  meta_fill(p, step, secs, meta);
  snprintf(path, sizeof path, "%s/" STATE_FILE, p->c->out);
  return st_write_f32(path, st, state_tensors(p, meta, st), e);
}

/* Loads OUT/pretrain_state.safetensors when there is one: *k0 = the updates it holds. */
static int resume(Pre *p, long *k0, double *secs, Err *e) {
  char path[4200];
  snprintf(path, sizeof path, "%s/" STATE_FILE, p->c->out);
  *k0 = 0;
  *secs = 0;
  if (access(path, F_OK) != 0) return 0;
  TensorFile f;
  if (st_open(&f, path, e)) return errctx(e, "pretrain --resume");
  float meta[M_N], now[M_N];
  StOut st[8];
  int n = state_tensors(p, meta, st), rc = 0, nmeta = M_N;
  for (int i = 0; i < n && !rc; i++) {
    const TensorEntry *t = st_find(&f, st[i].name);
    size_t want = (size_t)st[i].shape[0], got = t ? st_numel(t) : 0;
    int older = i == 0 && (got == M_CORPUS_LO || got == M_CHINESE_CHARS);
    if (older) nmeta = (int)got;
    if (!t || t->dtype != TENSOR_F32 || (got != want && !older))
      rc = errf(e, "%s: tensor '%s' missing or of the wrong size", path, st[i].name);
    else
      st_read_f32(&f, t, (float *)st[i].data);
  }
  st_close(&f);
  if (rc) return rc;
  meta_fill(p, 0, 0, now);
  if (nmeta == M_CORPUS_LO) fprintf(stderr, "bertsweep: warning: %s predates the corpus check: make sure the corpus is the one it began with\n", path);
  for (int i = M_LAYERS; i < nmeta; i++)
    if (meta[i] != now[i])
      return errf(e, "%s: %s was %g when this pre-training began, %g now; use another --out or the same options",
                  path, META_NAMES[i], (double)meta[i], (double)now[i]);
  *k0 = (long)meta[M_STEP];
  *secs = meta[M_SECONDS];
  p->om.t = p->oh.t = *k0;
  return 0;
}

/* Keeps the log's header and the rows of the first k0 updates (a kill can leave later ones). */
static int log_truncate(const char *path, long k0, Err *e) {
  size_t size;
  char *buf = read_file(path, &size, e), **lines = NULL;
  if (!buf) return -1;
  int n = split_lines(buf, size, path, &lines, e);
  size_t cap = size + 1, len = 0;
  char *out = n < 0 ? NULL : malloc(cap);
  int rc = n < 0 ? -1 : out ? 0 : errf(e, "out of memory");
  for (int i = 0; i < n && !rc; i++) {
    char *end;
    long step = strtol(lines[i], &end, 10);
    if (end != lines[i] && step > k0) break;
    len += (size_t)snprintf(out + len, cap - len, "%s\n", lines[i]);
  }
  if (!rc) rc = write_file_atomic(path, out, len, e);
  free(out);
  free(lines);
  free(buf);
  return rc;
}

/* --init: the vocabulary, shape, weights and (when saved) MLM head of a model directory; the
   shape options are replaced by the model's, so that a resume checks them. */
static int load_init(Pre *p, PretrainConfig *c, Err *e) {
  HfDir d;
  if (hf_open(&d, c->init, e)) return -1;
  int rc = 0;
  if (d.vocab_n != d.cfg.vocab_size)
    rc = errf(e, "%s/vocab.txt: %d tokens, config.json's vocab_size is %d (pre-training needs them equal)", c->init,
              d.vocab_n, d.cfg.vocab_size);
  else if (c->seq > d.cfg.max_position)
    rc = errf(e, "--seq %d exceeds %s's max_position_embeddings %d", c->seq, c->init, d.cfg.max_position);
  if (!rc && !(p->vocab = calloc((size_t)d.vocab_n, sizeof(char *)))) rc = errf(e, "out of memory");
  for (int i = 0; !rc && i < d.vocab_n; i++, p->nv = i)
    if (!(p->vocab[i] = strdup(d.vocab[i]))) rc = errf(e, "out of memory");
  BertConfig bc = d.cfg;
  bc.num_labels = 2;
  c->layers = bc.layers, c->hidden = bc.hidden, c->heads = bc.heads, c->vocab_size = bc.vocab_size;
  p->lower = d.has_lower_case && d.do_lower_case;
  p->chinese_chars = d.tok_opts.chinese_chars;
  if (!rc && !p->chinese_chars && c->whole_word)
    rc = errf(e, "its tokenizer_config.json sets tokenize_chinese_chars false: use --whole-word 0 (a run of Chinese "
                 "text would be one word)");
  int has_head, has_pooler;
  if (!rc) rc = bert_alloc(&p->m, &bc, e) || mlm_alloc(&p->head, &bc, c->batch * c->seq, e) ||
                hf_load_weights(&d, &p->m, &has_head, &has_pooler, e);
  int found = 0;
  if (!rc) rc = hf_load_mlm_head(&d, &p->head, &found, e);
  if (!rc && !found) {
    mlm_init(&p->head, bc.init_range, (uint64_t)c->seed);
    printf("pretrain: %s has no masked-LM head (cls.predictions.*): a new one is initialised\n", c->init);
  }
  hf_close(&d);
  return rc ? errctx(e, "--init %s", c->init) : 0;
}

/* --vocab: the vocabulary of a vocab.txt, one token per line (ids = line numbers). */
static int load_vocab(Pre *p, PretrainConfig *c, Err *e) {
  size_t size;
  char *buf = read_file(c->vocab, &size, e), **lines = NULL;
  int n = buf ? split_lines(buf, size, c->vocab, &lines, e) : -1, rc = n < 0 ? -1 : 0;
  if (!rc && n > 0 && !lines[n - 1][0]) n--; /* the trailing newline */
  if (!rc && !(p->vocab = calloc((size_t)n, sizeof(char *)))) rc = errf(e, "out of memory");
  for (int i = 0; !rc && i < n; i++, p->nv = i)
    if (!(p->vocab[i] = strdup(lines[i]))) rc = errf(e, "out of memory");
  c->vocab_size = p->nv;
  free(lines);
  free(buf);
  return rc;
}

/* A vocabulary that reads most of the corpus as [UNK] teaches the model to predict [UNK] (its
   masked accuracy looks perfect and means nothing): refused, saying by how much. */
static int check_unk(const Pre *p, const char *vsrc, Err *e) {
  const Tokenizer *t = &p->tok;
  long n = 0, unk = 0;
  for (int s = 0; s < p->data.n; s++)
    for (int k = 0; k < p->data.len[s]; k++) {
      int id = p->data.ids[(size_t)s * p->data.T + k];
      if (id == t->cls || id == t->sep || id == t->pad) continue;
      n++;
      unk += id == t->unk;
    }
  if (n && unk * 2 > n)
    return errf(e, "%s: %.0f%% of the corpus's tokens are [UNK] (%d tokens are too few for this corpus, or the "
                   "vocabulary is another language's): raise --vocab-size or give a vocabulary that fits",
                vsrc, 100.0 * (double)unk / (double)n, p->nv);
  return 0;
}

static int setup(Pre *p, PretrainConfig *c, Err *e) {
  size_t size;
  char *buf = read_file(c->corpus, &size, e), **lines = NULL;
  if (!buf) return -1;
  p->corpus_crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)buf, (uInt)size); /* a resume needs the same text */
  int nl = split_lines(buf, size, c->corpus, &lines, e), rc = nl < 0 ? -1 : 0;
  p->chinese_chars = c->chinese_chars;
  if (!rc && c->init) rc = load_init(p, c, e);
  else if (!rc && c->vocab) rc = load_vocab(p, c, e);
  else if (!rc) rc = (p->nv = vocab_build(lines, nl, c->vocab_size, c->min_count, &p->vocab, e)) < 0 ? -1 : 0;
  const char *vsrc = c->init ? c->init : c->vocab ? c->vocab : "built vocabulary";
  if (!rc && p->nv < 106) /* masking draws random tokens from id 106 on (after [unused], specials, <S>, <T>) */
    rc = errf(e, "%s: %d tokens; a vocabulary in bert-base-chinese's layout has at least 106", vsrc, p->nv);
  if (!rc) rc = tok_init(&p->tok, p->vocab, p->nv, p->lower, vsrc, e);
  p->tok.opt.chinese_chars = p->chinese_chars;
  p->vocab_crc = (uint32_t)crc32(0L, Z_NULL, 0);
  for (int i = 0; !rc && i < p->nv; i++)
    p->vocab_crc = (uint32_t)crc32(crc32(p->vocab_crc, (const Bytef *)p->vocab[i], (uInt)strlen(p->vocab[i])),
                                   (const Bytef *)"\n", 1);
  if (!rc) rc = pack(&p->tok, lines, nl, c->seq, &p->data, e);
  if (!rc) rc = check_unk(p, vsrc, e);
  if (!rc && !(p->is_piece = calloc((size_t)p->nv, 1))) rc = errf(e, "out of memory");
  for (int i = 0; !rc && i < p->nv; i++) p->is_piece[i] = !strncmp(p->vocab[i], "##", 2);
  free(lines);
  free(buf);
  if (rc) return -1;
  if (!c->init) {
    BertConfig bc = {p->nv, c->hidden, c->layers, c->heads, 4 * c->hidden, c->seq, 2, 2, 1e-12f, 0.02f,
                     0.1f, 0.1f, 0.1f, 0};
    if (bert_alloc(&p->m, &bc, e) || mlm_alloc(&p->head, &bc, c->batch * c->seq, e)) return -1;
    /* init streams 1000 + group: models/poetry-zh-tiny was trained with these */
    for (int g = -1; g <= c->layers + 1; g++) bert_init_group(&p->m, g, (uint64_t)c->seed, 1000 + (uint64_t)(g + 1));
    memset(p->m.p.word, 0, sizeof(float) * (size_t)c->hidden); /* [PAD]'s row, as HF's padding_idx */
    mlm_init(&p->head, bc.init_range, (uint64_t)c->seed);
  }
  if (acts_alloc(&p->a, &p->m.cfg, c->batch, c->seq, e)) return -1;
  OptConfig oc = OPT_CONFIG_DEFAULTS;
  oc.eps = 1e-6f; /* BERT's pre-training */
  oc.weight_decay = (float)c->weight_decay;
  if (optim_init(&p->om, &oc, p->m.nparams, e) || optim_init(&p->oh, &oc, p->head.n, e)) return -1;
  size_t BT = (size_t)c->batch * c->seq;
  p->ids = malloc(sizeof(int) * BT);
  p->types = malloc(sizeof(int) * BT);
  p->mask = malloc(sizeof(int) * BT);
  p->pos = malloc(sizeof(int) * BT);
  p->target = malloc(sizeof(int) * BT);
  p->order = malloc(sizeof(int) * (size_t)p->data.n);
  p->order_epoch = -1;
  if (!p->ids || !p->types || !p->mask || !p->pos || !p->target || !p->order) return errf(e, "out of memory");
  return 0;
}

static void teardown(Pre *p) {
  free(p->ids); free(p->types); free(p->mask); free(p->pos); free(p->target); free(p->order); free(p->is_piece);
  free(p->data.ids); free(p->data.len);
  optim_free(&p->om);
  optim_free(&p->oh);
  acts_free(&p->a);
  mlm_free(&p->head);
  bert_free(&p->m);
  tok_free(&p->tok);
  if (p->vocab) vocab_free(p->vocab, p->nv);
}

int pretrain_run(const PretrainConfig *given, Err *e) {
  PretrainConfig cfg = *given; /* --init replaces the shape options by the model's */
  const PretrainConfig *c = &cfg;
  if (c->threads > 0) omp_set_num_threads(c->threads);
  Pre p = {0};
  p.c = c;
  long k0 = 0;
  double secs0 = 0;
  char logpath[4200];
  snprintf(logpath, sizeof logpath, "%s/pretrain_log.tsv", c->out);
  if (setup(&p, &cfg, e) || mkdir_p(c->out, e) || (c->resume && resume(&p, &k0, &secs0, e)) ||
      (k0 > 0 && log_truncate(logpath, k0, e))) {
    teardown(&p);
    return errctx(e, "pretrain");
  }
  FILE *log = fopen(logpath, k0 > 0 ? "a" : "w");
  if (!log) { teardown(&p); return errf(e, "%s: cannot create", logpath); }
  if (k0 == 0)
    fprintf(log, "# corpus %s%s%s: %d sequences of <= %d tokens; vocab %d; %d layers, hidden %d, %d heads; batch %d, "
                 "lr %g, warmup %g, %ld steps, whole-word masking %s, %d threads\n"
                 "step\tmlm_loss\tmasked_acc\tlr\tseconds\n",
            c->corpus, c->init ? ", starting from " : "", c->init ? c->init : "", p.data.n, c->seq, p.nv, c->layers, c->hidden, c->heads, c->batch, c->lr, c->warmup_ratio,
            c->steps, c->whole_word ? "on" : "off", omp_get_max_threads());
  printf("pretrain: %d sequences, vocab %d, %zu parameters, %ld steps%s\n", p.data.n, p.nv, p.m.nparams, c->steps,
         k0 ? "" : " from the start");
  if (k0) printf("pretrain: resuming after update %ld (%.0f s so far)\n", k0, secs0);
  long warm = (long)(c->warmup_ratio * (double)c->steps + 0.999);
  double t0 = clock_seconds() - secs0, lsum = 0;
  long msum = 0, csum = 0;
  int rc = 0;
  for (long k = k0; k < c->steps && !rc; k++) {
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
    const float clip = optim_clip_coef(optim_grad_norm2(p.m.grads, p.m.nparams, p.head.grads, p.head.n), 1.0f);
    float lr = optim_lr_schedule((float)c->lr, k, warm, c->steps);
    optim_step(&p.om, &p.m, lr, clip);
    optim_step_tensors(&p.oh, p.head.info, 5, p.head.params, p.head.grads, c->layers, lr, clip);
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
    if ((c->save_every > 0 && (k + 1) % c->save_every == 0) || k + 1 == c->steps)
      rc = save(&p, k + 1, clock_seconds() - t0, e);
    fault_kill("killpretrain", 0, k + 1); /* tests: SIGKILL after update k+1 */
  }
  if (!rc && k0 >= c->steps) printf("pretrain: already done (%ld updates)\n", k0);
  if (fclose(log) && !rc) rc = errf(e, "%s: write failed", logpath);
  teardown(&p);
  return rc;
}
