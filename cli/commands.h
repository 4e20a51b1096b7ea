/* The bertsweep subcommands; each returns the process exit code. */
#ifndef BS_COMMANDS_H
#define BS_COMMANDS_H
#include "src/err.h"


/* "CMD: MESSAGE; see bertsweep CMD --help" into e; returns EXIT_USAGE. */
int usage_error(Err *e, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int cmd_train(int argc, char **argv, Err *e);
int cmd_plan(int argc, char **argv, Err *e);
int cmd_bench(int argc, char **argv, Err *e);
int cmd_export(int argc, char **argv, Err *e);
int cmd_sweep(int argc, char **argv, Err *e);
int cmd_pretrain(int argc, char **argv, Err *e);
int cmd_report(int argc, char **argv, Err *e);
int cmd_check(int argc, char **argv, Err *e);
int cmd_schema(int argc, char **argv, Err *e);
int cmd_stop(int argc, char **argv, Err *e);
int cmd_status(int argc, char **argv, Err *e);
int cmd_inspect(int argc, char **argv, Err *e);
int cmd_tokenize(int argc, char **argv, Err *e);

#endif
