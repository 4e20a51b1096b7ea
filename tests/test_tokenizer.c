/* Tokenizer against outputs of HF's BertTokenizer algorithm (BasicTokenizer + WordPiece),
   worked out by hand from transformers' tokenization_bert.py for this vocabulary. */
#include <string.h>
#include "src/tokenizer.h"
#include "tests/check.h"

static char *VOCAB[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "我", "爱", "北", "京", "天", "安", "门", "。", "，", "！",
    "你", "好", "世", "界", "「", "」", "年", "模", "型", "hello", "world", "un", "##aff", "##able", "2",
    "##0", "##2", "##4", "3", "cafe", "café", "a", "##a", "gpt", "-", "ab", "c", "x", "##y", "Hello", ",", "'",
    "s", "don", "t", "?", "naive", "é", "##s", "run", "##ning", "·", "…"};

static Tokenizer tok;

static void expect(const char *text, const char *want) {
  char got[8192];
  int n = tok_tokenize_str(&tok, text, got, sizeof got);
  CHECK(n >= 0 && strcmp(got, want) == 0, "lower=%d \"%s\": got \"%s\", want \"%s\"", tok.do_lower_case, text,
        got, want);
}

int main(void) {
  Err e;
  int n = (int)(sizeof VOCAB / sizeof *VOCAB);
  if (tok_init(&tok, VOCAB, n, 0, "test vocab", &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }

  /* do_lower_case = false (bert-base-chinese) */
  expect("我爱北京天安门。", "我 爱 北 京 天 安 门 。");
  expect("你好，世界！", "你 好 ， 世 界 ！");                    /* full-width punctuation: Po */
  expect("「你好」", "「 你 好 」");                               /* CJK brackets: Ps / Pe */
  expect("Hello世界", "Hello 世 界");
  expect("hello世界2024年！", "hello 世 界 2 ##0 ##2 ##4 年 ！"); /* digits as WordPiece */
  expect("Café", "[UNK]");                                       /* no lower-casing, no accent strip */
  expect("café", "café");
  expect("unaffable", "un ##aff ##able");                        /* HF's docstring example */
  expect("xyzzy", "[UNK]");                                      /* no piece matches "##z" */
  expect("xy", "x ##y");
  expect("a\x01" "b\tc", "ab c");                                /* control removed, tab is whitespace */
  expect("ab\xc2\xa0" "c", "ab c");                              /* NBSP (Zs) is whitespace */
  expect("a\xe2\x80\x8b" "b", "ab");                             /* zero-width space (Cf) is removed */
  expect("don't", "don ' t");                                    /* ASCII punctuation splits */
  expect("  我  ", "我");
  expect("", "");
  expect("[CLS] 我 [SEP]", "[CLS] 我 [SEP]");                    /* special tokens are never split */
  expect("[MASK]", "[MASK]");
  expect("天·安…门", "天 · 安 … 门");                            /* middle dot Po, ellipsis Po */
  expect("gpt-3模型", "gpt - 3 模 型");
  expect("runnings", "run ##ning ##s");
  char longw[128];
  memset(longw, 'a', 100);
  longw[100] = 0;
  char want[512] = "a";
  for (int i = 1; i < 100; i++) strcat(want, " ##a");
  expect(longw, want);                                           /* 100 chars: still WordPiece */
  longw[100] = 'a';
  longw[101] = 0;
  expect(longw, "[UNK]");                                        /* over 100 chars: [UNK] */
  /* HF splits special tokens out of the text wherever they stand (its added-tokens trie) */
  expect("ab[SEP]c", "ab [SEP] c");
  expect("我[MASK]门", "我 [MASK] 门");
  expect("[CLS][SEP]", "[CLS] [SEP]");
  expect("[sep]", "[UNK] [UNK] [UNK]");                          /* case matters: "[", "sep", "]" */
  expect("ab\xe2\x80\xa8" "c", "ab c");                           /* U+2028 (Zl): str.split() splits */
  expect("ab\xe2\x80\xa9" "c", "ab c");                           /* U+2029 (Zp) */
  expect("cafe\xcc\x81", "café");                                 /* e + U+0301: NFC gives é (>= 4.29) */
  tok.opt.nfc = 0;
  expect("cafe\xcc\x81", "[UNK]");                                /* without NFC: no such piece */
  tok.opt.nfc = 1;
  tok.opt.chinese_chars = 0;
  expect("我爱", "[UNK]");                                        /* one word "我爱": no "##爱" */
  expect("我 爱", "我 爱");
  tok.opt.chinese_chars = 1;
  tok.opt.strip_accents = 1;                                      /* strip without lower-casing */
  expect("café", "cafe");
  expect("Café", "[UNK]");
  tok.opt.strip_accents = -1;
  char *never[] = {"don't"};
  tok.opt.never_split = never;
  tok.opt.n_never_split = 1;
  expect("don't", "[UNK]");                                       /* kept whole, then WordPiece */
  expect("don't!", "don ' t [UNK]");                              /* only the whole word ("!" not in vocab) */
  tok.opt.n_never_split = 0;
  tok_free(&tok);

  /* do_lower_case = true: lower-case, NFD, strip Mn */
  if (tok_init(&tok, VOCAB, n, 1, "test vocab", &e)) { fprintf(stderr, "%s\n", e.msg); return 2; }
  expect("Café", "cafe");
  expect("CAFÉ", "cafe");
  expect("NAÏVE", "naive");
  expect("HeLLo WORLD!", "hello world [UNK]");                   /* "!" absent from this vocab */
  expect("GPT-3模型", "gpt - 3 模 型");
  expect("É", "[UNK]");                                          /* stripped to "e", not in vocab */
  expect("[CLS]", "[CLS]");                                      /* never lower-cased */
  expect("HELLO[SEP]WORLD", "hello [SEP] world");                /* split out before lower-casing */
  tok.opt.strip_accents = 0;                                      /* lower-case, keep accents */
  expect("Café", "café");
  tok.opt.strip_accents = -1;

  /* sentence pairs: [CLS] a [SEP] b [SEP], longest-first truncation, types and mask */
  int ids[8], types[8], mask[8];
  int len = tok_encode_pair(&tok, "我 爱 北 京 天", "你 好", 8, ids, types, mask);
  int want_ids[8] = {2, 5, 6, 7, 3, 15, 16, 3}, want_types[8] = {0, 0, 0, 0, 0, 1, 1, 1};
  CHECK(len == 8, "pair length %d, want 8", len);
  CHECK(memcmp(ids, want_ids, sizeof ids) == 0, "pair ids differ (longest-first truncation)");
  CHECK(memcmp(types, want_types, sizeof types) == 0, "pair token types differ");
  len = tok_encode_pair(&tok, "我 爱", NULL, 8, ids, types, mask);
  int want1[8] = {2, 5, 6, 3, 0, 0, 0, 0}, mask1[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  CHECK(len == 4 && memcmp(ids, want1, sizeof ids) == 0 && memcmp(mask, mask1, sizeof mask) == 0,
        "single sentence padding/mask differ");
  tok_free(&tok);

  /* a duplicated token maps to its last line, as HF's load_vocab (vocab[token] = index) */
  char *dup[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "a"};
  CHECK(tok_init(&tok, dup, 7, 0, "dup/vocab.txt", &e) == 0, "vocab with a duplicate: %s", e.msg);
  CHECK(tok_id(&tok, "a", 1) == 6 && tok_id(&tok, "b", 1) == 5, "duplicate token: id %d, want 6 (the last)",
        tok_id(&tok, "a", 1));
  tok_free(&tok);

  /* a vocabulary without [UNK] is refused with the source named */
  char *bad[] = {"[PAD]", "[CLS]", "[SEP]", "a"};
  CHECK(tok_init(&tok, bad, 4, 0, "bad/vocab.txt", &e) < 0 && strstr(e.msg, "bad/vocab.txt") && strstr(e.msg, "[UNK]"),
        "vocab without [UNK] not refused clearly: %s", e.msg);
  return check_done();
}
