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
    "  Lists an HF directory (model.safetensors or its shards, or pytorch_model.bin) or a\n"
    "  TensorFlow 1.x checkpoint (bert_model.ckpt.index and .data-* with bert_config.json, as\n"
    "  Google's releases unpack): format, config, each tensor's name, shape and dtype, and the\n"
    "  total parameter count. Reads headers and indexes only.\n"
    "  Looks for, in this order: ";

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
    HfDir hf;
    Err he;
    if (hf_open(&hf, dir, &he) == 0) { /* what a run will do with the text */
      printf("tokenizer: do_lower_case %s (%s)\n", hf.do_lower_case ? "true" : "false", hf.lower_case_why);
      hf_close(&hf);
    }
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
  if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
    char formats[512];
    model_formats_list(formats, sizeof formats);
    printf("%s%s\n", INSPECT_USAGE, formats);
    return EXIT_OK;
  }
  if (argc != 1 || argv[0][0] == '-') { errf(e, "%s", INSPECT_USAGE); return EXIT_USAGE; }
  const char *dir = argv[0];
  char p[4200], shape[128];
  long long total = 0;
  int sharded = 0;
  const int fmt = model_format_detect(dir, p, sizeof p, &sharded);
  if (fmt < 0) return model_format_none(dir, e), EXIT_ERROR;
  if (fmt != MF_TENSORFLOW) { /* a header lists it */
    TensorSet s;
    if (tensor_set_open(&s, dir, 1, e)) return EXIT_ERROR;
    static const char *const DT[] = {"float32", "float16", "bfloat16", "other"};
    printf("format: %s (%s%s)\n", model_format_name((ModelFormat)fmt), s.source, s.n > 1 ? ", sharded" : "");
    print_config(dir);
    int n = 0;
    for (int k = 0; k < s.n; k++)
      for (int i = 0; i < s.f[k].n; i++, n++) {
        const TensorEntry *t = &s.f[k].t[i];
        shape_text(t->shape, t->ndim, shape, sizeof shape);
        printf("%-70s %-16s %s\n", t->name, shape, DT[t->dtype]);
        total += (long long)st_numel(t);
      }
    printf("%d tensors in %d file(s), %lld parameters\n", n, s.n, total);
    tensor_set_close(&s);
    return EXIT_OK;
  }
  { /* TensorFlow: its index lists every tensor, optimizer slots included */
    TfIndex x;
    if (tfb_read_index(&x, p, e)) return EXIT_ERROR;
    printf("format: %s (%s, %d data shard%s)\n", model_format_name(MF_TENSORFLOW), p, x.num_shards, x.num_shards == 1 ? "" : "s");
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
}

/* `bertsweep tokenize MODEL_DIR TEXT [PAIR]`: how the model's tokenizer encodes a text (or a
   sentence pair), as a run would: tokens, ids, token types. */
