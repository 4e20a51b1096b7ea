/* bertsweep: fine-tune BERT over grids of seeds and stabilisers; the one place errors print. */
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"

static const char *USAGE =
    "bertsweep " BERTSWEEP_VERSION " - sweeps of BERT fine-tuning runs on CPU nodes under MPI\n"
    "\n"
    "usage:\n"
    "  bertsweep train CONFIG.json [--save DIR] [--metrics FILE.tsv]\n"
    "                                              one run, metrics to stdout\n"
    "  bertsweep plan  CONFIG.json [--output FILE] the expanded runs, steps and file size\n"
    "  mpirun -np N bertsweep sweep CONFIG.json [--output FILE] [--restart] [--progress SECONDS]\n"
    "                                              the whole grid into one HDF5 file\n"
    "  bertsweep report FILE.h5 [FILE.h5 ...] [--format table|markdown|json|csv] [options]\n"
    "                                              per-group statistics and paired comparisons\n"
    "  bertsweep check FILE.h5                     verify a results file (exit 1 on damage)\n"
    "  bertsweep check --salvage FILE.h5 NEW.h5    copy what is readable into a new file\n"
    "  bertsweep schema [--format markdown|json]   every dataset of the results file, described\n"
    "  bertsweep pretrain --corpus FILE --out DIR  masked-LM pre-training of a small BERT\n"
    "  bertsweep --help | --version\n"
    "\n"
    "exit codes: 0 done, 1 error, 2 usage, 3 stopped by a signal (checkpointed; rerun to resume),\n"
    "            4 stopped by a results-file write error such as a full disk (rerun to resume)\n";

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    puts("bertsweep " BERTSWEEP_VERSION);
    return EXIT_OK;
  }
  if (argc >= 3 && strcmp(argv[1], "check") != 0 && strcmp(argv[1], "report") != 0 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
    fputs(USAGE, stdout);
    return EXIT_OK;
  }
  Err e = {{0}};
  int code;
  if (strcmp(argv[1], "train") == 0) code = cmd_train(argc - 2, argv + 2, &e);
  else if (strcmp(argv[1], "plan") == 0) code = cmd_plan(argc - 2, argv + 2, &e);
  else if (strcmp(argv[1], "sweep") == 0) code = cmd_sweep(argc - 2, argv + 2, &e);
  else if (strcmp(argv[1], "pretrain") == 0) code = cmd_pretrain(argc - 2, argv + 2, &e);
  else if (strcmp(argv[1], "report") == 0) code = cmd_report(argc - 2, argv + 2, &e);
  else if (strcmp(argv[1], "check") == 0) code = cmd_check(argc - 2, argv + 2, &e);
  else if (strcmp(argv[1], "schema") == 0) code = cmd_schema(argc - 2, argv + 2, &e);
  else {
    fprintf(stderr, "bertsweep: unknown command '%s'\n%s", argv[1], USAGE);
    return EXIT_USAGE;
  }
  if (code != EXIT_OK && e.msg[0]) fprintf(stderr, "bertsweep: error: %s\n", e.msg);
  return code;
}
