#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "src/bert.h"
#include "src/ops.h"
#include "src/rng.h"

int bert_validate_config(const BertConfig *c, Err *e) {
  if (c->vocab_size <= 0 || c->hidden <= 0 || c->layers < 0 || c->heads <= 0 || c->intermediate <= 0 ||
      c->max_position <= 0 || c->type_vocab <= 0 || c->num_labels <= 0)
    return errf(e, "model sizes must be positive (vocab %d, hidden %d, layers %d, heads %d, intermediate %d, "
                   "positions %d, types %d, labels %d)", c->vocab_size, c->hidden, c->layers, c->heads,
                c->intermediate, c->max_position, c->type_vocab, c->num_labels);
  if (c->hidden % c->heads != 0)
    return errf(e, "hidden_size %d is not a multiple of num_attention_heads %d", c->hidden, c->heads);
  if (c->layers > 300) return errf(e, "num_hidden_layers %d is implausibly large", c->layers);
  return 0;
}

/* ---- parameter layout: one walk defines names, offsets and views ---- */

typedef struct {
  Bert *m;
  int n;
  size_t off;
} Walk;

static void add(Walk *w, const char *name, int rows, int cols, int group, int kind, float **pv, float **gv) {
  Bert *m = w->m;
  if (m->info) {
    ParamInfo *pi = &m->info[w->n];
    snprintf(pi->name, sizeof pi->name, "%s", name);
    pi->rows = rows;
    pi->cols = cols;
    pi->offset = w->off;
    pi->numel = (size_t)rows * cols;
    pi->group = group;
    pi->kind = kind;
  }
  if (m->params) {
    *pv = m->params + w->off;
    *gv = m->grads + w->off;
  }
  w->n++;
  w->off += (size_t)rows * cols;
}

static void add_linear(Walk *w, const char *prefix, int out, int in, int group, LinearView *pv, LinearView *gv) {
  char nm[80];
  snprintf(nm, sizeof nm, "%s.weight", prefix);
  add(w, nm, out, in, group, KIND_WEIGHT, &pv->w, &gv->w);
  snprintf(nm, sizeof nm, "%s.bias", prefix);
  add(w, nm, out, 1, group, KIND_BIAS, &pv->b, &gv->b);
}

static void add_norm(Walk *w, const char *prefix, int n, int group, NormView *pv, NormView *gv) {
  char nm[80];
  snprintf(nm, sizeof nm, "%s.weight", prefix);
  add(w, nm, n, 1, group, KIND_NORM_W, &pv->g, &gv->g);
  snprintf(nm, sizeof nm, "%s.bias", prefix);
  add(w, nm, n, 1, group, KIND_BIAS, &pv->b, &gv->b);
}

static void walk(Bert *m, Walk *w) {
  const BertConfig *c = &m->cfg;
  const int H = c->hidden, I = c->intermediate;
  BertView *p = &m->p, *g = &m->g;
  w->m = m;
  w->n = 0;
  w->off = 0;
  add(w, "embeddings.word_embeddings.weight", c->vocab_size, H, -1, KIND_EMBED, &p->word, &g->word);
  add(w, "embeddings.position_embeddings.weight", c->max_position, H, -1, KIND_EMBED, &p->pos, &g->pos);
  add(w, "embeddings.token_type_embeddings.weight", c->type_vocab, H, -1, KIND_EMBED, &p->type, &g->type);
  add_norm(w, "embeddings.LayerNorm", H, -1, &p->emb_ln, &g->emb_ln);
  for (int l = 0; l < c->layers; l++) {
    LayerView *pl = &p->layer[l], *gl = &g->layer[l];
    char pre[80];
#define LAYER(suffix) (snprintf(pre, sizeof pre, "encoder.layer.%d.%s", l, suffix), pre)
    add_linear(w, LAYER("attention.self.query"), H, H, l, &pl->q, &gl->q);
    add_linear(w, LAYER("attention.self.key"), H, H, l, &pl->k, &gl->k);
    add_linear(w, LAYER("attention.self.value"), H, H, l, &pl->v, &gl->v);
    add_linear(w, LAYER("attention.output.dense"), H, H, l, &pl->attn_out, &gl->attn_out);
    add_norm(w, LAYER("attention.output.LayerNorm"), H, l, &pl->ln1, &gl->ln1);
    add_linear(w, LAYER("intermediate.dense"), I, H, l, &pl->ffn_in, &gl->ffn_in);
    add_linear(w, LAYER("output.dense"), H, I, l, &pl->ffn_out, &gl->ffn_out);
    add_norm(w, LAYER("output.LayerNorm"), H, l, &pl->ln2, &gl->ln2);
#undef LAYER
  }
  add_linear(w, "pooler.dense", H, H, c->layers, &p->pooler, &g->pooler);
  add_linear(w, "classifier", c->num_labels, H, c->layers + 1, &p->classifier, &g->classifier);
}

int bert_layout(Bert *m, const BertConfig *c, Err *e) {
  memset(m, 0, sizeof *m);
  if (bert_validate_config(c, e)) return -1;
  m->cfg = *c;
  m->p.layer = xcalloc((size_t)c->layers, sizeof(LayerView), e);
  m->g.layer = xcalloc((size_t)c->layers, sizeof(LayerView), e);
  if (!m->p.layer || !m->g.layer) goto fail;
  Walk w;
  walk(m, &w); /* count */
  m->ntensors = w.n;
  m->nparams = w.off;
  if (!(m->info = xcalloc((size_t)w.n, sizeof(ParamInfo), e))) goto fail;
  walk(m, &w); /* names and offsets */
  return 0;
fail:
  bert_free(m);
  return errctx(e, "laying out a BERT of %d layers, hidden %d", c->layers, c->hidden);
}

int bert_alloc(Bert *m, const BertConfig *c, Err *e) {
  if (bert_layout(m, c, e)) return -1;
  m->params = xcalloc(m->nparams, sizeof(float), e);
  m->grads = xcalloc(m->nparams, sizeof(float), e);
  if (!m->params || !m->grads) {
    bert_free(m);
    return errctx(e, "allocating a BERT of %d layers, hidden %d", c->layers, c->hidden);
  }
  Walk w;
  walk(m, &w); /* views */
  return 0;
}

void bert_free(Bert *m) {
  free(m->info);
  free(m->params);
  free(m->grads);
  free(m->p.layer);
  free(m->g.layer);
  memset(m, 0, sizeof *m);
}

const ParamInfo *bert_find(const Bert *m, const char *name) {
  for (int i = 0; i < m->ntensors; i++)
    if (strcmp(m->info[i].name, name) == 0) return &m->info[i];
  return NULL;
}

int bert_param_decays(const ParamInfo *pi) { return pi->kind == KIND_WEIGHT || pi->kind == KIND_EMBED; }

void bert_init_group(Bert *m, int group, uint64_t seed, uint64_t stream) {
  Rng r;
  rng_init(&r, seed, stream);
  for (int i = 0; i < m->ntensors; i++) {
    const ParamInfo *pi = &m->info[i];
    if (pi->group != group) continue;
    float *p = m->params + pi->offset;
    for (size_t j = 0; j < pi->numel; j++) {
      switch (pi->kind) {
      case KIND_WEIGHT:
      case KIND_EMBED: p[j] = rng_normal(&r, m->cfg.init_range); break;
      case KIND_NORM_W: p[j] = 1.0f; break;
      default: p[j] = 0.0f;
      }
    }
  }
}

/* Group g draws from its own stream so that e.g. pooler re-init does not shift the head's init. */
#define INIT_STREAM(group) (((uint64_t)STREAM_INIT << 16) | (uint64_t)((group) + 1))

void bert_init_all(Bert *m, uint64_t seed) {
  for (int g = -1; g <= m->cfg.layers + 1; g++) bert_init_group(m, g, seed, INIT_STREAM(g));
  memset(m->p.word, 0, sizeof(float) * (size_t)m->cfg.hidden); /* [PAD]'s row, as HF's padding_idx */
}

void bert_reinit(Bert *m, int head, int pooler, int top_layers, uint64_t seed) {
  const int L = m->cfg.layers;
  if (head) bert_init_group(m, L + 1, seed, INIT_STREAM(L + 1));
  if (pooler) bert_init_group(m, L, seed, INIT_STREAM(L));
  for (int l = L - top_layers; l < L; l++)
    if (l >= 0) bert_init_group(m, l, seed, INIT_STREAM(l));
}

/* ---- activations ---- */

int acts_alloc(Acts *a, const BertConfig *c, int Bmax, int Tmax, Err *e) {
  memset(a, 0, sizeof *a);
  a->Bmax = Bmax;
  a->Tmax = Tmax;
  const size_t BT = (size_t)Bmax * Tmax, H = c->hidden, I = c->intermediate, C = c->num_labels;
  const size_t TT = (size_t)Bmax * c->heads * Tmax * Tmax;
  a->layer = xcalloc((size_t)c->layers, sizeof(LayerActs), e);
  if (!a->layer) return -1;
  /* Two passes over the same list: sum sizes, then hand out pointers. */
  for (int pass = 0; pass < 2; pass++) {
    size_t off = 0, boff = 0;
#define TAKE(ptr, n) do { if (pass) (ptr) = a->buf + off; off += (n); } while (0)
#define TAKEB(ptr, n) do { if (pass) (ptr) = a->bytes + boff; boff += (n); } while (0)
    TAKE(a->mask_add, BT);
    TAKE(a->emb_sum, BT * H); TAKE(a->emb_mean, BT); TAKE(a->emb_rstd, BT);
    TAKE(a->emb_out, BT * H); TAKEB(a->emb_keep, BT * H);
    for (int l = 0; l < c->layers; l++) {
      LayerActs *A = &a->layer[l];
      TAKE(A->q, BT * H); TAKE(A->k, BT * H); TAKE(A->v, BT * H);
      TAKE(A->probs, TT); TAKEB(A->pkeep, TT);
      TAKE(A->ctx, BT * H); TAKEB(A->ao_keep, BT * H); TAKE(A->res1, BT * H);
      TAKE(A->ln1, BT * H); TAKE(A->ln1_mean, BT); TAKE(A->ln1_rstd, BT);
      TAKE(A->ff1, BT * I); TAKEB(A->ff2_keep, BT * H); TAKE(A->res2, BT * H);
      TAKE(A->ln2, BT * H); TAKE(A->ln2_mean, BT); TAKE(A->ln2_rstd, BT);
    }
    TAKE(a->cls_in, Bmax * H); TAKE(a->pool_pre, Bmax * H); TAKE(a->pooled, Bmax * H);
    TAKE(a->cls_x, Bmax * H); TAKE(a->dcls_x, Bmax * H); TAKE(a->dcls_out, Bmax * H);
    TAKEB(a->cls_pkeep, (size_t)Bmax * c->heads * Tmax); TAKEB(a->cls_ao_keep, Bmax * H);
    TAKEB(a->cls_ff2_keep, Bmax * H);
    TAKEB(a->pool_keep, Bmax * H); TAKE(a->pooled_drop, Bmax * H);
    TAKE(a->logits, Bmax * C); TAKE(a->probs, Bmax * C); TAKE(a->dlogits, Bmax * C);
    TAKE(a->ff_act, BT * I);
    TAKE(a->dx, BT * H); TAKE(a->dln1, BT * H); TAKE(a->dtmp, BT * H);
    TAKE(a->dctx, BT * H); TAKE(a->dq, BT * H); TAKE(a->dk, BT * H); TAKE(a->dv, BT * H);
    TAKE(a->dff, BT * I); TAKE(a->dS, TT); TAKE(a->dcls, Bmax * H);
#undef TAKE
#undef TAKEB
    if (!pass) {
      a->size = off;
      a->nbytes = boff;
      a->buf = xcalloc(off, sizeof(float), e);
      a->bytes = a->buf ? xcalloc(boff, 1, e) : NULL;
      if (!a->bytes) {
        free(a->buf);
        free(a->layer);
        a->buf = NULL;
        a->layer = NULL;
        return errctx(e, "activations for batch %d x seq %d", Bmax, Tmax);
      }
    }
  }
  return 0;
}

void acts_free(Acts *a) {
  free(a->buf);
  free(a->bytes);
  free(a->layer);
  memset(a, 0, sizeof *a);
}

/* ---- forward / backward ---- */

/* Dropout sites: 0 embeddings; per layer l: 1+3l probs, 2+3l attention output, 3+3l FFN output;
   3L+1 classifier input. */
static uint8_t *make_keep(uint8_t *buf, long n, float p, const Mode *mode, int site) {
  if (!mode || !mode->train || p <= 0.0f) return NULL;
  rng_dropout_keep(buf, n, p, mode->seed, STREAM_DROPOUT(mode->step, site));
  return buf;
}

/* Backward must see exactly the masks of the forward: the flags decide as in make_keep. */
static const uint8_t *used_keep(const uint8_t *buf, float p, int train) { return train && p > 0.0f ? buf : NULL; }

static float keep_scale(float p) { return 1.0f / (1.0f - p); }

void bert_embed_token(const Bert *m, float *out, int id, int pos, int type) {
  const int H = m->cfg.hidden;
  /* the job refuses data the model cannot embed */
  BS_ASSERT(id >= 0 && id < m->cfg.vocab_size && type >= 0 && type < m->cfg.type_vocab && pos < m->cfg.max_position);
  const float *we = m->p.word + (long)id * H, *pe = m->p.pos + (long)pos * H, *te = m->p.type + (long)type * H;
  for (int j = 0; j < H; j++) out[j] = we[j] + pe[j] + te[j];
}

static void embed_fwd(const Bert *m, float *out, const Batch *bt) {
  const long BT = (long)bt->B * bt->T;
#pragma omp parallel for schedule(static)
  for (long i = 0; i < BT; i++)
    bert_embed_token(m, out + i * m->cfg.hidden, bt->ids[i], (int)(i % bt->T), bt->types[i]);
}

/* Scatter-add into the embedding tables, tokens in order for every element (the same bits at
   any thread count): the threads split the hidden columns, not the tokens. */
static void embed_bwd(Bert *m, const float *d, const Batch *bt) {
  const int H = m->cfg.hidden, T = bt->T;
  const long BT = (long)bt->B * T;
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int per = ((H + nt - 1) / nt + 15) / 16 * 16, j0 = t * per < H ? t * per : H,
              j1 = j0 + per < H ? j0 + per : H;
    for (long i = 0; i < BT; i++) {
      float *gw = m->g.word + (long)bt->ids[i] * H;
      float *gp = m->g.pos + (long)(i % T) * H;
      float *gt = m->g.type + (long)bt->types[i] * H;
      const float *di = d + i * H;
      for (int j = j0; j < j1; j++) {
        gw[j] += di[j];
        gp[j] += di[j];
        gt[j] += di[j];
      }
    }
  }
}

void bert_stack_qkv(const LayerView *P, int first, int n, int H, float *w) {
  const LinearView *part[3] = {&P->q, &P->k, &P->v};
  const long HH = (long)H * H;
  for (int i = 0; i < n; i++) {
    memcpy(w + i * HH, part[first + i]->w, sizeof(float) * HH);
    memcpy(w + n * HH + (long)i * H, part[first + i]->b, sizeof(float) * H);
  }
}

/* A layer after its attention, on rows rows of A->ctx: output projection, dropout (ak),
   residual r, LayerNorm into A->ln1; FFN, dropout (fk), residual, LayerNorm into A->ln2. */
static void layer_rest_fwd(const BertConfig *c, const LayerView *P, LayerActs *A, Acts *a, const float *r,
                           const uint8_t *ak, const uint8_t *fk, long rows) {
  const int H = c->hidden, I = c->intermediate;
  const float hs = keep_scale(c->hidden_dropout);
  linear_fwd(a->dtmp, A->ctx, P->attn_out.w, NULL, rows, H, H);
  add_layernorm_fwd(A->ln1, A->res1, A->ln1_mean, A->ln1_rstd, a->dtmp, P->attn_out.b, ak, hs, r, P->ln1.g,
                    P->ln1.b, rows, H, c->ln_eps);
  linear_fwd(A->ff1, A->ln1, P->ffn_in.w, NULL, rows, H, I);
  bias_gelu_fwd(a->ff_act, A->ff1, P->ffn_in.b, rows, I, c->act);
  linear_fwd(a->dtmp, a->ff_act, P->ffn_out.w, NULL, rows, I, H);
  add_layernorm_fwd(A->ln2, A->res2, A->ln2_mean, A->ln2_rstd, a->dtmp, P->ffn_out.b, fk, hs, A->ln1, P->ln2.g,
                    P->ln2.b, rows, H, c->ln_eps);
}

/* Its backward: dout = d(A->ln2) in; d(r) into dr (may be dout) and d(A->ctx) into a->dctx. */
static void layer_rest_bwd(const BertConfig *c, const LayerView *P, LayerView *G, LayerActs *A, Acts *a,
                           const float *dout, float *dr, const uint8_t *ak, const uint8_t *fk, long rows) {
  const int H = c->hidden, I = c->intermediate;
  const float hs = keep_scale(c->hidden_dropout);
  /* d(res2) goes to the FFN (through the dropout) and, by the residual, to ln1: dln1 holds it
     and then accumulates the FFN's input gradient */
  layernorm_bwd(a->dln1, G->ln2.g, G->ln2.b, dout, A->res2, A->ln2_mean, A->ln2_rstd, P->ln2.g, rows, H);
  dropout_apply(a->dtmp, a->dln1, fk, hs, rows * H);
  /* the FFN output's input recomputed, and ff1 replaced by GELU's slope there (backward is
     its last reader) */
  gelu_value_and_slope(a->ff_act, A->ff1, rows * I, c->act);
  linear_bwd(a->dff, 0.0f, G->ffn_out.w, G->ffn_out.b, a->dtmp, a->ff_act, P->ffn_out.w, rows, I, H);
  mul_inplace(a->dff, A->ff1, rows * I);
  linear_bwd(a->dln1, 1.0f, G->ffn_in.w, G->ffn_in.b, a->dff, A->ln1, P->ffn_in.w, rows, H, I);
  /* likewise d(res1): to r by the residual and through the dropout to the attention output */
  layernorm_bwd(dr, G->ln1.g, G->ln1.b, a->dln1, A->res1, A->ln1_mean, A->ln1_rstd, P->ln1.g, rows, H);
  dropout_apply(a->dtmp, dr, ak, hs, rows * H);
  linear_bwd(a->dctx, 0.0f, G->attn_out.w, G->attn_out.b, a->dtmp, A->ctx, P->attn_out.w, rows, H, H);
}

static void layer_fwd(Bert *m, Acts *a, int l, const float *x, int B, int T, const Mode *mode) {
  const BertConfig *c = &m->cfg;
  const int H = c->hidden, NH = c->heads;
  const long BT = (long)B * T;
  const LayerView *P = &m->p.layer[l];
  LayerActs *A = &a->layer[l];
  float *const y[3] = {A->q, A->k, A->v};
  const float *const w[3] = {P->q.w, P->k.w, P->v.w}, *const bias[3] = {P->q.b, P->k.b, P->v.b};
  linears_fwd(3, y, x, w, bias, BT, H, H);
  uint8_t *pk = make_keep(A->pkeep, (long)B * NH * T * T, c->attn_dropout, mode, 1 + 3 * l);
  attention_fwd(A->ctx, A->probs, a->dS, pk, keep_scale(c->attn_dropout), A->q, A->k, A->v, a->mask_add, B, T,
                NH, H);
  uint8_t *ak = make_keep(A->ao_keep, BT * H, c->hidden_dropout, mode, 2 + 3 * l);
  uint8_t *fk = make_keep(A->ff2_keep, BT * H, c->hidden_dropout, mode, 3 + 3 * l);
  layer_rest_fwd(c, P, A, a, x, ak, fk, BT);
}

static int g_train_flag(const Mode *mode) { return mode && mode->train; }

/* Embeddings and the first nl encoder layers; returns the output of the last of them. */
static const float *encode_layers(Bert *m, Acts *a, const Batch *bt, const Mode *mode, int nl) {
  const BertConfig *c = &m->cfg;
  const int B = bt->B, T = bt->T, H = c->hidden;
  const long BT = (long)B * T;
  for (long i = 0; i < BT; i++) a->mask_add[i] = bt->mask[i] ? 0.0f : -10000.0f;
  embed_fwd(m, a->emb_sum, bt);
  layernorm_fwd(a->dtmp, a->emb_mean, a->emb_rstd, a->emb_sum, m->p.emb_ln.g, m->p.emb_ln.b, BT, H, c->ln_eps);
  uint8_t *ek = make_keep(a->emb_keep, BT * H, c->hidden_dropout, mode, 0);
  dropout_apply(a->emb_out, a->dtmp, ek, keep_scale(c->hidden_dropout), BT * H);
  const float *x = a->emb_out;
  for (int l = 0; l < nl; l++) {
    layer_fwd(m, a, l, x, B, T, mode);
    x = a->layer[l].ln2;
  }
  a->train = g_train_flag(mode);
  return x;
}

const float *bert_encode(Bert *m, Acts *a, const Batch *bt, const Mode *mode) {
  return encode_layers(m, a, bt, mode, m->cfg.layers);
}

/* rows b*T of x [B*T, w] into out [B, w] */
static void gather_cls(float *out, const float *x, int B, int T, int w) {
  for (int b = 0; b < B; b++) memcpy(out + (long)b * w, x + (long)b * T * w, sizeof(float) * w);
}

/* The rows r*stride (r < rows, width wide) of the mask make_keep would draw for a site */
static uint8_t *make_keep_rows(uint8_t *buf, long rows, long width, long stride, float p, const Mode *mode,
                               int site) {
  if (!mode || !mode->train || p <= 0.0f) return NULL;
  rng_dropout_keep_rows(buf, rows, width, stride, p, mode->seed, STREAM_DROPOUT(mode->step, site));
  return buf;
}

/* The last layer for the [CLS] rows only: the pooler reads nothing else, so the other rows'
   queries, attention output, FFN and LayerNorms never reach the loss (their keys and values
   do). Its dropout masks are the [CLS] rows of the masks layer_fwd would draw (the same
   counters, the rest never drawn): a run sees what it would with every row computed. x is the
   layer's input [B*T, H]; the [CLS] outputs end in the layer's ln2 [B, H]. */
static void cls_layer_fwd(Bert *m, Acts *a, const float *x, int B, int T, const Mode *mode) {
  const BertConfig *c = &m->cfg;
  const int H = c->hidden, NH = c->heads, l = c->layers - 1;
  const long BT = (long)B * T;
  const LayerView *P = &m->p.layer[l];
  LayerActs *A = &a->layer[l];
  float *const y[2] = {A->k, A->v};
  const float *const w[2] = {P->k.w, P->v.w}, *const bias[2] = {P->k.b, P->v.b};
  linears_fwd(2, y, x, w, bias, BT, H, H);
  gather_cls(a->cls_x, x, B, T, H);
  linear_fwd(A->q, a->cls_x, P->q.w, P->q.b, B, H, H);
  /* query row 0 of each (b, h)'s T x T block */
  uint8_t *pk = make_keep_rows(a->cls_pkeep, (long)B * NH, T, (long)T * T, c->attn_dropout, mode, 1 + 3 * l);
  attention_cls_fwd(A->ctx, A->probs, a->dS, pk, keep_scale(c->attn_dropout), A->q, A->k, A->v, a->mask_add, B, T,
                    NH, H);
  uint8_t *ak = make_keep_rows(a->cls_ao_keep, B, H, (long)T * H, c->hidden_dropout, mode, 2 + 3 * l);
  uint8_t *fk = make_keep_rows(a->cls_ff2_keep, B, H, (long)T * H, c->hidden_dropout, mode, 3 + 3 * l);
  layer_rest_fwd(c, P, A, a, a->cls_x, ak, fk, B);
}

float bert_forward(Bert *m, Acts *a, const Batch *bt, const Mode *mode) {
  const BertConfig *c = &m->cfg;
  const int B = bt->B, T = bt->T, H = c->hidden, L = c->layers, C = c->num_labels;
  const float *x = encode_layers(m, a, bt, mode, L > 0 ? L - 1 : 0);
  if (L > 0) {
    cls_layer_fwd(m, a, x, B, T, mode);
    memcpy(a->cls_in, a->layer[L - 1].ln2, sizeof(float) * B * H);
  } else {
    gather_cls(a->cls_in, x, B, T, H);
  }
  linear_fwd(a->pool_pre, a->cls_in, m->p.pooler.w, m->p.pooler.b, B, H, H);
  tanh_fwd(a->pooled, a->pool_pre, (long)B * H);
  uint8_t *ck = make_keep(a->pool_keep, (long)B * H, c->classifier_dropout, mode, 3 * L + 1);
  dropout_apply(a->pooled_drop, a->pooled, ck, keep_scale(c->classifier_dropout), (long)B * H);
  linear_fwd(a->logits, a->pooled_drop, m->p.classifier.w, m->p.classifier.b, B, H, C);
  if (!bt->labels) return 0.0f;
  return cross_entropy(a->dlogits, a->probs, a->logits, bt->labels, B, C);
}

static void layer_bwd(Bert *m, Acts *a, int l, const float *x, int B, int T) {
  const BertConfig *c = &m->cfg;
  const int H = c->hidden, NH = c->heads;
  const long BT = (long)B * T;
  const LayerView *P = &m->p.layer[l];
  LayerView *G = &m->g.layer[l];
  LayerActs *A = &a->layer[l];
  /* a->dx holds d(layer output) on entry and d(layer input) on exit: the residual's share
     first, then Q, K and V's input gradients on top */
  layer_rest_bwd(c, P, G, A, a, a->dx, a->dx, used_keep(A->ao_keep, c->hidden_dropout, a->train),
                 used_keep(A->ff2_keep, c->hidden_dropout, a->train), BT);
  attention_bwd(a->dq, a->dk, a->dv, a->dS, a->dctx, A->probs, used_keep(A->pkeep, c->attn_dropout, a->train),
                keep_scale(c->attn_dropout), A->q, A->k, A->v, B, T, NH, H);
  linear_bwd(a->dx, 1.0f, G->q.w, G->q.b, a->dq, x, P->q.w, BT, H, H);
  linear_bwd(a->dx, 1.0f, G->k.w, G->k.b, a->dk, x, P->k.w, BT, H, H);
  linear_bwd(a->dx, 1.0f, G->v.w, G->v.b, a->dv, x, P->v.w, BT, H, H);
}

/* cls_layer_fwd's backward: a->dcls_out [B, H] = d(the [CLS] outputs) on entry; a->dx
   [B*T, H] = d(the layer input) on exit: every row from the keys and values, the [CLS] rows
   also from the query and the residual. */
static void cls_layer_bwd(Bert *m, Acts *a, const float *x, int B, int T) {
  const BertConfig *c = &m->cfg;
  const int H = c->hidden, NH = c->heads, l = c->layers - 1;
  const long BT = (long)B * T;
  const LayerView *P = &m->p.layer[l];
  LayerView *G = &m->g.layer[l];
  LayerActs *A = &a->layer[l];
  layer_rest_bwd(c, P, G, A, a, a->dcls_out, a->dcls_x, used_keep(a->cls_ao_keep, c->hidden_dropout, a->train),
                 used_keep(a->cls_ff2_keep, c->hidden_dropout, a->train), B);
  attention_cls_bwd(a->dq, a->dk, a->dv, a->dS, a->dctx, A->probs,
                    used_keep(a->cls_pkeep, c->attn_dropout, a->train), keep_scale(c->attn_dropout), A->q, A->k,
                    A->v, B, T, NH, H);
  linear_bwd(a->dx, 0.0f, G->k.w, G->k.b, a->dk, x, P->k.w, BT, H, H);
  linear_bwd(a->dx, 1.0f, G->v.w, G->v.b, a->dv, x, P->v.w, BT, H, H);
  linear_bwd(a->dcls_x, 1.0f, G->q.w, G->q.b, a->dq, a->cls_x, P->q.w, B, H, H);
  for (int b = 0; b < B; b++) {
    float *d = a->dx + (long)b * T * H;
    const float *s = a->dcls_x + (long)b * H;
    for (int j = 0; j < H; j++) d[j] += s[j];
  }
}

/* Layers nl-1 .. 0 and the embeddings, with a->dx = d(layer nl-1's output) on entry. */
static void encode_backward_layers(Bert *m, Acts *a, const Batch *bt, int nl) {
  const BertConfig *c = &m->cfg;
  const int B = bt->B, T = bt->T, H = c->hidden;
  const long BT = (long)B * T;
  for (int l = nl - 1; l >= 0; l--) layer_bwd(m, a, l, l ? a->layer[l - 1].ln2 : a->emb_out, B, T);
  dropout_apply(a->dtmp, a->dx, used_keep(a->emb_keep, c->hidden_dropout, a->train), keep_scale(c->hidden_dropout),
                BT * H);
  layernorm_bwd(a->dln1, m->g.emb_ln.g, m->g.emb_ln.b, a->dtmp, a->emb_sum, a->emb_mean, a->emb_rstd,
                m->p.emb_ln.g, BT, H);
  embed_bwd(m, a->dln1, bt);
}

void bert_backward(Bert *m, Acts *a, const Batch *bt) {
  const BertConfig *c = &m->cfg;
  const int B = bt->B, T = bt->T, H = c->hidden, C = c->num_labels, L = c->layers;
  const long BT = (long)B * T;
  linear_bwd(a->dcls, 0.0f, m->g.classifier.w, m->g.classifier.b, a->dlogits, a->pooled_drop,
             m->p.classifier.w, B, H, C);
  dropout_apply(a->dcls, a->dcls, used_keep(a->pool_keep, c->classifier_dropout, a->train),
                keep_scale(c->classifier_dropout), (long)B * H);
  tanh_bwd(a->dcls, a->dcls, a->pooled, (long)B * H);
  linear_bwd(a->dcls_out, 0.0f, m->g.pooler.w, m->g.pooler.b, a->dcls, a->cls_in, m->p.pooler.w, B, H, H);
  if (L > 0) {
    cls_layer_bwd(m, a, L > 1 ? a->layer[L - 2].ln2 : a->emb_out, B, T);
  } else {
    memset(a->dx, 0, sizeof(float) * BT * H);
    for (int b = 0; b < B; b++) memcpy(a->dx + (long)b * T * H, a->dcls_out + (long)b * H, sizeof(float) * H);
  }
  encode_backward_layers(m, a, bt, L > 0 ? L - 1 : 0);
}

void bert_encode_backward(Bert *m, Acts *a, const Batch *bt) { encode_backward_layers(m, a, bt, m->cfg.layers); }

void bert_zero_grad(Bert *m) {
  enum { CHUNK = 1 << 18 };
  const long n = (long)m->nparams;
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += CHUNK) memset(m->grads + i, 0, sizeof(float) * (size_t)(n - i < CHUNK ? n - i : CHUNK));
}
