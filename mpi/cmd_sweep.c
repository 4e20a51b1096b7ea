/* `bertsweep plan` and `bertsweep sweep`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
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
  char size[32], slot[32];
  human(size, sizeof size, file_bytes(&s));
  human(slot, sizeof slot, 2.0 * 3 * 4 * (double)s.max_nparams);
  printf("\n%d runs (%d grid points x %d seeds), %ld steps in all, longest %ld\n", s.nruns, s.nruns / s.nseeds,
         s.nseeds, total, s.max_steps);
  printf("results file: %s (about %s of metrics, plus %s per checkpoint slot: one per rank)\n",
         s.output[0] ? s.output : "(no \"output\" given)", size, slot);
  sweep_free(&s);
  return EXIT_OK;
}

/* ---- resuming: what changed between the file's sweep config and this one ---- */

static void flatten(const cJSON *o, const char *prefix, cJSON *out) {
  for (const cJSON *it = o->child; it; it = it->next) {
    char key[512];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", it->string);
    if (cJSON_IsObject(it)) flatten(it, key, out);
    else cJSON_AddItemToObject(out, key, cJSON_Duplicate(it, 1));
  }
}

/* Names what differs between two base configs ("train.epochs: 3 -> 4"); 0 when equal. */
static int base_diff(const char *old_json, const char *new_json, char *out, size_t size) {
  cJSON *a = cJSON_Parse(old_json), *b = cJSON_Parse(new_json), *fa = cJSON_CreateObject(), *fb = cJSON_CreateObject();
  size_t len = 0;
  int n = 0;
  out[0] = 0;
  if (a && b && fa && fb) {
    const char *skip[] = {"sweep", "output"};
    for (int i = 0; i < 2; i++) {
      cJSON_DeleteItemFromObjectCaseSensitive(a, skip[i]);
      cJSON_DeleteItemFromObjectCaseSensitive(b, skip[i]);
    }
    flatten(a, "", fa);
    flatten(b, "", fb);
    for (const cJSON *x = fa->child; x; x = x->next) {
      const cJSON *y = cJSON_GetObjectItemCaseSensitive(fb, x->string);
      if (y && cJSON_Compare(x, y, 1)) continue;
      char *vx = cJSON_PrintUnformatted(x), *vy = y ? cJSON_PrintUnformatted(y) : NULL;
      if (len < size) len += (size_t)snprintf(out + len, size - len, "%s%s: %s -> %s", n++ ? "; " : "", x->string,
                                              vx ? vx : "?", vy ? vy : "(removed)");
      cJSON_free(vx);
      cJSON_free(vy);
    }
    for (const cJSON *y = fb->child; y; y = y->next) {
      if (cJSON_GetObjectItemCaseSensitive(fa, y->string)) continue;
      char *vy = cJSON_PrintUnformatted(y);
      if (len < size) len += (size_t)snprintf(out + len, size - len, "%s%s: (absent) -> %s", n++ ? "; " : "", y->string,
                                              vy ? vy : "?");
      cJSON_free(vy);
    }
  } else {
    n = 1;
    snprintf(out, size, "the stored config is not valid JSON");
  }
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(fa);
  cJSON_Delete(fb);
  return n;
}

/* The grid keys, in order, as one string. */
static void grid_keys(const char *sweep_json, char *out, size_t size) {
  cJSON *root = cJSON_Parse(sweep_json);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "sweep"), "grid");
  size_t len = 0;
  out[0] = 0;
  for (const cJSON *it = g ? g->child : NULL; it && len < size; it = it->next)
    len += (size_t)snprintf(out + len, size - len, "%s%s", len ? " " : "", it->string);
  cJSON_Delete(root);
}

typedef struct {
  int nrows;            /* rows in the file after this sweep */
  const char **cfgs;    /* [nrows] */
  RunRow *rows;         /* [nrows] */
  const char **vals;    /* [nruns * naxes] */
  char (*status)[8];    /* [nruns] per run of the sweep */
  int *slot_of;         /* [nruns] */
  int nslots, pending;
} Plan;

static void plan_free(Plan *p) {
  free(p->cfgs);
  free(p->rows);
  free(p->vals);
  free(p->status);
  free(p->slot_of);
}

/* Matches this sweep's runs against the file's rows; new runs get rows after the old ones. */
static int plan_resume(Sweep *s, const ResultsInfo *info, Plan *p, Err *e) {
  char diff[1500], ka[1024], kb[1024];
  if (base_diff(info->sweep_json, s->sweep_json, diff, sizeof diff))
    return errf(e, "%s was written by a different sweep (base config changed: %s); use another --output, or "
                   "--restart to move it aside and start over", s->output, diff);
  grid_keys(info->sweep_json, ka, sizeof ka);
  grid_keys(s->sweep_json, kb, sizeof kb);
  if (strcmp(ka, kb) != 0)
    return errf(e, "%s: the grid keys changed (file: %s; config: %s); values may be added to keys, keys may not change",
                s->output, ka[0] ? ka : "none", kb[0] ? kb : "none");
  cJSON **old = calloc((size_t)(info->nruns ? info->nruns : 1), sizeof(cJSON *));
  if (!old) return errf(e, "out of memory");
  for (int j = 0; j < info->nruns; j++) old[j] = cJSON_Parse(info->run_configs[j]);
  int next = info->nruns;
  for (int i = 0; i < s->nruns; i++) {
    cJSON *mine = cJSON_Parse(s->runs[i].config_json);
    int row = -1;
    for (int j = 0; j < info->nruns && row < 0 && mine; j++)
      if (old[j] && cJSON_Compare(old[j], mine, 1)) row = j;
    cJSON_Delete(mine);
    s->runs[i].row = row >= 0 ? row : next++;
  }
  for (int j = 0; j < info->nruns; j++) cJSON_Delete(old[j]);
  free(old);
  p->nrows = next;
  return 0;
}

static int plan_build(const Sweep *s, const ResultsInfo *info, int size, Plan *p, Err *e) {
  p->cfgs = calloc((size_t)p->nrows, sizeof(char *));
  p->rows = calloc((size_t)p->nrows, sizeof(RunRow));
  p->vals = calloc((size_t)s->nruns * (size_t)(s->naxes ? s->naxes : 1), sizeof(char *));
  p->status = calloc((size_t)s->nruns, sizeof *p->status);
  p->slot_of = malloc(sizeof(int) * (size_t)s->nruns);
  if (!p->cfgs || !p->rows || !p->vals || !p->status || !p->slot_of) return errf(e, "out of memory");
  for (int j = 0; info && j < info->nruns; j++) p->cfgs[j] = info->run_configs[j];
  for (int i = 0; i < s->nruns; i++) {
    const PlannedRun *r = &s->runs[i];
    for (int a = 0; a < s->naxes; a++) p->vals[i * s->naxes + a] = s->axes[a].vals[r->choice[a]];
    p->rows[r->row] = (RunRow){.run_id = r->row, .seed = r->seed, .rank = -1, .values = p->vals + i * s->naxes,
                               .total_steps = r->total_steps, .best_step = -1, .status = "pending",
                               .best_acc = NAN, .final_acc = NAN, .final_loss = NAN, .majority = NAN};
    p->cfgs[r->row] = r->config_json;
    int known = info && r->row < info->nruns;
    snprintf(p->status[i], 8, "%s", known ? info->status[r->row] : "pending");
    p->slot_of[i] = -1;
    for (int k = 0; known && k < info->lay.nslots; k++)
      if ((int)info->slots[k].run == r->row && strcmp(p->status[i], "done") != 0) p->slot_of[i] = k;
    p->pending += p->slot_of[i] >= 0;
  }
  p->nslots = size + p->pending;
  if (info && info->lay.nslots > p->nslots) p->nslots = info->lay.nslots;
  return 0;
}

/* [{"name": ..., "shape": [r, c], "offset": k}, ...] of a model's parameter buffer. */
static char *tensor_layout_json(const BertConfig *cfg) {
  Bert m;
  Err ignore;
  if (bert_layout(&m, cfg, &ignore)) return NULL;
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; arr && i < m.ntensors; i++) {
    cJSON *t = cJSON_CreateObject();
    const ParamInfo *pi = &m.info[i];
    double shape[2] = {pi->rows, pi->cols};
    cJSON_AddStringToObject(t, "name", pi->name);
    cJSON_AddItemToObject(t, "shape", cJSON_CreateDoubleArray(shape, pi->cols == 1 ? 1 : 2));
    cJSON_AddNumberToObject(t, "offset", (double)pi->offset);
    cJSON_AddItemToArray(arr, t);
  }
  char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
  cJSON_Delete(arr);
  bert_free(&m);
  return s;
}

static int move_aside(const char *path, Err *e) {
  char dst[4200], stamp[32];
  time_t t = time(NULL);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
  snprintf(dst, sizeof dst, "%s.replaced-%s", path, stamp);
  if (rename(path, dst) != 0) return errf(e, "%s: cannot move aside to %s", path, dst);
  printf("# --restart: moved the old results to %s\n", dst);
  return 0;
}

static int parse_fault(Fault *f) {
  const char *v = getenv("BERTSWEEP_FAULT");
  memset(f, 0, sizeof *f);
  if (!v || !v[0]) return 0;
  return sscanf(v, "%15[a-z]:%d:%ld", f->kind, &f->run, &f->step) == 3 ? 0 : -1;
}

static int sweep_main(int argc, char **argv, int rank, MPI_Comm comm, Err *e) {
  const char *config = NULL, *output = NULL;
  int restart = 0;
  SweepOptions opt = {2.0, {{0}, 0, 0}};
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) output = argv[++i];
    else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc) opt.progress_every = atof(argv[++i]);
    else if (strcmp(argv[i], "--restart") == 0) restart = 1;
    else if (argv[i][0] == '-') { errf(e, "sweep: unknown option %s", argv[i]); return EXIT_USAGE; }
    else config = argv[i];
  }
  if (!config) {
    errf(e, "usage: bertsweep sweep CONFIG.json [--output FILE] [--restart] [--progress SECONDS]");
    return EXIT_USAGE;
  }
  if (parse_fault(&opt.fault)) { errf(e, "BERTSWEEP_FAULT must look like kill:RUN:STEP"); return EXIT_USAGE; }
  Sweep s;
  if (sweep_load(&s, config, output, e)) return EXIT_ERROR;
  int size, code = EXIT_ERROR;
  MPI_Comm_size(comm, &size);
  Plan plan = {0};
  ResultsInfo info = {0};
  int have_info = 0;
  Results res;
  if (!s.output[0]) {
    errf(e, "%s: no \"output\" given (or pass --output FILE)", config);
    goto out;
  }
  int exists = rank == 0 ? path_exists(s.output) : 0, ok = 1;
  if (exists && restart && rank == 0) ok = move_aside(s.output, e) == 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  if (!ok) goto out;
  exists = exists && !restart;
  if (exists) {
    if (results_inspect(s.output, &info, e)) goto out;
    have_info = 1;
    if (plan_resume(&s, &info, &plan, e)) goto out;
  } else {
    plan.nrows = s.nruns;
  }
  if (plan_build(&s, have_info ? &info : NULL, size, &plan, e)) goto out;
  /* preflight on rank 0: the first run's model and data open, before the file changes */
  if (rank == 0) {
    Job j;
    ok = job_open(&j, &s.runs[0].rc, e) == 0;
    if (ok) job_close(&j);
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  if (!ok) goto out;
  ResultsLayout lay;
  layout_of(&s, &lay);
  lay.nruns = plan.nrows;
  lay.nslots = plan.nslots;
  lay.slot_size = s.max_nparams;
  char *layout_json = NULL;
  if (s.final_run >= 0) {
    lay.final_size = s.max_nparams;
    lay.final_layout = layout_json = tensor_layout_json(&s.runs[s.final_run].model);
  }
  MPI_Barrier(comm); /* every rank has inspected the file before any opens it for writing */
  if (exists ? results_open(&res, s.output, comm, &lay, plan.rows, plan.cfgs, s.sweep_json, e)
             : results_create(&res, s.output, comm, &lay, plan.rows, plan.cfgs, s.sweep_json, s.path, e)) {
    free(layout_json);
    goto out;
  }
  free(layout_json);
  if (rank == 0)
    printf("# sweep %s: %d runs, up to %ld steps each, on %d rank(s); results in %s\n", s.path, s.nruns, s.max_steps,
           size, s.output);
  SweepOutcome oc;
  double t0 = MPI_Wtime();
  int rc = sweep_run(&s, &res, comm, &opt, plan.status, plan.slot_of, &oc, e);
  double elapsed = MPI_Wtime() - t0;
  Err e2;
  results_close(&res, &e2);
  MPI_Barrier(comm);
  if (rank == 0 && (oc.done_before || oc.resumed)) printf("# resumed: %d runs were done already, %d continued from checkpoints\n",
                                          oc.done_before, oc.resumed);
  if (oc.stopped) {
    if (rank == 0) printf("# stopped by a signal: running runs checkpointed; run the same command to resume\n");
    code = EXIT_STOPPED;
    goto out;
  }
  if (rank == 0 && results_attach_scales(s.output, &e2) && !rc) {
    *e = e2;
    rc = -1;
  }
  if (rank == 0 && !rc)
    printf("# done: %d runs in %s (sweep %.1f s)\n#   /usr/bin/python3 -c \"import h5py; f = h5py.File('%s'); "
           "print(f['runs'][:])\"\n", s.nruns, s.output, elapsed, s.output);
  code = rc ? EXIT_ERROR : EXIT_OK;
out:
  plan_free(&plan);
  if (have_info) results_info_free(&info);
  sweep_free(&s);
  return code;
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
