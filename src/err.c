#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "src/err.h"

int errf(Err *e, const char *fmt, ...) {
  if (!e) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  e->disk = 0; /* a new error: whoever knows it is a full disk says so after */
  va_end(ap);
  return -1;
}

int errctx(Err *e, const char *fmt, ...) {
  if (!e) return -1;
  char prefix[1024], old[sizeof e->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, e->msg, sizeof old);
  size_t n = strlen(prefix);
  if (n > sizeof e->msg - 3) n = sizeof e->msg - 3;
  memcpy(e->msg, prefix, n);
  memcpy(e->msg + n, ": ", 2);
  size_t rest = sizeof e->msg - n - 3, ol = strlen(old);
  if (ol > rest) ol = rest;
  memcpy(e->msg + n + 2, old, ol);
  e->msg[n + 2 + ol] = 0;
  return -1;
}

void *xcalloc(size_t n, size_t size, Err *e) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) errf(e, "out of memory allocating %zu x %zu bytes", n, size);
  return p;
}

_Noreturn void bs_assert_fail(const char *cond, const char *file, int line) {
  fprintf(stderr, "bertsweep: internal error at %s:%d: %s (please report)\n", file, line, cond);
  abort();
}
