/* Minimal assertion helpers for the C tests: every check counts, the summary line is
   "N passed, N failed" and the exit code is non-zero when anything failed. */
#ifndef BS_CHECK_H
#define BS_CHECK_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) check_pass++;                                \
    else {                                                 \
      check_fail++;                                        \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
    }                                                      \
  } while (0)

static inline int check_done(void) {
  printf("%d passed, %d failed\n", check_pass, check_fail);
  return check_fail ? 1 : 0;
}

/* max |a-b| / max(max|b|, floor): the error relative to the tensor's scale. */
static inline double rel_err(const float *a, const float *b, size_t n, double floor_) {
  double md = 0.0, mb = floor_;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    if (!(d <= md)) md = d; /* NaN propagates */
    if (fabs(b[i]) > mb) mb = fabs(b[i]);
  }
  return md / mb;
}

#endif
