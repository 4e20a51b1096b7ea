/* Error context carried up to the one place that prints it (cli/main.c). Messages that
   print where they happen instead, because the program goes on after them, are of three
   kinds: warnings ("bertsweep: warning: ...": a checkpoint that does not verify, a thread
   count or BLAS kernel that changes a run's bits, a missing pooler); a sweep's per-run
   events, printed by the rank that ran the run (a run that could not run or diverged: the
   sweep continues; a rank that lost its launcher: it exits); and the writer lock's waits
   and takeovers (io/lockfile.c). */
#ifndef BS_ERR_H
#define BS_ERR_H

typedef struct {
  char msg[2048];
  int disk; /* 1: a file could not be written for lack of space (the sweep exits EXIT_IO) */
} Err;

/* Sets the message; returns -1 so callers can `return errf(e, ...)`. */
int errf(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context ("ctx: old message"); returns -1. */
int errctx(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* malloc/calloc that set an error on failure. */
void *xcalloc(size_t n, size_t size, Err *e);

/* Internal invariants, always checked (also in Release): a failure is a bug in bertsweep,
   not something a user caused, so it prints file:line and aborts. Err is for user errors. */
#define BS_ASSERT(cond) ((cond) ? (void)0 : bs_assert_fail(#cond, __FILE__, __LINE__))
_Noreturn void bs_assert_fail(const char *cond, const char *file, int line);

/* Process exit codes. EXIT_ERROR: an error, or a sweep that ended with runs that could not
   run (RUN_FAILED; the other runs finished). EXIT_STOPPED: a stop signal or the time
   limit, every running run checkpointed (RUN_STOPPED); EXIT_IO: the results file
   could not be written (disk full, quota): stopped, the last checkpoints kept. Rerunning
   the same command resumes after either. */
/* EXIT_USER_STOP: `bertsweep stop` asked it to stop: checkpointed like EXIT_STOPPED, but a
   Slurm wrapper must not requeue it. EXIT_BUSY: a running sweep holds the file (`sweep` and
   `check` refuse it). EXIT_SILENT: a rank went silent (a frozen or cut-off node): the others
   checkpointed; a Slurm wrapper requeues without the silent rank's node. */
enum {
  EXIT_OK = 0,
  EXIT_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_STOPPED = 3,
  EXIT_IO = 4,
  EXIT_USER_STOP = 5,
  EXIT_BUSY = 6,
  EXIT_SILENT = 7
};

#endif
