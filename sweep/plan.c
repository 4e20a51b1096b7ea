#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "sweep/plan.h"

/* Names what differs between two base configs ("train.epochs: 3 -> 4"); 0 when equal. */
static int base_diff(const char *old_json, const char *new_json, char *out, size_t size) {
  cJSON *a = cJSON_Parse(old_json), *b = cJSON_Parse(new_json), *fa = NULL, *fb = NULL;
  size_t len = 0;
  int n = 0;
  out[0] = 0;
  if (a && b) {
    const char *skip[] = {"sweep", "output", "report"};
    for (int i = 0; i < 3; i++) {
      cJSON_DeleteItemFromObjectCaseSensitive(a, skip[i]);
      cJSON_DeleteItemFromObjectCaseSensitive(b, skip[i]);
    }
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    fa = runconfig_flatten(ta);
    fb = runconfig_flatten(tb);
    cJSON_free(ta);
    cJSON_free(tb);
  }
  if (fa && fb) {
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
/* The swept keys (grid, zip, random) in order, as one string. */
static void grid_keys(const char *sweep_json, char *out, size_t size) {
  cJSON *root = cJSON_Parse(sweep_json);
  const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sweep");
  const cJSON *lists[3] = {cJSON_GetObjectItemCaseSensitive(sw, "grid"), cJSON_GetObjectItemCaseSensitive(sw, "zip"),
                           cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sw, "random"), "params")};
  size_t len = 0;
  out[0] = 0;
  for (int l = 0; l < 3; l++)
    for (const cJSON *it = lists[l] ? lists[l]->child : NULL; it && len < size; it = it->next)
      len += (size_t)snprintf(out + len, size - len, "%s%s", len ? " " : "", it->string);
  cJSON_Delete(root);
}


void plan_free(Plan *p) {
  free(p->cfgs);
  free(p->rows);
  free(p->vals);
  free(p->status);
  free(p->slot_of);
  memset(p, 0, sizeof *p);
}

/* A column's value as the sweep writes it (JSON text) against the file's (text, as read). */
static int coord_equal(const char *json, const char *text) {
  cJSON *v = cJSON_Parse(json);
  int eq = 0;
  if (cJSON_IsString(v)) eq = strcmp(v->valuestring, text) == 0;
  else if (cJSON_IsNumber(v)) eq = v->valuedouble == strtod(text, NULL);
  else if (cJSON_IsBool(v)) eq = strcmp(cJSON_IsTrue(v) ? "true" : "false", text) == 0;
  cJSON_Delete(v);
  return eq;
}

/* 1 when row j of the file holds run r's coordinates: its seed and every grid value. */
static int same_coords(const Sweep *s, const PlannedRun *r, const ResultsInfo *info, int j) {
  if (!info->seed || !info->values || info->seed[j] != r->seed) return 0;
  for (int a = 0; a < s->naxes; a++) {
    const char *text = a < info->lay.ncols ? info->values[j][a] : NULL;
    if (!text || !coord_equal(s->axes[a].colvals[r->choice[a]], text)) return 0;
  }
  return 1;
}

/* The row that holds run r, or -1 (a new run). A row of r's coordinates holds it when its
   config is r's (io/runconfig.c runconfig_differs) or when nothing was trained there yet
   (pending, failed: it takes r's config); a row that trained under another config is refused,
   so that a resume never pools two configurations under one grid point and seed, and never
   relabels a trained run. */
static int row_of(const Sweep *s, const PlannedRun *r, const ResultsInfo *info, const char *why, Err *e) {
  int untrained = -1, conflict = -1;
  char diff[1200] = "";
  for (int j = 0; j < info->nruns; j++) {
    if (!same_coords(s, r, info, j)) continue;
    char d[1200];
    int n = runconfig_differs(info->run_configs[j], r->config_json, NULL, d, sizeof d);
    if (n == 0) return j;
    RunStatus st = run_status_parse(info->status[j]);
    if ((st == RUN_PENDING || st == RUN_FAILED) && info->steps_done[j] == 0) {
      if (untrained < 0) untrained = j;
    } else if (conflict < 0) {
      conflict = j;
      snprintf(diff, sizeof diff, "%s", n < 0 ? "its stored config is not valid JSON" : d);
    }
  }
  if (untrained >= 0) return untrained;
  if (conflict >= 0) {
    errf(e, "%s: row %d (%s, %s) was trained under another configuration than this config gives it: %s. A resume "
            "never mixes two configurations in one group: restore what changed, or use another --output (or --restart "
            "to move the file aside and start over)",
         s->output, conflict, why, info->status[conflict], diff);
    return -2;
  }
  for (int j = 0; j < info->nruns; j++) /* a file without coordinates to match: by config alone */
    if (!info->seed && runconfig_differs(info->run_configs[j], r->config_json, NULL, diff, sizeof diff) == 0) return j;
  return -1;
}

/* Matches this sweep's runs against the file's rows; new runs get rows after the old ones. */
int plan_resume(Sweep *s, const ResultsInfo *info, Plan *p, Err *e) {
  char diff[1500], ka[1024], kb[1024];
  if (base_diff(info->sweep_json, s->sweep_json, diff, sizeof diff))
    return errf(e, "%s was written by a different sweep (base config changed: %s); use another --output, or "
                   "--restart to move it aside and start over", s->output, diff);
  grid_keys(info->sweep_json, ka, sizeof ka);
  grid_keys(s->sweep_json, kb, sizeof kb);
  if (strcmp(ka, kb) != 0)
    return errf(e, "%s: the grid keys changed (file: %s; config: %s); values may be added to keys, keys may not change",
                s->output, ka[0] ? ka : "none", kb[0] ? kb : "none");
  int next = info->nruns;
  char *taken = calloc((size_t)(info->nruns ? info->nruns : 1), 1);
  if (!taken) return errf(e, "out of memory");
  for (int i = 0; i < s->nruns; i++) {
    char label[512];
    run_label(s, &s->runs[i], label, sizeof label);
    int row = row_of(s, &s->runs[i], info, label, e);
    if (row == -2) { free(taken); return -1; }
    if (row >= 0 && taken[row]) row = -1; /* two runs of this sweep on one row: the second is new */
    if (row >= 0) taken[row] = 1;
    s->runs[i].row = row >= 0 ? row : next++;
  }
  free(taken);
  p->nrows = next;
  return 0;
}

/* A slot holds a live checkpoint when its state names a row that is not final (done, diverged). */
int plan_slot_claims(const ResultsInfo *info, int k) {
  double run = info->slots[k].v[SS_RUN];
  return run >= 0 && run < info->nruns && run == (int)run && !run_status_final(run_status_parse(info->status[(int)run]));
}

int plan_slot_live(const ResultsInfo *info, int k) {
  if (!plan_slot_claims(info, k)) return 0;
  const double *v = info->slots[k].v;
  /* the fields a copy and a restore rely on; the CRC is checked when the run restores */
  return v[SS_STEP] == floor(v[SS_STEP]) && v[SS_STEP] > 0 && v[SS_STEP] <= (double)info->total_steps[(int)v[SS_RUN]] &&
         (v[SS_HALF] == 0 || v[SS_HALF] == 1) && v[SS_NFLOATS] == floor(v[SS_NFLOATS]) && v[SS_NFLOATS] > 0 &&
         v[SS_NFLOATS] <= (double)info->lay.slot_size;
}

int plan_nothing_to_run(const Sweep *s, const ResultsInfo *info, const Plan *p) {
  if (!info || p->nrows != info->nruns) return 0; /* new rows: the file grows */
  for (int i = 0; i < s->nruns; i++)
    if (!run_status_final(run_status_parse(p->status[i]))) return 0;
  return 1;
}

int plan_build(const Sweep *s, const ResultsInfo *info, int size, Plan *p, Err *e) {
  p->cfgs = calloc((size_t)p->nrows, sizeof(char *));
  p->rows = calloc((size_t)p->nrows, sizeof(RunRow));
  p->vals = calloc((size_t)s->nruns * (size_t)(s->naxes ? s->naxes : 1), sizeof(char *));
  p->status = calloc((size_t)s->nruns, sizeof *p->status);
  p->slot_of = malloc(sizeof(int) * (size_t)s->nruns);
  if (!p->cfgs || !p->rows || !p->vals || !p->status || !p->slot_of) return errf(e, "out of memory");
  for (int j = 0; info && j < info->nruns; j++) p->cfgs[j] = info->run_configs[j];
  for (int i = 0; i < s->nruns; i++) {
    const PlannedRun *r = &s->runs[i];
    for (int a = 0; a < s->naxes; a++) p->vals[i * s->naxes + a] = s->axes[a].colvals[r->choice[a]];
    p->rows[r->row] = results_row_pending(r->row, r->seed, r->total_steps, p->vals + i * s->naxes);
    int known = info && r->row < info->nruns;
    /* a finished run keeps the config it was trained with, word for word */
    int final = known && run_status_final(run_status_parse(info->status[r->row]));
    p->cfgs[r->row] = final ? info->run_configs[r->row] : r->config_json;
    snprintf(p->status[i], STATUS_LEN, "%s", known ? info->status[r->row] : RUN_STATUS_NAME[RUN_PENDING]);
    p->slot_of[i] = -1;
    for (int k = 0; known && k < info->lay.nslots; k++)
      if (results_slot_row(&info->slots[k], info->nruns) == r->row && plan_slot_live(info, k)) p->slot_of[i] = k;
    p->pending += p->slot_of[i] >= 0;
  }
  p->nslots = s->max_nparams > 0 && s->checkpoints ? size + p->pending : 0;
  return 0;
}

/* [{"name": ..., "shape": [r, c], "offset": k}, ...] of a model's parameter buffer. */
