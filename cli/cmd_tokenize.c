/* `bertsweep tokenize MODEL_DIR TEXT [PAIR]`: tokens, ids and token types as a run encodes them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <utf8proc.h>
#include "cli/commands.h"
#include "io/fileutil.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "io/hfmodel.h"
#include "io/tfbundle.h"
#include "src/tokenizer.h"

static const char *TOKENIZE_USAGE =
    "usage: bertsweep tokenize MODEL_DIR TEXT [PAIR] [--max-length N]\n"
    "  Tokens, ids and token types of TEXT (and PAIR) as a run encodes them: [CLS] TEXT [SEP] PAIR [SEP],\n"
    "  truncated longest-first to N (default 128), with the directory's vocab.txt and do_lower_case.\n";

/* Spaces that fill tok to width terminal columns: a CJK character takes two, a combining mark
   none (utf8proc's widths), so the table's columns line up whatever the script. */
static int pad_to(const char *tok, int width) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)tok;
  int cols = 0;
  for (utf8proc_int32_t c; *p;) {
    utf8proc_ssize_t n = utf8proc_iterate(p, -1, &c);
    if (n <= 0) { cols++; p++; continue; } /* not UTF-8: a byte a column */
    cols += utf8proc_charwidth(c);
    p += n;
  }
  return cols < width ? width - cols : 0;
}

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
  int lower = hf.do_lower_case;
  if (tok_init(&t, hf.vocab, hf.vocab_n, lower, src, e)) { hf_close(&hf); return EXIT_ERROR; }
  t.opt = hf.tok_opts;
  int *ids = malloc(sizeof(int) * (size_t)max * 3);
  if (!ids) { tok_free(&t); hf_close(&hf); errf(e, "out of memory"); return EXIT_ERROR; }
  int *types = ids + max, *mask = ids + 2 * max;
  int n = tok_encode_pair(&t, a, b, max, ids, types, mask);
  printf("do_lower_case: %s (%s); tokenize_chinese_chars: %s; strip_accents: %s; never_split: %d word(s); %d tokens "
         "(of at most %d)\n", lower ? "true" : "false", hf.lower_case_why, t.opt.chinese_chars ? "true" : "false",
         t.opt.strip_accents < 0 ? "null" : t.opt.strip_accents ? "true" : "false", t.opt.n_never_split, n, max);
  printf("%-6s %-24s %-8s %s\n", "pos", "token", "id", "type");
  for (int i = 0; i < n; i++) {
    const char *tok = hf.vocab[ids[i]];
    printf("%-6d %s%*s %-8d %d\n", i, tok, pad_to(tok, 24), "", ids[i], types[i]);
  }
  free(ids);
  tok_free(&t);
  hf_close(&hf);
  return EXIT_OK;
}
