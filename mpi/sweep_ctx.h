/* The sweep across ranks, inside mpi/: the dispatch protocol's messages and the state every
   rank keeps (Ctx). Rank 0's room is mpi/dispatch.c (the queue, the slots, the service loop
   and its periodic duties, the silence watch); a worker's room is mpi/worker.c (asking for
   runs, running them, reporting); mpi/sweep.c sets both up (sweep_run). */
#ifndef BS_SWEEP_CTX_H
#define BS_SWEEP_CTX_H
#include <sys/types.h>
#include "mpi/sweep.h"
#include "src/machine.h"
#include "sweep/progress.h"

/* The dispatch protocol. A worker sends TAG_REQUEST (an int, unused) and gets TAG_ASSIGN; while
   it runs a run it sends TAG_PROGRESS (at most twice a second, and once a second as a pulse
   during long evaluations); at a run's end TAG_DONE, for a failed run followed by TAG_WHY (its
   reason, ERROR_LEN chars). Rank 0 sends TAG_STOP (an int) to stop every worker. The structs
   travel as bytes: every rank runs this one binary. */
enum { TAG_REQUEST = 1, TAG_ASSIGN = 2, TAG_PROGRESS = 3, TAG_DONE = 4, TAG_STOP = 5, TAG_WHY = 6 };
typedef struct {
  int run, slot; /* run -1: nothing left; slot -1: the run has no checkpoint slot */
} AssignMsg;
typedef struct {
  int run;
  long step; /* -1: a pulse before the run's first step */
  double loss, gap_max; /* gap_max: the slowest gap between this run's step reports so far */
} ProgressMsg;
typedef struct {
  int run;
  RunEnd how;
  double final_acc;
  long steps_done;
} DoneMsg;
enum { MAX_LISTED = 8, HOST_LEN = 64 };

static inline void send_msg(const void *m, int bytes, int to, int tag, MPI_Comm comm) {
  MPI_Send(m, bytes, MPI_BYTE, to, tag, comm);
}
static inline void recv_msg(void *m, int bytes, int from, int tag, MPI_Comm comm) {
  MPI_Recv(m, bytes, MPI_BYTE, from, tag, comm, MPI_STATUS_IGNORE);
}

/* A rank running a run is silent when rank 0 heard nothing from it for SILENCE_FACTOR times
   the slowest gap between its step reports in that run (a step, or a step with an evaluation
   or a checkpoint), and never sooner than SILENCE_FLOOR seconds (a run's start loads its model
   and data before its first report); BERTSWEEP_SILENCE_LIMIT replaces both. */
#define SILENCE_FACTOR 20.0
#define SILENCE_FLOOR 300.0

/* Rank 0's periodic duties, as redis's time events: each runs from service() once `every`
   seconds have passed since it last ran (0: every time); those before_messages before the
   requests are answered (a stop asked must hold back the next run), the rest after. */
struct Ctx;
typedef struct {
  double every, last;
  int before_messages;
  void (*run)(struct Ctx *c);
} Duty;
enum { DUTY_STOP_FILES, DUTY_HEARTBEAT, DUTY_SILENCE, DUTY_PAGE, DUTY_PROGRESS, NDUTIES };

typedef struct Ctx {
  const Sweep *s;
  Results *res;
  MPI_Comm comm;
  int rank, size, threads;
  const SweepOptions *opt;
  MachineInfo machine; /* this rank's host, CPU and BLAS kernel */
  char libs[96];       /* MPI library and HDF5 versions */
  int failures, stopped, io_error;
  Err io_err;         /* the first results-file error on this rank */
  int stop_requested; /* this rank must stop at its next step boundary */
  pid_t launcher;     /* the parent that started this rank (mpirun, orted, slurmstepd); 0: none watched */
  double last_report; /* workers: when progress last went to rank 0 */
  double last_hook, gap_max; /* this rank's current run: its last step report, the slowest gap between two */
  int cur_run;               /* workers: the run they train (-1: none), its last step and loss, for pulses */
  long cur_step;
  double cur_loss;
  char (*hosts)[HOST_LEN];   /* [size] each rank's host */
  char (*nodes)[HOST_LEN];   /* [size] each rank's Slurm node name (SLURMD_NODENAME), else its host */
  double wait_sum, wait_max; /* workers: time from asking for a run to getting one */
  long nwait;
  int rank0_trains;          /* rank 0 also trains (else it only hands out runs) */
  /* rank 0 only */
  int *queue, qhead, qn;
  int *slot_run;      /* [nslots] run index holding the slot, -1 free */
  const int *slot_of; /* [nruns] checkpoint slot of a run at start, -1 none */
  int *worker_done;   /* [size] worker got its final answer */
  int finished_workers, stop_mode, user_stop;
  Progress prog;
  Duty duty[NDUTIES];
  int nfailed, nstopped;           /* what the sweep's last lines name */
  int failed_run[MAX_LISTED], stopped_run[MAX_LISTED];
  long stopped_step[MAX_LISTED];
  char first_why[ERROR_LEN];
  double *heard, *gap; /* [size] when rank 0 last heard from a rank; the slowest gap it reported */
  int *silent, nsilent;
  char silent_what[1024]; /* the first silent rank, for the sweep's last line */
} Ctx;

/* mpi/dispatch.c: rank 0 */
int dispatch_rank0_trains(const Sweep *s, int size, int forced);
void dispatch_duties_init(Ctx *c, double now);
int dispatch_take_next(Ctx *c, int *slot);
double dispatch_silence_limit(const SweepOptions *opt, double gap);
/* Answers requests and collects reports; never blocks. */
void dispatch_service(Ctx *c);
/* A run ended on rank src; why: a failed run's reason. */
void dispatch_done(Ctx *c, int src, const DoneMsg *msg, const char *why);
int dispatch_cmp_longest(const void *a, const void *b, void *s_);
void dispatch_stop_summary(const Ctx *c, char *out, size_t size);
int dispatch_failure_summary(const Ctx *c, Err *e);
/* Rank 0's loop: service, and runs of its own while it trains, until every worker is done. */
void dispatch_run(Ctx *c);
/* mpi/worker.c: any rank that trains */
void worker_check_launcher(const Ctx *c);
void worker_run_one(Ctx *c, int run, int slot);
/* A worker's loop: ask, run, report, until rank 0 has nothing left. */
void worker_run(Ctx *c);

#endif
