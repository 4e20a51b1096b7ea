/* `bertsweep plan` and `bertsweep sweep`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "mpi/sweep.h"
#include "sweep/signals.h"
#include "sweep/sweep_file.h"

static double file_bytes(const Sweep *s) {
  double b = 64e3; /* metadata */
  b += (double)s->nruns * ((double)s->max_steps * 3 * 4 + (double)s->max_evals * (3 * 4 + 8) + 256);
  for (int i = 0; i < s->nruns; i++) b += (double)strlen(s->runs[i].config_json);
  return b;
}

static void human(char *out, size_t n, double b) {
  const char *u[] = {"B", "kB", "MB", "GB", "TB"};
  int k = 0;
  while (b >= 1000 && k < 4) { b /= 1000; k++; }
  snprintf(out, n, "%.1f %s", b, u[k]);
}

int cmd_plan(int argc, char **argv, Err *e) {
  const char *config = NULL, *output = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) output = argv[++i];
    else if (argv[i][0] == '-') { errf(e, "plan: unknown option %s", argv[i]); return EXIT_USAGE; }
    else config = argv[i];
  }
  if (!config) { errf(e, "usage: bertsweep plan CONFIG.json [--output FILE]"); return EXIT_USAGE; }
  Sweep s;
  if (sweep_load_lenient(&s, config, output, 1, e)) return EXIT_ERROR;
  long total = 0;
  printf("%-6s %-8s %-6s %s\n", "run", "steps", "evals", "settings");
  for (int i = 0; i < s.nruns; i++) {
    char label[1024];
    run_label(&s, &s.runs[i], label, sizeof label);
    printf("%-6d %-8ld %-6d %s\n", i, s.runs[i].total_steps, s.runs[i].n_evals, label);
    total += s.runs[i].total_steps;
  }
  char size[32], slot[32];
  human(size, sizeof size, file_bytes(&s));
  if (s.max_nparams > 0) human(slot, sizeof slot, 2.0 * 3 * 4 * (double)s.max_nparams);
  else snprintf(slot, sizeof slot, "an unknown size");
  printf("\n%d runs (%d grid points x %d seeds), %ld steps in all, longest %ld\n", s.nruns, s.nruns / s.nseeds,
         s.nseeds, total, s.max_steps);
  printf("results file: %s (about %s of metrics; while it runs, plus %s per checkpoint slot: one per rank and one per "
         "run waiting to resume)\n",
         s.output[0] ? s.output : "(no \"output\" given)", size, slot);
  if (s.missing & MISSING_DATA)
    printf("note: a training set was not found; steps follow from data.train_size\n");
  if (s.missing & MISSING_LABELS)
    printf("note: a labels file was not found; the classifier's size assumes 2 labels\n");
  if (s.missing & MISSING_MODEL)
    printf("note: a model was not found; checkpoint slot sizes are unknown\n");
  printf("time: not estimated (no step-time calibration exists for this machine yet)\n");
  sweep_free(&s);
  return EXIT_OK;
}

int cmd_sweep(int argc, char **argv, Err *e) {
  signals_install(); /* first: a stop signal in the first second must not kill the ranks */
  SweepArgs a = {.progress_every = 2.0};
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) a.output = argv[++i];
    else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc) {
      char *end;
      a.progress_every = strtod(argv[++i], &end);
      if (end == argv[i] || *end || !(a.progress_every >= 0 && a.progress_every <= 1e6)) {
        errf(e, "sweep: --progress needs seconds >= 0, not \"%s\"", argv[i]);
        return EXIT_USAGE;
      }
    }
    else if (strcmp(argv[i], "--restart") == 0) a.restart = 1;
    else if (argv[i][0] == '-') { errf(e, "sweep: unknown option %s", argv[i]); return EXIT_USAGE; }
    else a.config = argv[i];
  }
  if (!a.config) {
    errf(e, "usage: bertsweep sweep CONFIG.json [--output FILE] [--restart] [--progress SECONDS]");
    return EXIT_USAGE;
  }
  return sweep_mpi(&a, e);
}
