#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "io/lockfile.h"
#include "src/wrap.h"
#include "sweep/env.h"

typedef enum { EV_SECONDS, EV_LOCK_STALE, EV_ZERO_ONE, EV_TEXT } EnvKind;

static const struct {
  const char *name;
  EnvKind kind;
  size_t at; /* offset in SweepEnv */
  size_t size; /* EV_TEXT: the field's size */
  const char *help;
} VARS[] = {
    {"BERTSWEEP_SILENCE_LIMIT", EV_SECONDS, offsetof(SweepEnv, silence_limit), 0,
     "seconds without a word from a rank running a run before it is declared silent (default: 20 x its slowest "
     "step, evaluation or checkpoint, at least 300): the other ranks checkpoint and the sweep exits 7"},
    {"BERTSWEEP_LOCK_STALE", EV_LOCK_STALE, offsetof(SweepEnv, lock_stale), 0,
     "seconds after which a silent lock is stale (default 600)"},
    {"BERTSWEEP_RANK0_TRAINS", EV_ZERO_ONE, offsetof(SweepEnv, rank0_trains), 0,
     "0|1: whether rank 0 trains besides handing out runs (default: while ranks <= 2 x the shortest run's steps)"},
    {"BERTSWEEP_STOP_REQUEST", EV_TEXT, offsetof(SweepEnv, stop_request), sizeof(((SweepEnv *)0)->stop_request),
     "a file whose appearance stops the sweep as a signal would (the Slurm wrapper's, near the time limit)"},
    {"BERTSWEEP_SILENT_HOSTS", EV_TEXT, offsetof(SweepEnv, silent_hosts), sizeof(((SweepEnv *)0)->silent_hosts),
     "a file that receives the silent ranks' hosts before the sweep exits 7"},
    {"SLURMD_NODENAME", EV_TEXT, offsetof(SweepEnv, node_name), sizeof(((SweepEnv *)0)->node_name),
     "(set by Slurm) this host's node name, for the silent hosts"},
};
enum { NVARS = sizeof VARS / sizeof *VARS };

static int read_one(SweepEnv *env, int i, Err *e) {
  const char *v = getenv(VARS[i].name);
  char *field = (char *)env + VARS[i].at, *end;
  switch (VARS[i].kind) {
  case EV_SECONDS: {
    double x = v && v[0] ? strtod(v, &end) : 0;
    if (v && v[0] && (end == v || *end || !(x > 0 && x <= 1e7)))
      return errf(e, "%s must be seconds > 0, not \"%s\"", VARS[i].name, v);
    *(double *)field = x;
    return 0;
  }
  case EV_LOCK_STALE: return lock_stale_env((double *)field, e); /* the lock's own reader and range */
  case EV_ZERO_ONE:
    *(int *)field = !v || !v[0] ? -1 : strcmp(v, "1") == 0 ? 1 : strcmp(v, "0") == 0 ? 0 : -2;
    return *(int *)field == -2 ? errf(e, "%s must be 0 or 1, not \"%s\"", VARS[i].name, v) : 0;
  case EV_TEXT:
    if (v && strlen(v) >= VARS[i].size) return errf(e, "%s is longer than %zu characters", VARS[i].name, VARS[i].size - 1);
    snprintf(field, VARS[i].size, "%s", v ? v : "");
    return 0;
  }
  return 0;
}

int sweep_env_read(SweepEnv *env, Err *e) {
  memset(env, 0, sizeof *env);
  for (int i = 0; i < NVARS; i++)
    if (read_one(env, i, e)) return -1;
  return 0;
}

void sweep_env_help(FILE *out) {
  fputs("  Environment (read once at the start; a bad value is an error naming the variable):\n", out);
  fputs("  OMP_NUM_THREADS: threads per rank (default: the rank's cores)\n", out);
  for (int i = 0; i < NVARS; i++) {
    if (!VARS[i].help) continue;
    fprintf(out, "  %s:", VARS[i].name);
    wrap_text(out, VARS[i].help, 3 + (int)strlen(VARS[i].name), 3);
  }
}
