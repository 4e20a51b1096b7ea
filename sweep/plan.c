#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "sweep/plan.h"

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
    const char *skip[] = {"sweep", "output", "report"};
    for (int i = 0; i < 3; i++) {
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

/* A run config as {"section.key": value}, or NULL. */
static cJSON *flat_config(const char *json) {
  cJSON *c = cJSON_Parse(json), *f = c ? cJSON_CreateObject() : NULL;
  if (f) flatten(c, "", f);
  cJSON_Delete(c);
  return f;
}

/* One run when every key both configs set has one value. A key only one of them sets is a
   default the other leaves out: the base configs are equal (checked before) and the swept
   keys too, so such a key comes from completion (io/runconfig.c runconfig_complete), which
   files of bertsweep <= 0.1 lack and which leaves out what a model unreadable then or now
   would have said. */
static int same_run(const cJSON *a, const cJSON *b) {
  for (const cJSON *x = a->child; x; x = x->next) {
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
    if (y && !cJSON_Compare(x, y, 1)) return 0;
  }
  return 1;
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
  cJSON **old = calloc((size_t)(info->nruns ? info->nruns : 1), sizeof(cJSON *));
  if (!old) return errf(e, "out of memory");
  for (int j = 0; j < info->nruns; j++) old[j] = flat_config(info->run_configs[j]);
  int next = info->nruns;
  for (int i = 0; i < s->nruns; i++) {
    cJSON *mine = flat_config(s->runs[i].config_json);
    int row = -1;
    for (int j = 0; j < info->nruns && row < 0 && mine; j++)
      if (old[j] && same_run(old[j], mine)) row = j;
    cJSON_Delete(mine);
    s->runs[i].row = row >= 0 ? row : next++;
  }
  for (int j = 0; j < info->nruns; j++) cJSON_Delete(old[j]);
  free(old);
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
    p->cfgs[r->row] = r->config_json;
    int known = info && r->row < info->nruns;
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
