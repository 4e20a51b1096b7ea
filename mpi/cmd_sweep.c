/* `bertsweep plan` and `bertsweep sweep`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs/job.h"
#include "mpi/commands.h"
#include "mpi/sweep.h"

static void layout_of(const Sweep *s, ResultsLayout *lay) {
  memset(lay, 0, sizeof *lay);
  lay->nruns = s->nruns;
  lay->max_steps = s->max_steps;
  lay->max_evals = s->max_evals;
  lay->ncols = s->naxes;
  for (int a = 0; a < s->naxes; a++) {
    snprintf(lay->cols[a].name, sizeof lay->cols[a].name, "%s", s->axes[a].key);
    lay->cols[a].type = s->axes[a].type;
    lay->cols[a].strsize = s->axes[a].strsize;
  }
}

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
  if (sweep_load(&s, config, output, e)) return EXIT_ERROR;
  long total = 0;
  printf("%-6s %-8s %-6s %s\n", "run", "steps", "evals", "settings");
  for (int i = 0; i < s.nruns; i++) {
    char label[1024];
    run_label(&s, &s.runs[i], label, sizeof label);
    printf("%-6d %-8ld %-6d %s\n", i, s.runs[i].total_steps, s.runs[i].n_evals, label);
    total += s.runs[i].total_steps;
  }
  char size[32];
  human(size, sizeof size, file_bytes(&s));
  printf("\n%d runs (%d grid points x %d seeds), %ld steps in all, longest %ld\n", s.nruns, s.nruns / s.nseeds,
         s.nseeds, total, s.max_steps);
  printf("results file: %s (about %s)\n", s.output[0] ? s.output : "(no \"output\" given)", size);
  sweep_free(&s);
  return EXIT_OK;
}

static int sweep_main(int argc, char **argv, int rank, MPI_Comm comm, Err *e) {
  const char *config = NULL, *output = NULL;
  SweepOptions opt = {2.0, 0};
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) output = argv[++i];
    else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc) opt.progress_every = atof(argv[++i]);
    else if (argv[i][0] == '-') { errf(e, "sweep: unknown option %s", argv[i]); return EXIT_USAGE; }
    else config = argv[i];
  }
  if (!config) {
    errf(e, "usage: bertsweep sweep CONFIG.json [--output FILE] [--progress SECONDS]");
    return EXIT_USAGE;
  }
  Sweep s;
  if (sweep_load(&s, config, output, e)) return EXIT_ERROR;
  if (!s.output[0]) {
    sweep_free(&s);
    errf(e, "%s: no \"output\" given (or pass --output FILE)", config);
    return EXIT_ERROR;
  }
  /* preflight on rank 0: the first run's model and data open, before any file is made */
  int ok = 1;
  if (rank == 0) {
    Job j;
    ok = job_open(&j, &s.runs[0].rc, e) == 0;
    if (ok) job_close(&j);
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  if (!ok) { sweep_free(&s); return EXIT_ERROR; }
  ResultsLayout lay;
  layout_of(&s, &lay);
  RunRow *rows = calloc((size_t)s.nruns, sizeof(RunRow));
  const char **vals = calloc((size_t)s.nruns * (s.naxes ? s.naxes : 1), sizeof(char *));
  const char **cfgs = calloc((size_t)s.nruns, sizeof(char *));
  if (!rows || !vals || !cfgs) { free(rows); free(vals); free(cfgs); sweep_free(&s); errf(e, "out of memory"); return EXIT_ERROR; }
  for (int i = 0; i < s.nruns; i++) {
    const PlannedRun *p = &s.runs[i];
    for (int a = 0; a < s.naxes; a++) vals[i * s.naxes + a] = s.axes[a].vals[p->choice[a]];
    rows[i] = (RunRow){.run_id = i, .seed = p->seed, .rank = -1, .values = vals + i * s.naxes,
                       .total_steps = p->total_steps, .best_step = -1, .status = "pending",
                       .best_acc = NAN, .final_acc = NAN, .final_loss = NAN};
    cfgs[i] = p->config_json;
  }
  Results res;
  int rc = results_create(&res, s.output, comm, &lay, rows, cfgs, s.sweep_json, s.path, e);
  free(rows);
  free(vals);
  free(cfgs);
  if (rc) { sweep_free(&s); return EXIT_ERROR; }
  int size;
  MPI_Comm_size(comm, &size);
  if (rank == 0)
    printf("# sweep %s: %d runs, up to %ld steps each, on %d rank(s); results in %s\n", s.path, s.nruns, s.max_steps,
           size, s.output);
  rc = sweep_run(&s, &res, comm, &opt, e);
  Err e2;
  results_close(&res, &e2);
  MPI_Barrier(comm);
  if (rank == 0) {
    if (results_attach_scales(s.output, &e2) && !rc) { *e = e2; rc = -1; }
    if (!rc) printf("# done: %d runs in %s\n#   python3 -c \"import h5py; f = h5py.File('%s'); print(f['runs'][:])\"\n",
                    s.nruns, s.output, s.output);
  }
  sweep_free(&s);
  return rc ? EXIT_ERROR : EXIT_OK;
}

int cmd_sweep(int argc, char **argv, Err *e) {
  int provided;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int code = sweep_main(argc, argv, rank, MPI_COMM_WORLD, e);
  if (rank != 0) e->msg[0] = 0; /* collective errors print once, on rank 0 */
  MPI_Finalize();
  return code;
}
