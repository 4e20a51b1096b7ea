/* One writer per results file: FILE.lock names the host, process and Slurm job that write
   it. Not HDF5's file locking (off on many cluster file systems): a plain file created with
   O_EXCL, kept fresh by a heartbeat. A lock is stale, and taken over, when its process is
   gone (same host), when it belongs to this same Slurm job (a requeue), or when its
   heartbeat is older than BERTSWEEP_LOCK_STALE seconds (default 600). */
#ifndef BS_LOCKFILE_H
#define BS_LOCKFILE_H
#include "src/err.h"

typedef struct {
  char path[4200];
  int fd;            /* -1: not held */
  double last_beat;  /* clock_seconds() of the last heartbeat */
} WriterLock;

int lock_acquire(WriterLock *l, const char *results_path, Err *e);
/* Refreshes the lock's time stamp at most every 30 s. */
void lock_heartbeat(WriterLock *l);
void lock_release(WriterLock *l);

#endif
