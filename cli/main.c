/* bertsweep: fine-tune BERT over grids of seeds and stabilisers; the one place errors print. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"

static const char *EXIT_CODES =
    "exit codes: 0 done, 1 error, 2 usage, 3 stopped by a signal (checkpointed; rerun to resume),\n"
    "            4 stopped by a results-file write error such as a full disk, 5 stopped by\n"
    "            `bertsweep stop`, 6 the file is held by a running sweep, 7 a rank went silent\n"
    "            (a frozen or cut-off node; the others checkpointed). Rerun to resume after\n"
    "            3, 4, 5 or 7 (after 7 without the silent node)\n";

/* Each subcommand's --help: every option with its default. check, report and stop print
   their own. */
/* The subcommands: dispatch, `bertsweep --help` and each one's --help (NULL: the command
   prints its own) from one row each. */
static const struct {
  const char *name;
  int (*run)(int argc, char **argv, Err *e);
  const char *synopsis, *summary, *help;
} COMMANDS[] = {
    {"train", cmd_train, "CONFIG.json [--save DIR] [--metrics FILE.tsv]", "one run, metrics to stdout",
     "usage: bertsweep train CONFIG.json [--save DIR] [--metrics FILE.tsv]\n"
              "  One run of the config (its \"sweep\" and \"output\" are ignored); a line per step to stdout.\n"
              "  --save DIR          write the fine-tuned model as an HF directory (default: not saved)\n"
              "  --metrics FILE.tsv  also write step, loss, lr, grad norm and evaluations as TSV (default: none)\n"
              "  The config's keys: docs/config.md; e.g. model.random_init true trains from random\n"
              "  weights (the model directory then needs only config.json and vocab.txt).\n"},
    {"plan", cmd_plan, "CONFIG.json [--output FILE] [--ranks N] [--ranks-per-node R] [--threads T] [--layout]", "the expanded runs, steps, file size and time",
     "usage: bertsweep plan CONFIG.json [--output FILE] [--ranks N] [--ranks-per-node R] [--threads T] [--layout]\n"
             "  The runs a sweep config expands to, their steps and evaluations, the results file's size, and\n"
             "  the time it takes, from this node's calibration (`bertsweep bench CONFIG.json`); with none\n"
             "  yet, it times 5 steps and one evaluation of each run shape itself first and stores them.\n"
             "  Works without the data when data.train_size is given.\n"
             "  --output FILE       the results file (default: the config's \"output\")\n"
             "  --ranks N           ranks the sweep will run on (default 1)\n"
             "  --ranks-per-node R  for node-hours (default: N, one node)\n"
             "  --threads T         threads per rank (default: OMP_NUM_THREADS, else 1)\n"
             "  --layout            measure ranks x threads on this node: for each split of its physical\n"
             "                      cores, that many ranks step the first run at once; prints each split's\n"
             "                      steps per second and peak memory, skips splits that would not fit in\n"
             "                      memory, and recommends the fastest (at most one rank per run)\n"},
    {"bench", cmd_bench, "CONFIG.json [--steps 20] [--threads T]", "time this node's steps and evaluations for plan",
     "usage: bertsweep bench CONFIG.json [--steps 20] [--threads T]\n"
              "  Times a training step (mean of --steps after 2 warm-up steps) and one dev evaluation for each\n"
              "  distinct run shape of the sweep, at T threads (default: OMP_NUM_THREADS or all cores), and\n"
              "  stores them in BERTSWEEP_CALIBRATION (default ~/.cache/bertsweep/calibration.json), keyed by\n"
              "  CPU, BLAS kernel, threads, model shape, batch, sequence length and data, for `plan`.\n"
              "  --probe             one rank of `plan --layout` (prints ready, waits for a line, times)\n"},
    {"sweep", cmd_sweep, "CONFIG.json [--output FILE] [--restart] [--progress SECONDS] [--html FILE|auto]", "the whole grid into one HDF5 file",
     NULL /* cmd_sweep: with sweep/env.c's variables */},
    {"report", cmd_report, "FILE.h5 [FILE.h5 ...] [--format table|markdown|json|csv|runs-csv|html] [options]", "per-group statistics and paired comparisons",
     NULL},
    {"stop", cmd_stop, "FILE.h5", "ask the sweep writing FILE.h5 to checkpoint and exit (5)",
     NULL},
    {"status", cmd_status, "FILE.h5 [--watch N]", "runs by status, each rank's run, failures, ETA (live too)",
     NULL},
    {"check", cmd_check, "[--salvage] FILE.h5 [NEW.h5]", "verify a results file (exit 1 on damage); --salvage copies what is readable",
     NULL},
    {"schema", cmd_schema, "[--format markdown|json]", "every dataset of the results file, described",
     "usage: bertsweep schema [--format markdown|json]\n"
               "  Every dataset and /runs column of a results file (default format: markdown).\n"},
    {"export", cmd_export, "FILE.h5 --run N OUT_DIR", "a run's final weights as a HuggingFace model directory",
     "usage: bertsweep export RESULTS.h5 --run N OUT_DIR [--force]\n"
               "  OUT_DIR must be new or empty (--force: replace the files a model directory holds; never\n"
               "  the directory of a model the file's runs load).\n"
               "  Writes run N's final weights (saved when its config set train.save_final_weights) as a\n"
               "  HuggingFace directory: config.json with the label names, model.safetensors, vocab.txt and\n"
               "  tokenizer_config.json. `bertsweep train` loads it again, classifier included; transformers\n"
               "  loads it as BertForSequenceClassification. Needs the run's model and data files.\n"},
    {"inspect", cmd_inspect, "MODEL_DIR", "a model's format, config and tensors (headers only)",
     NULL},
    {"tokenize", cmd_tokenize, "MODEL_DIR TEXT [PAIR]", "tokens, ids and types as a run encodes them",
     NULL},
    {"pretrain", cmd_pretrain, "--corpus FILE --out DIR [options]", "masked-LM pre-training of a small BERT",
     "usage: bertsweep pretrain --corpus FILE --out DIR [options]\n"
                 "  Masked-LM pre-training of a small BERT on a text file, one example per line.\n"
                 "  --steps 3000  --batch 32  --seq 128  --lr 5e-4  --warmup 0.06  --weight-decay 0.01\n"
                 "  --layers 4  --hidden 256  --heads 4  --vocab-size 8000  --min-count 3  --seed 1\n"
                 "  --threads 0 (all cores)  --save-every 500  --log-every 20  --whole-word 1   (defaults shown)\n"
                 "  --resume              continue from OUT's state (saved at every --save-every) with the same options\n"
                 "  --init MODEL_DIR      continue pre-training that model (its weights, MLM head, vocabulary, shape)\n"
                 "  --vocab VOCAB.txt     a new model's vocabulary instead of one built from the corpus\n"
                 "  --chinese-chars 0     read runs of Chinese as WordPieces of the vocabulary (with --whole-word 0)\n"},
};
enum { NCOMMANDS = sizeof COMMANDS / sizeof *COMMANDS };

static void usage(FILE *out) {
  fputs("bertsweep " BERTSWEEP_VERSION " - sweeps of BERT fine-tuning runs on CPU nodes under MPI\n\nusage:\n", out);
  for (int i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %sbertsweep %s %s\n      %s\n", strcmp(COMMANDS[i].name, "sweep") ? "" : "mpirun -np N ",
            COMMANDS[i].name, COMMANDS[i].synopsis, COMMANDS[i].summary);
  fputs("  bertsweep --help | --version | COMMAND --help\n\n", out);
  fputs(EXIT_CODES, out);
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    puts("bertsweep " BERTSWEEP_VERSION);
    return EXIT_OK;
  }
  int c = 0;
  while (c < NCOMMANDS && strcmp(argv[1], COMMANDS[c].name) != 0) c++;
  if (c == NCOMMANDS) {
    fprintf(stderr, "bertsweep: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
  }
  if (argc >= 3 && COMMANDS[c].help && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
    fputs(COMMANDS[c].help, stdout);
    return EXIT_OK;
  }
  Err e = {{0}, 0};
  int code = COMMANDS[c].run(argc - 2, argv + 2, &e);
  /* a report to a full disk, a closed pipe: what was asked for is not there, so not a success */
  errno = 0;
  if (code == EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
    code = EXIT_ERROR;
    errf(&e, "%s: writing the standard output failed: %s", argv[1], errno ? strerror(errno) : "write error");
  }
  if (code != EXIT_OK && e.msg[0]) fprintf(stderr, "bertsweep: error: %s\n", e.msg);
  return code;
}
