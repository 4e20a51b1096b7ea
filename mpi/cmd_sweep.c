/* `bertsweep plan` and `bertsweep sweep`. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"
#include "jobs/job.h"
#include "mpi/commands.h"
#include "io/results_read.h"
#include "mpi/signals.h"
#include "mpi/sweep.h"
#include "src/fault.h"

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
  char (*status)[STATUS_LEN]; /* [nruns] per run of the sweep */
  int *slot_of;         /* [nruns] */
  int nslots, pending;
} Plan;

static void plan_free(Plan *p) {
  free(p->cfgs);
  free(p->rows);
  free(p->vals);
  free(p->status);
  free(p->slot_of);
  memset(p, 0, sizeof *p);
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

/* A slot holds a live checkpoint when its state names a row that is not done. */
static int slot_live(const ResultsInfo *info, int k) {
  double run = info->slots[k].v[SS_RUN];
  return run >= 0 && run < info->nruns && run == (int)run && strcmp(info->status[(int)run], "done") != 0;
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
    snprintf(p->status[i], STATUS_LEN, "%s", known ? info->status[r->row] : "pending");
    p->slot_of[i] = -1;
    for (int k = 0; known && k < info->lay.nslots; k++)
      if ((int)info->slots[k].v[SS_RUN] == r->row && slot_live(info, k)) p->slot_of[i] = k;
    p->pending += p->slot_of[i] >= 0;
  }
  p->nslots = s->max_nparams > 0 && s->checkpoints ? size + p->pending : 0;
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
  if (!results_is_results_file(path))
    return errf(e, "%s: --restart moves aside only a bertsweep results file, and this is not one; choose another "
                   "--output", path);
  char dst[4200], stamp[32];
  time_t t = time(NULL);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
  snprintf(dst, sizeof dst, "%s.replaced-%s", path, stamp);
  if (rename(path, dst) != 0) return errf(e, "%s: cannot move aside to %s: %s", path, dst, strerror(errno));
  printf("# --restart: moved the old results to %s\n", dst);
  return 0;
}

/* The grid columns' types: those of the config, widened to hold the file's values too
   (int to float, longer strings), so that a grown grid keeps every value as written. */
static int merge_columns(ResultsLayout *lay, const ResultsLayout *old, const char *path, Err *e) {
  for (int c = 0; c < lay->ncols && c < old->ncols; c++) {
    ResultsColumn *n = &lay->cols[c];
    const ResultsColumn *o = &old->cols[c];
    int num_n = n->type == COL_INT || n->type == COL_FLOAT, num_o = o->type == COL_INT || o->type == COL_FLOAT;
    if (n->type == o->type || (num_n && num_o)) {
      if (num_n && o->type > n->type) n->type = o->type;
      if (n->type == COL_STR && o->strsize > n->strsize) n->strsize = o->strsize;
      continue;
    }
    static const char *const KIND[] = {"booleans", "integers", "numbers", "strings"};
    return errf(e, "%s: grid key \"%s\" holds %s in the file but %s in the config", path, n->name, KIND[o->type],
                KIND[n->type]);
  }
  return 0;
}

/* What the new file must look like for this sweep. */
static char *layout_for(const Sweep *s, const Plan *p, ResultsLayout *lay) {
  layout_of(s, lay);
  lay->nruns = p->nrows;
  lay->nslots = p->nslots;
  lay->slot_size = p->nslots ? s->max_nparams : 0;
  char *json = NULL;
  if (s->final_run >= 0) {
    lay->final_size = s->max_nparams;
    lay->final_layout = json = tensor_layout_json(&s->runs[s->final_run].model);
  }
  return json;
}

static int same_columns(const ResultsLayout *a, const ResultsLayout *b) {
  for (int c = 0; c < a->ncols; c++)
    if (a->cols[c].type != b->cols[c].type || (a->cols[c].type == COL_STR && a->cols[c].strsize != b->cols[c].strsize))
      return 0;
  return a->ncols == b->ncols;
}

/* Rank 0: makes the file this sweep needs. A new sweep builds it; a resume keeps the file
   when it fits and otherwise rewrites it (copying every row and live checkpoint), so the
   live file's metadata never changes in place. */
static int prepare_file(Sweep *s, int size, int restart, Err *e) {
  int exists = path_exists(s->output);
  if (exists && restart && move_aside(s->output, e)) return -1;
  exists = exists && !restart;
  ResultsInfo info = {0};
  Plan p = {0};
  ResultsLayout lay;
  char *json = NULL;
  int rc = 0;
  if (exists) {
    rc = results_inspect(s->output, &info, e);
    if (!rc && info.format_version != RESULTS_FORMAT_VERSION)
      rc = errf(e, "%s: written by an older bertsweep (format %d, this one writes %d); convert it with `bertsweep "
                   "check --salvage %s NEW.h5`", s->output, info.format_version, RESULTS_FORMAT_VERSION, s->output);
    if (!rc) rc = plan_resume(s, &info, &p, e);
  } else {
    p.nrows = s->nruns;
  }
  if (!rc) rc = plan_build(s, exists ? &info : NULL, size, &p, e);
  if (!rc) {
    json = layout_for(s, &p, &lay);
    if (exists) rc = merge_columns(&lay, &info.lay, s->output, e);
  }
  if (!rc && exists) {
    int fits = lay.nruns == info.nruns && lay.max_steps <= info.lay.max_steps && lay.max_evals <= info.lay.max_evals &&
               same_columns(&lay, &info.lay) && lay.nslots <= info.lay.nslots &&
               (!lay.nslots || lay.slot_size <= info.lay.slot_size) && lay.final_size <= info.lay.final_size;
    if (!fits) {
      if (lay.max_steps < info.lay.max_steps) lay.max_steps = info.lay.max_steps;
      if (lay.max_evals < info.lay.max_evals) lay.max_evals = info.lay.max_evals;
      if (lay.final_size < info.lay.final_size) lay.final_size = info.lay.final_size;
      int *src_slot = malloc(sizeof(int) * (size_t)(lay.nslots ? lay.nslots : 1)), k2 = 0;
      for (int k = 0; src_slot && k < lay.nslots; k++) src_slot[k] = -1;
      for (int k = 0; src_slot && k < info.lay.nslots; k++)
        if (slot_live(&info, k) && k2 < lay.nslots) src_slot[k2++] = k;
      ResultsSource src = {.path = s->output, .nrows = info.nruns, .slot_src = src_slot};
      rc = src_slot ? results_build(s->output, &lay, p.rows, p.cfgs, s->sweep_json, s->path, &src, e)
                    : errf(e, "out of memory");
      free(src_slot);
    }
  } else if (!rc) {
    rc = results_build(s->output, &lay, p.rows, p.cfgs, s->sweep_json, s->path, NULL, e);
  }
  free(json);
  plan_free(&p);
  results_info_free(&info);
  return rc;
}

/* Rank 0, at the end of a sweep with nothing left running: the file without the checkpoint
   slots of finished runs (rewritten and renamed, like every metadata change). */
static int drop_dead_checkpoints(const char *path, Err *e) {
  ResultsInfo info;
  if (results_inspect(path, &info, e)) return -1;
  int live = 0, rc = 0;
  int *src_slot = malloc(sizeof(int) * (size_t)(info.lay.nslots ? info.lay.nslots : 1));
  for (int k = 0; src_slot && k < info.lay.nslots; k++)
    if (slot_live(&info, k)) src_slot[live++] = k;
  if (!src_slot) rc = errf(e, "out of memory");
  else if (info.lay.nslots > live) {
    ResultsLayout lay = info.lay;
    lay.nslots = live;
    if (!live) lay.slot_size = 0;
    char *final_layout = NULL;
    if (lay.final_size > 0) { /* keep the tensor layout attribute as written */
      H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
      hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = f >= 0 ? H5Dopen2(f, "final_weights", H5P_DEFAULT) : -1;
      final_layout = d >= 0 ? h5_read_str_attr(d, "tensors") : NULL;
      if (d >= 0) H5Dclose(d);
      if (f >= 0) H5Fclose(f);
      lay.final_layout = final_layout;
    }
    ResultsSource src = {.path = path, .nrows = info.nruns, .slot_src = src_slot};
    rc = results_build(path, &lay, NULL, (const char *const *)info.run_configs, info.sweep_json, info.config_path, &src,
                       e);
    if (rc) errctx(e, "%s: the sweep is complete, but dropping its finished checkpoints failed (run the same command "
                      "again to retry)", path);
    free(final_layout);
  }
  free(src_slot);
  results_info_free(&info);
  return rc;
}

/* Every rank, after rank 0 prepared the file: the plan against the file as it now is. */
static int plan_from_file(Sweep *s, int size, Plan *p, ResultsInfo *info, Err *e) {
  if (results_inspect(s->output, info, e) || plan_resume(s, info, p, e)) return -1;
  return plan_build(s, info, size, p, e);
}

static int all_ranks_ok(MPI_Comm comm, int ok) {
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  return all;
}

static int bcast_ok(MPI_Comm comm, int ok) {
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  return ok;
}

static int sweep_main(int argc, char **argv, int rank, MPI_Comm comm, Err *e) {
  const char *config = NULL, *output = NULL;
  int restart = 0;
  SweepOptions opt = {.progress_every = 2.0};
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
  if (fault_check_env()) { errf(e, "BERTSWEEP_FAULT must look like kind:A:B (e.g. kill:2:30)"); return EXIT_USAGE; }
  Sweep s;
  if (sweep_load(&s, config, output, e)) return EXIT_ERROR;
  int size, code = EXIT_ERROR;
  MPI_Comm_size(comm, &size);
  Plan plan = {0};
  ResultsInfo info = {0};
  Results res;
  WriterLock lock = {.fd = -1};
  opt.lock = rank == 0 ? &lock : NULL;
  if (!s.output[0]) {
    errf(e, "%s: no \"output\" given (or pass --output FILE)", config);
    goto out;
  }
  if (!bcast_ok(comm, rank != 0 || lock_acquire(&lock, s.output, e) == 0)) goto out;
  /* preflight on rank 0: the first run's model and data open, before any file changes */
  int ok = 1;
  if (rank == 0) {
    Job j;
    ok = job_open(&j, &s.runs[0].rc, e) == 0;
    if (ok) job_close(&j);
    ok = ok && prepare_file(&s, size, restart, e) == 0;
  }
  if (!bcast_ok(comm, ok)) goto out;
  if (!all_ranks_ok(comm, plan_from_file(&s, size, &plan, &info, e) == 0)) goto out;
  if (results_open(&res, s.output, comm, e)) goto out;
  if (rank == 0)
    printf("# sweep %s: %d runs, up to %ld steps each, on %d rank(s); results in %s\n", s.path, s.nruns, s.max_steps,
           size, s.output);
  SweepOutcome oc;
  double t0 = MPI_Wtime();
  int rc = sweep_run(&s, &res, comm, &opt, plan.status, plan.slot_of, &oc, e);
  double elapsed = MPI_Wtime() - t0;
  Err e2;
  if (results_close(&res, &e2) && !rc) {
    *e = e2;
    rc = -1;
  }
  MPI_Barrier(comm);
  if (rank == 0 && (oc.done_before || oc.resumed)) printf("# resumed: %d runs were done already, %d continued from checkpoints\n",
                                          oc.done_before, oc.resumed);
  if (oc.io_error) {
    errctx(e, "the sweep stopped; running runs keep their last checkpoint: fix the cause and run the same command "
              "to resume");
    code = EXIT_IO;
    goto out;
  }
  if (oc.stopped) {
    if (rank == 0) printf("# stopped by a signal: running runs checkpointed; run the same command to resume\n");
    code = EXIT_STOPPED;
    goto out;
  }
  if (!bcast_ok(comm, rank != 0 || drop_dead_checkpoints(s.output, rc ? &e2 : e) == 0) && !rc) {
    code = EXIT_IO;
    goto out;
  }
  if (rank == 0 && !rc)
    printf("# done: %d runs in %s (sweep %.1f s)\n#   /usr/bin/python3 -c \"import h5py, sys; f = h5py.File(sys.argv[1]); "
           "print(f['runs'][:])\" %s\n", s.nruns, s.output, elapsed, s.output);
  code = rc ? EXIT_ERROR : EXIT_OK;
out:
  if (rank == 0) lock_release(&lock);
  plan_free(&plan);
  results_info_free(&info);
  sweep_free(&s);
  return code;
}

int cmd_sweep(int argc, char **argv, Err *e) {
  signals_install(); /* first: a stop signal in the first second must not kill the ranks */
  int provided;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int code = sweep_main(argc, argv, rank, MPI_COMM_WORLD, e);
  if (rank != 0) e->msg[0] = 0; /* collective errors print once, on rank 0 */
  MPI_Finalize();
  return code;
}
