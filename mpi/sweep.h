/* The sweep engine: rank 0 hands out runs (longest remaining first) on request and trains
   runs itself between answering; every rank writes its own runs' metrics and checkpoints into
   the shared results file; a stop signal on any rank checkpoints every running run. */
#ifndef BS_SWEEP_H
#define BS_SWEEP_H
#include <mpi.h>
#include "io/lockfile.h"
#include "io/results_mpi.h"
#include "sweep/env.h"
#include "sweep/grid.h"

typedef struct {
  double progress_every; /* seconds between progress lines on rank 0 (0: never) */
  WriterLock *lock;      /* rank 0: the results file's lock, kept fresh while running */
  const SweepEnv *env;   /* the environment's settings: silence limit, rank 0 training, the Slurm
                            wrapper's files, the node name, whether a launcher started it */
  struct LivePage *page;  /* rank 0: the live HTML page, or NULL */
} SweepOptions;

/* The live page: rank 0 rewrites html (atomically) from the results file every `every`
   seconds while the sweep runs, the page reloading itself as often, and once more at the end
   (refresh 0: it stops reloading). write: supplied by the command (the report layer). */
typedef struct LivePage {
  const char *html;
  double every;
  int (*write)(const char *results, const char *html, double refresh, Err *e);
  double last;  /* clock_seconds() of the last write */
  int warned;   /* a failed write was reported */
} LivePage;
/* Writes the page now (refresh > 0: it reloads itself); a failure is reported once and never
   stops the sweep. */
void live_page_write(LivePage *p, const char *results, double refresh);

typedef struct {
  int done_before;  /* runs already done in the file */
  int resumed;      /* runs continued from a checkpoint */
  int stopped;      /* 1 when a signal stopped the sweep */
  int io_error;     /* 1 when the results file could not be written (the sweep stopped) */
  int user_stop;    /* 1 when `bertsweep stop` asked for the stop */
  char stop_summary[1024]; /* "N runs checkpointed: run R at step S, ..." */
  int silent;               /* rank 0: how many ranks went silent (then no collective may follow) */
  char silent_summary[1024]; /* the first silent rank, its host and run */
  char silent_hosts[1024];   /* their hosts, one per line */
  long assignments;          /* rank 0: runs handed to workers, how long they waited (s) */
  double wait_mean, wait_max;
} SweepOutcome;

/* Runs every run of s whose status (from the file) is not final (run_status_final). status[i] is the file's
   status of s->runs[i] (NULL: all pending); slot_of[i] the checkpoint slot holding run i's
   checkpoint or -1. */
int sweep_run(const Sweep *s, Results *res, MPI_Comm comm, const SweepOptions *opt, char (*status)[STATUS_LEN],
              const int *slot_of, SweepOutcome *out, Err *e);

/* Threads for this rank: OMP_NUM_THREADS when set, else the cores it was given, shared among
   the ranks on its node. */
int sweep_default_threads(MPI_Comm comm);
/* Before an MPI_Abort that a frozen node may keep from ending the job (Open MPI's mpirun waits
   for every daemon, a frozen one for ever): a process of its own session ends this rank's
   launcher (mpirun or its daemon) if it is still there after `seconds`. */
void sweep_end_launcher_later(double seconds);
/* The delay: after the Slurm wrapper's own 20 s, which ends srun more gently. */
#define SWEEP_LAUNCHER_GRACE 25.0

/* `bertsweep sweep` as parsed from the command line. */
typedef struct {
  const char *config, *output; /* output: NULL for the config's "output" */
  int restart;
  double progress_every;
  int launched; /* set by sweep_mpi: the environment named a launcher before MPI_Init */
  /* checks the config's sections the sweep itself does not read (its "report"), on rank 0
     before any file changes; NULL: none */
  int (*check_config)(const char *config_json, const char *path, Err *e);
  const char *html; /* the live page's path ("auto": beside the results file), or NULL */
  int (*write_page)(const char *results, const char *html, double refresh, Err *e);
} SweepArgs;
/* The whole sweep on every rank of comm (collective); returns an EXIT_* code, the message in
   e on rank 0. */
int sweep_main(const SweepArgs *a, int rank, MPI_Comm comm, Err *e);
/* MPI_Init, sweep_main on MPI_COMM_WORLD, MPI_Finalize. */
int sweep_mpi(const SweepArgs *a, Err *e);

#endif
