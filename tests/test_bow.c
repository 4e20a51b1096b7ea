/* The bag-of-words baseline on data whose answer is known: separable by one token, separable
   only by token order (bigrams), and dev features never seen in training (the bias alone). */
#include <string.h>
#include "src/bow.h"
#include "tests/check.h"

enum { T = 6, N = 60 };

/* Example i: [CLS] then up to 4 tokens; *label from the rule of case k. */
static void make(int k, int i, int *ids, int *len, int *label) {
  memset(ids, 0, sizeof(int) * T);
  ids[0] = 101;
  int c = i % 3, filler = 200 + (i * 7) % 13;
  if (k == 0) { /* class c has token 10 + c somewhere among noise */
    ids[1] = filler; ids[2] = 10 + c; ids[3] = filler + 1;
    *len = 4;
  } else if (k == 1) { /* same tokens, order decides: A B -> 0, B A -> 1 */
    c = i % 2;
    ids[1] = filler; ids[2] = c ? 21 : 20; ids[3] = c ? 20 : 21;
    *len = 4;
  } else { /* dev tokens never seen in training */
    ids[1] = 500 + i; ids[2] = 600 + i;
    *len = 3;
  }
  *label = c;
}

static double run(int k, int ntrain_labels_skewed) {
  static int ids[2][N * T], len[2][N], label[2][N];
  for (int s = 0; s < 2; s++)
    for (int i = 0; i < N; i++) {
      make(k == 2 && s == 0 ? 0 : k, i + s * N, ids[s] + i * T, &len[s][i], &label[s][i]);
      if (k == 2 && s == 0 && ntrain_labels_skewed) label[s][i] = i % 4 == 0 ? 1 : 2; /* 75% label 2 */
      if (k == 2 && s == 1) label[s][i] = i % 3;
    }
  BowData tr = {N, T, ids[0], len[0], label[0]}, dv = {N, T, ids[1], len[1], label[1]};
  Err e;
  return bow_accuracy(&tr, &dv, 3, &e);
}

int main(void) {
  double a = run(0, 0);
  CHECK(a == 1.0, "one token decides the class: accuracy %g, expected 1", a);
  a = run(1, 0);
  CHECK(a == 1.0, "only the order (bigrams) decides: accuracy %g, expected 1", a);
  a = run(2, 1);
  CHECK(fabs(a - 1.0 / 3) < 1e-12, "unseen dev features: the bias predicts train's majority (label 2): %g", a);
  int ids[T] = {101, 5}, len = 2, lab = 0;
  BowData one = {1, T, ids, &len, &lab}, none = {0, T, ids, &len, &lab};
  Err e;
  CHECK(isnan(bow_accuracy(&none, &one, 2, &e)), "no training examples: NaN");
  return check_done();
}
