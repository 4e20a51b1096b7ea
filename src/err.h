/* Error context carried up to the one place that prints it (mpi/main.c). */
#ifndef BS_ERR_H
#define BS_ERR_H

typedef struct {
  char msg[2048];
} Err;

/* Sets the message; returns -1 so callers can `return errf(e, ...)`. */
int errf(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context ("ctx: old message"); returns -1. */
int errctx(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* malloc/calloc that set an error on failure. */
void *xcalloc(size_t n, size_t size, Err *e);

#endif
