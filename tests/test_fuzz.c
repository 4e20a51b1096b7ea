/* A bounded fuzzing pass over the parsers that read what users write, what someone else's
   tools wrote or what a crash leaves: run configs, data lines (JSON lines and TSV),
   vocabularies, safetensors headers, pytorch_model.bin pickles, TensorFlow checkpoint indexes
   and bundles (a real TF-written index, its entries' shapes, sizes and offsets), sharded
   checkpoints' *.index.json, and checkpoint slot states (results files are fuzzed by
   tests/fuzz_results.py, which mutates files a real sweep wrote). Each input is a random mutation (byte flips, insertions of
   syntax characters and NUL, deletions, truncation, splices) of a valid seed; the parsers
   must return or refuse it cleanly. The run is meant for the ASan + UBSan build, where any
   memory or undefined-behaviour error aborts. Mutated inputs that parse must also make
   sense: an accepted slot state has integral, in-range fields.

   usage: test_fuzz FIXTURE_DIR WORKDIR SECONDS [TF_INDEX] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "io/dataset.h"
#include "io/fileutil.h"
#include "io/results.h"
#include "io/runconfig.h"
#include "io/safetensors.h"
#include "io/tfbundle.h"
#include "io/torchbin.h"
#include "io/weights.h"
#include <zip.h>
#include "tests/fuzz_torchbin_seed.h"
#include "src/clock.h"
#include "src/tokenizer.h"
#include "tests/check.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { /* xorshift64: a fixed sequence, so a finding replays */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Mutates buf[0..n) in place (capacity cap); returns the new length. */
static size_t mutate(unsigned char *buf, size_t n, size_t cap) {
  static const char SYN[] = "{}[]\":,\\\t\r\n 0-e.\x00\xff\xe4";
  int k = 1 + (int)(next() % 4);
  for (int i = 0; i < k && n > 0; i++) {
    size_t at = next() % n;
    switch (next() % 6) {
    case 0: buf[at] ^= (unsigned char)(1u << (next() % 8)); break;
    case 1: buf[at] = (unsigned char)SYN[next() % (sizeof SYN - 1)]; break;
    case 2: if (n < cap) { memmove(buf + at + 1, buf + at, n - at); buf[at] = (unsigned char)SYN[next() % (sizeof SYN - 1)]; n++; } break;
    case 3: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;
    case 4: n = at; break; /* truncate */
    default: { /* splice: copy a run from elsewhere */
      size_t from = next() % n, len = 1 + next() % 16;
      if (from + len <= n && at + len <= n) memmove(buf + at, buf + from, len);
    }
    }
  }
  return n;
}

static unsigned char *slurp(const char *path, size_t *n) {
  Err e;
  char *b = read_file(path, n, &e);
  if (!b) { fprintf(stderr, "%s\n", e.msg); exit(2); }
  return (unsigned char *)b;
}

static void put(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, n, f) != n || fclose(f)) { fprintf(stderr, "%s: cannot write\n", path); exit(2); }
}

static void fuzz_config(const unsigned char *seed, size_t sn, unsigned char *buf, size_t cap) {
  memcpy(buf, seed, sn);
  size_t n = mutate(buf, sn, cap);
  Err e;
  cJSON *root = json_parse_strict((const char *)buf, n, "fuzz.json", 1, &e);
  if (!root) return;
  RunConfig *cfg = malloc(sizeof *cfg);
  if (cfg) runconfig_parse(cfg, root, "fuzz.json", &e);
  free(cfg);
  cJSON_Delete(root);
}

static void fuzz_data(const char *path, const unsigned char *seed, size_t sn, unsigned char *buf, size_t cap, int tsv) {
  memcpy(buf, seed, sn);
  put(path, buf, mutate(buf, sn, cap));
  DataFormat f = {.format = tsv ? FMT_TSV : FMT_CLUE, .header = 1, .text_field = "sentence", .label_field = "label"};
  Dataset d;
  Err e;
  if (dataset_read(&d, path, &f, &e) == 0) dataset_free(&d);
}

static void fuzz_vocab(const char *path, const unsigned char *seed, size_t sn, unsigned char *buf, size_t cap) {
  memcpy(buf, seed, sn);
  size_t n = mutate(buf, sn, cap);
  buf[n] = 0;
  char **lines;
  Err e;
  int nl = split_lines((char *)buf, n, path, &lines, &e);
  if (nl < 0) return;
  Tokenizer t;
  if (tok_init(&t, lines, nl, (int)(next() % 2), path, &e) == 0) {
    char out[4096];
    tok_tokenize_str(&t, "我爱北京天安门。Hello, 世界! naïve 2024", out, sizeof out);
    int ids[32], types[32], mask[32];
    tok_encode_pair(&t, "的一是不了人", "我在有他这", 32, ids, types, mask);
    tok_free(&t);
  }
  free(lines);
}

static void fuzz_safetensors(const char *path, const unsigned char *seed, size_t sn, unsigned char *buf, size_t cap) {
  memcpy(buf, seed, sn);
  uint64_t hl;
  memcpy(&hl, seed, 8);
  size_t hn = 8 + (size_t)hl < sn ? 8 + (size_t)hl : sn; /* mutate the length and the header only */
  size_t m = mutate(buf, hn, hn + 64 < cap - sn ? hn + 64 : hn);
  memmove(buf + m, seed + hn, sn - hn);
  put(path, buf, m + (sn - hn));
  TensorFile f;
  Err e;
  if (st_open(&f, path, &e) == 0) {
    for (int i = 0; i < f.n; i++) {
      size_t k = st_numel(&f.t[i]);
      float *dst = k < (1u << 20) ? malloc(sizeof(float) * (k ? k : 1)) : NULL;
      if (dst) st_read_f32(&f, &f.t[i], dst);
      free(dst);
    }
    st_close(&f);
  }
}

/* A torch.save zip whose pickle is a mutation of a real one: the pickle machine must refuse or
   read it, never crash; what it reads must be the tensors' size. Seed values checked once. */
static void fuzz_torchbin(const char *path, unsigned char *buf, size_t cap, int mutated) {
  size_t n = sizeof TB_PKL;
  memcpy(buf, TB_PKL, n);
  if (mutated) n = mutate(buf, n, cap < 4096 ? cap : 4096);
  int zerr;
  zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
  zip_source_t *a = z ? zip_source_buffer(z, buf, n, 0) : NULL, *b = a ? zip_source_buffer(z, TB_S0, sizeof TB_S0, 0) : NULL,
               *c = b ? zip_source_buffer(z, TB_S1, sizeof TB_S1, 0) : NULL;
  if (!c || zip_file_add(z, "t/data.pkl", a, ZIP_FL_OVERWRITE) < 0 || zip_file_add(z, "t/data/0", b, ZIP_FL_OVERWRITE) < 0 ||
      zip_file_add(z, "t/data/1", c, ZIP_FL_OVERWRITE) < 0 || zip_close(z) < 0) {
    fprintf(stderr, "fuzz: cannot write %s\n", path);
    exit(2);
  }
  TensorFile f;
  Err e;
  if (torchbin_open(&f, path, &e) == 0) {
    size_t total = 0;
    for (int i = 0; i < f.n; i++) total += st_numel(&f.t[i]) * (f.t[i].dtype == TENSOR_F32 ? 4 : f.t[i].dtype == TENSOR_OTHER ? 8 : 2);
    CHECK(total == f.size, "torchbin: tensors of %zu bytes in a buffer of %zu", total, f.size);
    if (!mutated) {
      float a6[6], b3[3], h2[2];
      const TensorEntry *ta = st_find(&f, "a.weight"), *tb = st_find(&f, "b.bias"), *th = st_find(&f, "c.half");
      CHECK(ta && tb && th && ta->ndim == 2 && ta->shape[0] == 3 && ta->shape[1] == 2, "torchbin seed: shapes");
      if (ta && tb && th) {
        st_read_f32(&f, ta, a6);
        st_read_f32(&f, tb, b3);
        st_read_f32(&f, th, h2);
        CHECK(a6[0] == 0 && a6[1] == 3 && a6[2] == 1 && a6[5] == 5 && b3[0] == 3 && b3[2] == 5 && h2[0] == 1.5f &&
                  h2[1] == -2.0f, "torchbin seed: a transposed view, a shared storage's slice and float16 read wrong");
      }
    }
    st_close(&f);
  } else {
    CHECK(mutated, "torchbin: the unmutated seed was refused: %s", e.msg);
  }
}

/* A real TF-written index, mutated: its table and its entries (shapes, dtypes, sizes, offsets,
   CRCs) are parsed; then loaded against small stand-in data shards, where every size and
   offset check runs before any allocation. */
static void fuzz_tf(const char *dir, const unsigned char *seed, size_t sn, unsigned char *buf, size_t cap) {
  char index[4200], prefix[4200];
  snprintf(prefix, sizeof prefix, "%s/bert_model.ckpt", dir);
  snprintf(index, sizeof index, "%s.index", prefix);
  memcpy(buf, seed, sn);
  put(index, buf, mutate(buf, sn, cap));
  TfIndex x;
  Err e;
  if (tfb_read_index(&x, index, &e) == 0) {
    CHECK(x.n >= 0 && x.num_shards >= 0, "tf index: %d entries, %d shards", x.n, x.num_shards);
    static const unsigned char zero[16384];
    for (int k = 0; k < x.num_shards && k < 4; k++) { /* stand-in shards: sizes, not contents, are checked */
      char shard[4300];
      snprintf(shard, sizeof shard, "%s.data-%05d-of-%05d", prefix, k, x.num_shards);
      put(shard, zero, sizeof zero);
    }
    tfb_free(&x);
    TensorFile f;
    if (tfb_load(&f, index, &e) == 0) st_close(&f);
  }
}

/* A sharded checkpoint's model.safetensors.index.json, mutated, naming one real shard. */
static void fuzz_index_json(const char *dir, unsigned char *buf, size_t cap) {
  static const char SEED[] = "{\"metadata\": {\"total_size\": 95628}, \"weight_map\": {"
                             "\"bert.embeddings.word_embeddings.weight\": \"model-00001-of-00001.safetensors\", "
                             "\"bert.pooler.dense.weight\": \"model-00001-of-00001.safetensors\"}}";
  char p[4200];
  snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
  memcpy(buf, SEED, sizeof SEED - 1);
  put(p, buf, mutate(buf, sizeof SEED - 1, cap < 4096 ? cap : 4096));
  TensorSet s;
  Err e;
  if (tensor_set_open(&s, dir, 0, &e) == 0) tensor_set_close(&s);
}

static void fuzz_slot_state(void) {
  static const double SPECIAL[] = {0, 1, -1, 0.5, 7, 28, 80, 1e300, -1e300, 4294967296.0, 23907};
  SlotState st;
  for (int i = 0; i < NSLOTSTATE; i++) {
    uint64_t r = next();
    st.v[i] = r % 5 == 0 ? NAN : r % 5 == 1 ? INFINITY * (r & 8 ? 1 : -1) : SPECIAL[(r >> 8) % (sizeof SPECIAL / sizeof *SPECIAL)];
  }
  if (next() % 2) { /* near-valid: most fields right, one wrong */
    double ok[NSLOTSTATE] = {[SS_RUN] = 2, [SS_STEP] = 28, [SS_OPT_T] = 28, [SS_HALF] = 1, [SS_BEST_ACC] = 0.5,
                             [SS_BEST_STEP] = 25, [SS_FINAL_ACC] = 0.5, [SS_FINAL_LOSS] = 0.7, [SS_NFLOATS] = 23907,
                             [SS_CRC] = 12345, [SS_WALL] = 1.5};
    int keep = (int)(next() % NSLOTSTATE);
    double v = st.v[keep];
    memcpy(st.v, ok, sizeof ok);
    st.v[keep] = v;
  }
  if (results_slot_state_fits(&st, 2, 80, 23907)) {
    const double *v = st.v;
    CHECK(v[SS_RUN] == 2 && v[SS_STEP] == floor(v[SS_STEP]) && v[SS_STEP] >= 1 && v[SS_STEP] <= 80 &&
              (v[SS_HALF] == 0 || v[SS_HALF] == 1) && v[SS_NFLOATS] == 23907 && v[SS_OPT_T] <= v[SS_STEP],
          "an impossible slot state was accepted (step %g, half %g, n %g)", v[SS_STEP], v[SS_HALF], v[SS_NFLOATS]);
  }
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) { fprintf(stderr, "usage: test_fuzz FIXTURE_DIR WORKDIR SECONDS [TF_INDEX]\n"); return 2; }
  const char *fix = argv[1], *work = argv[2];
  double budget = atof(argv[3]);
  char p[4200], data[4200], tsv[4200], vocab[4200], st[4200];
  Err e;
  if (mkdir_p(work, &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  size_t cn, dn, vn, sn;
  snprintf(p, sizeof p, "%s/tiny.json", fix);
  unsigned char *cfg = slurp(p, &cn);
  snprintf(p, sizeof p, "%s/train.jsonl", fix);
  unsigned char *lines = slurp(p, &dn);
  dn = dn > 2000 ? 2000 : dn; /* a few lines are enough */
  snprintf(p, sizeof p, "%s/model/vocab.txt", fix);
  unsigned char *voc = slurp(p, &vn);
  snprintf(p, sizeof p, "%s/model/model.safetensors", fix);
  unsigned char *sft = slurp(p, &sn);
  const unsigned char tsv_seed[] = "sentence\tlabel\n\"a\tb \"\"q\"\" c\"\t100\nplain text\t101\n\"x\"\t102\n";
  size_t cap = sn + cn + dn + vn + 4096;
  unsigned char *buf = malloc(cap);
  if (!buf) return 2;
  snprintf(data, sizeof data, "%s/fuzz.jsonl", work);
  snprintf(tsv, sizeof tsv, "%s/fuzz.tsv", work);
  snprintf(vocab, sizeof vocab, "%s/vocab.txt", work);
  snprintf(st, sizeof st, "%s/model.safetensors", work);
  long n[8] = {0};
  size_t tn = 0;
  unsigned char *tfi = argc == 5 ? slurp(argv[4], &tn) : NULL;
  char tfdir[4200], shdir[4200];
  snprintf(tfdir, sizeof tfdir, "%s/tf", work);
  snprintf(shdir, sizeof shdir, "%s/sharded", work);
  if (mkdir_p(tfdir, &e) || mkdir_p(shdir, &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  snprintf(p, sizeof p, "%s/model-00001-of-00001.safetensors", shdir);
  put(p, sft, sn);
  if (tfi && tn + 4096 > cap) { fprintf(stderr, "fuzz: the TF index is larger than the buffer\n"); return 2; }
  char tbin[4200];
  snprintf(tbin, sizeof tbin, "%s/fuzz.bin", work);
  fuzz_torchbin(tbin, buf, cap, 0);
  double t0 = clock_seconds();
  while (clock_seconds() - t0 < budget) {
    for (int i = 0; i < 20; i++) {
      fuzz_config(cfg, cn, buf, cap);
      n[0]++;
      fuzz_data(data, lines, dn, buf, cap, 0);
      fuzz_data(tsv, tsv_seed, sizeof tsv_seed - 1, buf, cap, 1);
      n[1] += 2;
      fuzz_vocab(vocab, voc, vn, buf, cap);
      n[2]++;
      fuzz_slot_state();
      n[4]++;
    }
    fuzz_safetensors(st, sft, sn, buf, cap);
    n[3]++;
    fuzz_torchbin(tbin, buf, cap, 1);
    n[5]++;
    if (tfi) {
      fuzz_tf(tfdir, tfi, tn, buf, cap);
      n[6]++;
    }
    fuzz_index_json(shdir, buf, cap);
    n[7]++;
  }
  printf("fuzzed %ld configs, %ld data files, %ld vocabularies, %ld safetensors headers, %ld slot states, %ld "
         ".bin pickles, %ld TF indexes and bundles, %ld sharded index.json in %.0f s\n", n[0], n[1], n[2], n[3], n[4],
         n[5], n[6], n[7], clock_seconds() - t0);
  CHECK(!tfi || n[6] > 5, "too few TF indexes tried");
  free(tfi);
  CHECK(n[0] > 100 && n[3] > 5, "too few inputs tried");
  free(buf);
  free(cfg);
  free(lines);
  free(voc);
  free(sft);
  return check_done();
}
