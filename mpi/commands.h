/* The bertsweep subcommands; each returns the process exit code. */
#ifndef BS_COMMANDS_H
#define BS_COMMANDS_H
#include "src/err.h"

/* EXIT_STOPPED: a stop signal, every running run checkpointed; EXIT_IO: the results file
   could not be written (disk full, quota): stopped, the last checkpoints kept. Rerunning
   the same command resumes after either. */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_STOPPED = 3, EXIT_IO = 4 };

int cmd_train(int argc, char **argv, Err *e);
int cmd_plan(int argc, char **argv, Err *e);
int cmd_sweep(int argc, char **argv, Err *e);
int cmd_pretrain(int argc, char **argv, Err *e);
int cmd_report(int argc, char **argv, Err *e);
int cmd_check(int argc, char **argv, Err *e);
int cmd_schema(int argc, char **argv, Err *e);

#endif
