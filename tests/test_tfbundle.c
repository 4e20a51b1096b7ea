/* TensorFlow checkpoint indexes: CRC-32C against the published test vectors (RFC 3720 B.4),
   the real TF-written index of a Chinese BERT-wwm listed with its shapes and dtypes, and a
   flipped byte in it refused with a CRC error naming the file.
   usage: test_tfbundle INDEX_DIR WORKDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/fileutil.h"
#include "io/tfbundle.h"
#include "tests/check.h"

static const TfTensor *find(const TfIndex *x, const char *name) {
  for (int i = 0; i < x->n; i++)
    if (strcmp(x->t[i].name, name) == 0) return &x->t[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  unsigned char buf[32];
  memset(buf, 0, 32);
  CHECK(crc32c(0, buf, 32) == 0x8A9136AAu, "crc32c of 32 zeros: %08x", crc32c(0, buf, 32));
  memset(buf, 0xff, 32);
  CHECK(crc32c(0, buf, 32) == 0x62A8AB43u, "crc32c of 32 0xff: %08x", crc32c(0, buf, 32));
  for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
  CHECK(crc32c(0, buf, 32) == 0x46DD794Eu, "crc32c of 0..31: %08x", crc32c(0, buf, 32));
  CHECK(crc32c(0, "123456789", 9) == 0xE3069283u, "crc32c of \"123456789\"");

  char path[4200];
  snprintf(path, sizeof path, "%s/bert_model.ckpt.index", argv[1]);
  TfIndex x;
  Err e;
  CHECK(tfb_read_index(&x, path, &e) == 0, "real index: %s", e.msg);
  const TfTensor *w = find(&x, "bert/embeddings/word_embeddings");
  CHECK(x.num_shards == 1 && x.n == 207, "%d shards, %d tensors", x.num_shards, x.n);
  CHECK(w && w->dtype == 1 && w->ndim == 2 && w->shape[0] == 21128 && w->shape[1] == 768 &&
            w->size == 21128LL * 768 * 4,
        "word embeddings entry");
  int layers = 0;
  for (int l = 0; l < 16; l++) {
    char name[128];
    snprintf(name, sizeof name, "bert/encoder/layer_%d/attention/self/query/kernel", l);
    const TfTensor *q = find(&x, name);
    layers += q && q->ndim == 2 && q->shape[0] == 768 && q->shape[1] == 768;
  }
  CHECK(layers == 12, "%d encoder layers with a 768 x 768 query kernel", layers);
  const TfTensor *g = find(&x, "global_step");
  CHECK(g && g->dtype == 9 && g->ndim == 0, "global_step is an int64 scalar");
  long long end = 0;
  for (int i = 0; i < x.n; i++) end = x.t[i].offset + x.t[i].size > end ? x.t[i].offset + x.t[i].size : end;
  CHECK(end > 400000000LL && end < 420000000LL, "the data file would be %lld bytes", end);
  tfb_free(&x);

  /* one flipped byte in a data block: the block's CRC-32C no longer matches */
  size_t n;
  char *raw = read_file(path, &n, &e);
  CHECK(raw != NULL, "%s", e.msg);
  if (raw) {
    raw[100] ^= 0x01;
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/flipped.index", argv[2]);
    mkdir_p(argv[2], &e);
    CHECK(write_file_atomic(bad, raw, n, &e) == 0, "%s", e.msg);
    CHECK(tfb_read_index(&x, bad, &e) != 0 && strstr(e.msg, "flipped.index") && strstr(e.msg, "CRC-32C"),
          "a flipped byte: %s", e.msg);
    write_file_atomic(bad, raw, n - 20, &e); /* truncated: no footer */
    CHECK(tfb_read_index(&x, bad, &e) != 0 && strstr(e.msg, "flipped.index"), "truncated index: %s", e.msg);
    free(raw);
  }
  return check_done();
}
