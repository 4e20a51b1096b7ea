/* The life of one run, the same for `train` and `sweep`: open the job, continue from a
   checkpoint when the sink holds one, train with evaluations and checkpoints on the config's
   schedule, end. Where the run is recorded is the sink's business: the results file for a
   sweep (jobs/results_sink.h), stdout and a TSV for `train` (cli/cmd_train.c). The driver
   is serial and knows nothing of MPI: the sweep's dispatcher (mpi/) hands it runs. */
#ifndef BS_RUN_H
#define BS_RUN_H
#include "jobs/job.h"

/* How a run ended. */
typedef enum { END_DONE, END_STOPPED, END_DIVERGED, END_FAILED, END_IOERROR, NRUN_ENDS } RunEnd;
/* The status a run that ended so records (END_IOERROR: none, -1: it stays running). */
extern const int RUN_END_STATUS[NRUN_ENDS];
/* How a run ended, in words: its status's name, or "I/O error". */
const char *run_end_name(RunEnd how);

/* Where a run's life goes. Each function returns 0, or -1 with e set when the sink could not
   record (the run then ends END_IOERROR); stop returns 1 to stop. NULL members are skipped. */
typedef struct {
  void *ctx;
  int id; /* the run's index for fault injection (src/fault.h): the sweep's run, -1 for train */
  /* The job opened: continue from a checkpoint if one verifies. 1: restored (job_restore done;
     *eval_pending set when the evaluation due at the checkpoint's step was abandoned); 0: a
     fresh start; 2: a checkpoint that does not verify (the driver reopens the job: a failed
     read may have overwritten the model); -1: error. */
  int (*restore)(void *ctx, Job *j, int *eval_pending, Err *e);
  /* The run is ready to train (its baselines are known); restored: from a checkpoint. */
  int (*opened)(void *ctx, const Job *j, int restored, Err *e);
  int (*step)(void *ctx, const Job *j, const StepMetrics *m, Err *e); /* after update j->step */
  int (*eval)(void *ctx, const Job *j, const EvalMetrics *m, Err *e);
  /* A checkpoint after j->step updates, on the schedule or before a stop; eval_pending: the
     evaluation due at this step was abandoned for the stop. */
  int (*checkpoint)(void *ctx, const Job *j, int eval_pending, Err *e);
  /* After a step that was not checkpointed: flushing and progress reports, if due. */
  int (*tick)(void *ctx, const Job *j, Err *e);
  /* Asked at every step boundary and between evaluation batches. */
  int (*stop)(void *ctx, const Job *j);
  /* The run ended; j is NULL when it never opened (END_FAILED, why says why). */
  int (*end)(void *ctx, const Job *j, RunEnd how, const char *why, Err *e);
} RunSink;

/* Runs cfg to its end and returns how it ended; e holds the reason of END_FAILED and
   END_IOERROR. */
RunEnd run_drive(const RunConfig *cfg, const RunSink *sink, Err *e);

#endif
