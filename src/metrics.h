/* Classification metrics over a whole evaluation set. */
#ifndef BS_METRICS_H
#define BS_METRICS_H

/* Accuracy and macro-F1 (sklearn's definition: mean F1 over classes that occur in the
   gold labels or the predictions). */
void class_metrics(const int *gold, const int *pred, int n, int num_classes, double *accuracy, double *macro_f1);
/* Index of the largest of x[0..n). */
int metrics_argmax(const float *x, int n);
int argmax_int(const int *x, int n);

#endif
