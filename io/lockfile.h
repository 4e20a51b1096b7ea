/* One writer per results file: FILE.lock names the host, process and Slurm job that write
   it, and every process (rank) that writes into the file. Not HDF5's file locking (off on
   many cluster file systems): a plain file created with O_EXCL, kept fresh by a heartbeat.
   A lock is stale, and taken over, when every writer it lists on this host is gone (and its
   main process ran here), when it belongs to this same Slurm job (a requeue), or when its
   heartbeat is older than BERTSWEEP_LOCK_STALE seconds (default 600; never less than four of
   the holder's heartbeats, which the lock records: a taker's own setting cannot make a live
   holder look stale). A writer is alive while a process of its pid and its start time runs
   (whatever its program is called). A rank outlives a
   killed mpirun by a moment and may still write: every listed writer counts, not rank 0
   alone. */
#ifndef BS_LOCKFILE_H
#define BS_LOCKFILE_H
#include <stddef.h>
#include "src/err.h"

/* One process that writes the results file. */
typedef struct {
  char host[256];
  long pid, ppid; /* ppid: the launcher (mpirun, orted, slurmstepd); its change marks an orphan */
  unsigned long long start; /* when the process started (/proc/PID/stat, clock ticks since boot; 0: unknown) */
} LockWriter;

typedef struct {
  char path[4200];
  int fd;            /* -1: not held */
  double last_beat;  /* clock_seconds() of the last heartbeat */
  int fence;         /* set by lock_acquire: a writer of the lock it took over may live on
                        another host (or a rank went silent): fence the file before writing */
  double stale;      /* BERTSWEEP_LOCK_STALE (lock_stale_env) */
  double heartbeat;  /* this holder's heartbeat period: min(30 s, stale / 4) */
  int (*interrupted)(void); /* set by the caller, may be NULL: 1 ends a wait (a stop signal) */
} WriterLock;

/* BERTSWEEP_LOCK_STALE: seconds in [2, 1e7], 600 when unset or empty; anything else an error. */
int lock_stale_env(double *out, Err *e);
/* 1 while the lock file at l->path is still the one this process holds (not taken over). */
int lock_held(const WriterLock *l);

/* This process as a writer. */
void lock_writer_self(LockWriter *w);
/* Takes FILE.lock for the n writers (writers[0] is this process), waiting 2 s for the
   writers of a just-killed holder on this host to go, up to 60 s while every live one is an
   orphan (its launcher died; it exits at its next step), and, saying so, until a lock whose
   heartbeat stopped (older than 3 heartbeats) is stale. 0: taken; 1: a live sweep holds it
   (e says whose); 2: a wait ended by l->interrupted; -1: an error. */
int lock_acquire(WriterLock *l, const char *results_path, const LockWriter *writers, int n, Err *e);
/* Leaves the lock in place marked abandoned (why: the silent rank), for a sweep that ends
   while a rank may still be alive: the next sweep takes it over at once and fences the file. */
int lock_abandon(WriterLock *l, const char *why, Err *e);
/* What a rank that is no holder sees of the holder through the lock file: its inode, when
   it was last refreshed (st_mtim), the holder's heartbeat period, and whether it lists this
   process as a writer and is not marked abandoned. 0, or 1 when there is no readable lock. */
typedef struct {
  unsigned long long ino;
  double mtime, heartbeat;
  int listed, abandoned;
} LockBeat;
int lock_beat(const char *results_path, LockBeat *b);
/* Marks results_path's lock abandoned (why) when it still lists this process as a writer and
   is not yet marked: a worker's end for a frozen rank 0. 0 also when nothing was marked. */
int lock_abandon_listed(const char *results_path, const char *why, Err *e);
/* Refreshes the lock's time stamp at most every l->heartbeat seconds. */
void lock_heartbeat(WriterLock *l);
void lock_release(WriterLock *l);
/* 1 when a live sweep holds results_path's lock (what: who, for a message), 0 when no lock
   or a stale one. */
int lock_live(const char *results_path, char *what, size_t size);

#endif
