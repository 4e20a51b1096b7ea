#include <stdlib.h>
#include "src/metrics.h"

int metrics_argmax(const float *x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

void class_metrics(const int *gold, const int *pred, int n, int num_classes, double *accuracy, double *macro_f1) {
  long *tp = calloc((size_t)num_classes * 3, sizeof(long));
  int correct = 0;
  for (int i = 0; i < n; i++) correct += gold[i] == pred[i];
  *accuracy = n ? (double)correct / n : 0.0;
  if (!tp) { *macro_f1 = 0.0 / 0.0; return; }
  long *fp = tp + num_classes, *fn = fp + num_classes;
  for (int i = 0; i < n; i++) {
    if (gold[i] == pred[i]) tp[gold[i]]++;
    else { fp[pred[i]]++; fn[gold[i]]++; }
  }
  double sum = 0.0;
  int k = 0;
  for (int c = 0; c < num_classes; c++) {
    if (tp[c] + fp[c] + fn[c] == 0) continue;
    sum += 2.0 * tp[c] / (2.0 * tp[c] + fp[c] + fn[c]);
    k++;
  }
  *macro_f1 = k ? sum / k : 0.0;
  free(tp);
}

int argmax_int(const int *x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}
