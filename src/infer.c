#include <stdlib.h>
#include <string.h>
#include "src/infer.h"
#include "src/ops.h"

int infer_alloc(Infer *w, const BertConfig *c, int Bmax, int Tmax, Err *e) {
  memset(w, 0, sizeof *w);
  w->Bmax = Bmax;
  w->Tmax = Tmax;
  const size_t BT = (size_t)Bmax * Tmax, H = c->hidden, I = c->intermediate, C = c->num_labels;
  for (int pass = 0; pass < 2; pass++) {
    size_t off = 0;
#define TAKE(ptr, n) do { if (pass) (ptr) = w->buf + off; off += (n); } while (0)
    TAKE(w->x, BT * H); TAKE(w->y, BT * H); TAKE(w->z, BT * H);
    TAKE(w->qkv, BT * 3 * H); TAKE(w->ctx, BT * H); TAKE(w->w_in, 3 * H * H + 3 * H);
    TAKE(w->ff, BT * I);
    TAKE(w->probs, (size_t)Bmax * c->heads * Tmax * Tmax);
    TAKE(w->mean, BT); TAKE(w->rstd, BT);
    TAKE(w->cx, Bmax * H); TAKE(w->cq, Bmax * H); TAKE(w->cctx, Bmax * H); TAKE(w->cy, Bmax * H);
    TAKE(w->cz, Bmax * H); TAKE(w->cff, Bmax * I);
    TAKE(w->pooled, Bmax * H); TAKE(w->logits, Bmax * C);
#undef TAKE
    if (!pass) {
      w->size = off;
      w->buf = malloc(sizeof(float) * off);
      w->off = malloc(sizeof(long) * (size_t)Bmax);
      w->len = malloc(sizeof(int) * (size_t)Bmax);
      if (!w->buf || !w->off || !w->len) {
        infer_free(w);
        return errf(e, "out of memory: evaluation buffers for batch %d x seq %d", Bmax, Tmax);
      }
    }
  }
  return 0;
}

void infer_free(Infer *w) {
  free(w->buf);
  free(w->off);
  free(w->len);
  memset(w, 0, sizeof *w);
}

/* Attention output, residual, LayerNorm, FFN, residual, LayerNorm on n rows: ctx and the
   layer input x in, the layer output in x; y, z, ff scratch. */
static void layer_rest(const BertConfig *c, const LayerView *P, float *x, const float *ctx, float *y, float *z,
                       float *ff, float *mean, float *rstd, long n) {
  const int H = c->hidden, I = c->intermediate;
  linear_fwd(y, ctx, P->attn_out.w, NULL, n, H, H);
  add_layernorm_fwd(z, y, mean, rstd, y, P->attn_out.b, NULL, 1.0f, x, P->ln1.g, P->ln1.b, n, H, c->ln_eps);
  linear_fwd(ff, z, P->ffn_in.w, NULL, n, H, I);
  bias_gelu_fwd(ff, ff, P->ffn_in.b, n, I, c->act);
  linear_fwd(y, ff, P->ffn_out.w, NULL, n, I, H);
  add_layernorm_fwd(x, y, mean, rstd, y, P->ffn_out.b, NULL, 1.0f, z, P->ln2.g, P->ln2.b, n, H, c->ln_eps);
}

/* Tokens of the batch packed without padding: sequence b's rows start at off[b] and number
   len[b] (masks are right-padded, as the job stages them). The linear layers then skip the
   padding, and attention sees only real keys, which is exact: a padded key's -10000 gives it
   a weight of exactly 0 in float. */
static long pack(Infer *w, const Batch *bt) {
  long n = 0;
  for (int b = 0; b < bt->B; b++) {
    int len = 0;
    while (len < bt->T && bt->mask[(long)b * bt->T + len]) len++;
    for (int t = len; t < bt->T; t++) BS_ASSERT(!bt->mask[(long)b * bt->T + t]);
    w->off[b] = n;
    w->len[b] = len > 0 ? len : 1; /* an empty sequence still has its [CLS] slot */
    n += w->len[b];
  }
  return n;
}

static void embed_packed(const Bert *m, float *out, const Infer *w, const Batch *bt) {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < bt->B; b++)
    for (int t = 0; t < w->len[b]; t++) {
      long i = (long)b * bt->T + t;
      bert_embed_token(m, out + (w->off[b] + t) * m->cfg.hidden, bt->ids[i], t, bt->types[i]);
    }
}

const float *bert_infer(const Bert *m, Infer *w, const Batch *bt) {
  const BertConfig *c = &m->cfg;
  const int B = bt->B, H = c->hidden, NH = c->heads, L = c->layers;
  const long N = pack(w, bt);
  embed_packed(m, w->y, w, bt);
  layernorm_fwd(w->x, w->mean, w->rstd, w->y, m->p.emb_ln.g, m->p.emb_ln.b, N, H, c->ln_eps);
  for (int l = 0; l < L - 1; l++) {
    const LayerView *P = &m->p.layer[l];
    bert_stack_qkv(P, 0, 3, H, w->w_in);
    linear_fwd(w->qkv, w->x, w->w_in, w->w_in + 3 * H * H, N, H, 3 * H);
    attention_packed_fwd(w->ctx, w->probs, w->qkv, w->qkv + H, w->qkv + 2 * H, 3 * H, w->off, w->len, B, NH, H);
    layer_rest(c, P, w->x, w->ctx, w->y, w->z, w->ff, w->mean, w->rstd, N);
  }
  for (int b = 0; b < B; b++) memcpy(w->cx + (long)b * H, w->x + w->off[b] * H, sizeof(float) * H);
  if (L > 0) {
    const LayerView *P = &m->p.layer[L - 1];
    bert_stack_qkv(P, 1, 2, H, w->w_in);
    linear_fwd(w->qkv, w->x, w->w_in, w->w_in + 2 * H * H, N, H, 2 * H);
    linear_fwd(w->cq, w->cx, P->q.w, P->q.b, B, H, H);
    attention_packed_one_query_fwd(w->cctx, w->probs, w->cq, w->qkv, w->qkv + H, 2 * H, w->off, w->len, B, NH, H);
    layer_rest(c, P, w->cx, w->cctx, w->cy, w->cz, w->cff, w->mean, w->rstd, B);
  }
  linear_fwd(w->pooled, w->cx, m->p.pooler.w, m->p.pooler.b, B, H, H);
  tanh_fwd(w->pooled, w->pooled, (long)B * H);
  linear_fwd(w->logits, w->pooled, m->p.classifier.w, m->p.classifier.b, B, H, c->num_labels);
  return w->logits;
}
