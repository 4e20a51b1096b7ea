/* `bertsweep inspect MODEL_DIR`: what a model directory holds, from headers and indexes only
   (it works when the data files are missing or huge): its format, its config, every tensor's
   name, shape and dtype, and the parameter count. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli/commands.h"
#include "io/fileutil.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "io/hfmodel.h"
#include "io/tfbundle.h"
#include "src/tokenizer.h"

static const char *INSPECT_USAGE =
    "usage: bertsweep inspect MODEL_DIR\n"
    "  Lists an HF directory (model.safetensors or its shards) or a TensorFlow 1.x checkpoint (*.ckpt.index with\n"
    "  bert_config.json): format, config, each tensor's name, shape and dtype, and the total\n"
    "  parameter count. Reads headers and indexes only.\n";

static void print_config(const char *dir) {
  static const char *const NAMES[] = {"config.json", "bert_config.json"};
  static const char *const KEYS[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                     "intermediate_size", "max_position_embeddings", "type_vocab_size"};
  for (int i = 0; i < 2; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, NAMES[i]);
    if (!path_exists(p)) continue;
    Err e;
    cJSON *c = read_json_file(p, &e);
    if (!c) { printf("config: %s\n", e.msg); return; }
    printf("config: %s:", NAMES[i]);
    for (size_t k = 0; k < sizeof KEYS / sizeof *KEYS; k++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, KEYS[k]);
      if (cJSON_IsNumber(v)) printf(" %s=%.0f", KEYS[k], v->valuedouble);
    }
    printf("\n");
    cJSON_Delete(c);
    return;
  }
  printf("config: none found (config.json or bert_config.json)\n");
}


static void shape_text(const int64_t *shape, int ndim, char *out, size_t size) {
  size_t len = (size_t)snprintf(out, size, "[");
  for (int i = 0; i < ndim && len < size; i++) len += (size_t)snprintf(out + len, size - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (len < size) snprintf(out + len, size - len, "]");
}

int cmd_inspect(int argc, char **argv, Err *e) {
  if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) { fputs(INSPECT_USAGE, stdout); return EXIT_OK; }
  if (argc != 1 || argv[0][0] == '-') { errf(e, "%s", INSPECT_USAGE); return EXIT_USAGE; }
  const char *dir = argv[0];
  char p[4200], shape[128];
  long long total = 0;
  if (st_set_exists(dir)) {
    StSet s;
    if (st_set_open(&s, dir, 1, e)) return EXIT_ERROR;
    static const char *const DT[] = {"float32", "float16", "bfloat16", "other"};
    printf("format: %s (%s%s)\n", strstr(s.source, "pytorch_model") ? "pytorch_model.bin" : "safetensors", s.source,
           s.n > 1 ? ", sharded" : "");
    print_config(dir);
    int n = 0;
    for (int k = 0; k < s.n; k++)
      for (int i = 0; i < s.f[k].n; i++, n++) {
        const StTensor *t = &s.f[k].t[i];
        shape_text(t->shape, t->ndim, shape, sizeof shape);
        printf("%-70s %-16s %s\n", t->name, shape, DT[t->dtype]);
        total += (long long)st_numel(t);
      }
    printf("%d tensors in %d file(s), %lld parameters\n", n, s.n, total);
    st_set_close(&s);
    return EXIT_OK;
  }
  if (st_find_tf_index(dir, p, sizeof p)) {
    TfIndex x;
    if (tfb_read_index(&x, p, e)) return EXIT_ERROR;
    printf("format: TensorFlow checkpoint (%s, %d data shard%s)\n", p, x.num_shards, x.num_shards == 1 ? "" : "s");
    print_config(dir);
    for (int i = 0; i < x.n; i++) {
      long long numel = 1;
      for (int k = 0; k < x.t[i].ndim; k++) numel *= x.t[i].shape[k];
      shape_text(x.t[i].shape, x.t[i].ndim, shape, sizeof shape);
      printf("%-70s %-16s %s\n", x.t[i].name, shape, tfb_dtype_name(x.t[i].dtype));
      total += numel;
    }
    printf("%d tensors, %lld parameters (optimizer slots included when the checkpoint has them)\n", x.n, total);
    tfb_free(&x);
    return EXIT_OK;
  }
  errf(e, "%s: no model.safetensors and no TensorFlow *.index here", dir);
  return EXIT_ERROR;
}

/* `bertsweep tokenize MODEL_DIR TEXT [PAIR]`: how the model's tokenizer encodes a text (or a
   sentence pair), as a run would: tokens, ids, token types. */
static const char *TOKENIZE_USAGE =
    "usage: bertsweep tokenize MODEL_DIR TEXT [PAIR] [--max-length N]\n"
    "  Tokens, ids and token types of TEXT (and PAIR) as a run encodes them: [CLS] TEXT [SEP] PAIR [SEP],\n"
    "  truncated longest-first to N (default 128), with the directory's vocab.txt and do_lower_case.\n";

int cmd_tokenize(int argc, char **argv, Err *e) {
  const char *dir = NULL, *a = NULL, *b = NULL;
  int max = 128;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(TOKENIZE_USAGE, stdout); return EXIT_OK; }
    if (!strcmp(argv[i], "--max-length") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 3 || v > 8192) { errf(e, "tokenize: --max-length needs a whole number in [3, 8192]"); return EXIT_USAGE; }
      max = (int)v;
    } else if (!dir) dir = argv[i];
    else if (!a) a = argv[i];
    else if (!b) b = argv[i];
    else { errf(e, "%s", TOKENIZE_USAGE); return EXIT_USAGE; }
  }
  if (!dir || !a) { errf(e, "%s", TOKENIZE_USAGE); return EXIT_USAGE; }
  HfDir hf;
  if (hf_open(&hf, dir, e)) return EXIT_ERROR;
  Tokenizer t;
  char src[4200];
  snprintf(src, sizeof src, "%s/vocab.txt", dir);
  int lower = hf.has_lower_case ? hf.do_lower_case : 0;
  if (tok_init(&t, hf.vocab, hf.vocab_n, lower, src, e)) { hf_close(&hf); return EXIT_ERROR; }
  t.opt = hf.tok_opts;
  int *ids = malloc(sizeof(int) * (size_t)max * 3);
  if (!ids) { tok_free(&t); hf_close(&hf); errf(e, "out of memory"); return EXIT_ERROR; }
  int *types = ids + max, *mask = ids + 2 * max;
  int n = tok_encode_pair(&t, a, b, max, ids, types, mask);
  printf("do_lower_case: %s; tokenize_chinese_chars: %s; strip_accents: %s; never_split: %d word(s); %d tokens (of at "
         "most %d)\n", lower ? "true" : "false", t.opt.chinese_chars ? "true" : "false",
         t.opt.strip_accents < 0 ? "null" : t.opt.strip_accents ? "true" : "false", t.opt.n_never_split, n, max);
  printf("%-6s %-24s %-8s %s\n", "pos", "token", "id", "type");
  for (int i = 0; i < n; i++) printf("%-6d %-24s %-8d %d\n", i, hf.vocab[ids[i]], ids[i], types[i]);
  free(ids);
  tok_free(&t);
  hf_close(&hf);
  return EXIT_OK;
}
