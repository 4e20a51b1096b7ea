/* The report's options, one table: each is a key of a sweep config's "report" section and a
   command-line flag (--KEY, '_' as '-'), with its default, range and help; the defaults, the
   config's section, the command line, --help and the JSON "parameters" all read it. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "report/report.h"
#include "src/wrap.h"

typedef struct {
  const char *key, *arg; /* report.KEY and --KEY; the flag's argument in --help */
  int flag;              /* SET_*: the command line set it */
  ptrdiff_t at;          /* offset in AnalysisOptions; -1: the label (a string, not an analysis option) */
  int integer;
  double def, lo, hi;
  const char *help;
} ReportOption;

static const ReportOption OPTIONS[] = {
    {"loss_target", "X", SET_LOSS, offsetof(AnalysisOptions, loss_target), 0, NAN, 0, 1e9,
     "training loss that counts as converged (default: per comparison, midway between the two groups' initial and "
     "final loss)"},
    {"acc_target", "X", SET_ACC, offsetof(AnalysisOptions, acc_target), 0, NAN, 0, 1,
     "dev accuracy that counts as learned (default: per comparison, the majority baseline plus --acc-fraction of the "
     "way to the better group's best accuracy)"},
    {"acc_fraction", "F", SET_FRACTION, offsetof(AnalysisOptions, acc_fraction), 0, 0.9, 1e-9, 1,
     "for the default accuracy target (default 0.9)"},
    {"smooth", "N", SET_SMOOTH, offsetof(AnalysisOptions, smooth), 1, 10, 1, 1e6,
     "moving-average window of the loss for the steadiness windows, in steps (default 10; speed reads an isotonic "
     "fit, no window)"},
    {"effect", "STEPS", SET_EFFECT, offsetof(AnalysisOptions, effect), 0, NAN, 1e-9, 1e12,
     "the primary difference to plan seeds for: the report prints how many pairs detect it 80% of the time "
     "(default: none; the table of detectable shifts)"},
    {"label", "TEXT", 0, -1, 0, NAN, 0, 0, "the file's name in the report (config only; default: the file's name)"},
};
enum { NOPTIONS = sizeof OPTIONS / sizeof *OPTIONS };

/* Statistical policy that is not an option: the steadiness windows' level tolerance and the
   power simulation's draws (docs/decisions.md says why). */
static const double LEVEL_TOLERANCE = 0.10;

static void set_value(AnalysisOptions *a, const ReportOption *op, double x) {
  if (op->integer) *(int *)((char *)a + op->at) = (int)x;
  else *(double *)((char *)a + op->at) = x;
}

static double get_value(const AnalysisOptions *a, const ReportOption *op) {
  return op->integer ? *(const int *)((const char *)a + op->at) : *(const double *)((const char *)a + op->at);
}

void report_defaults(ReportOptions *o) {
  memset(o, 0, sizeof *o);
  o->format = REPORT_TABLE;
  o->a.level_tolerance = LEVEL_TOLERANCE;
  o->a.power_draws = ANALYSIS_POWER_DRAWS;
  for (int i = 0; i < NOPTIONS; i++)
    if (OPTIONS[i].at >= 0) set_value(&o->a, &OPTIONS[i], OPTIONS[i].def);
}

/* x is in op's range (and whole for an integer option). */
static int in_range(const ReportOption *op, double x) {
  return x >= op->lo && x <= op->hi && (!op->integer || x == floor(x));
}

static const char *range_words(const ReportOption *op, char *buf, size_t n) {
  if (op->integer) snprintf(buf, n, "a whole number in [%g, %g]", op->lo, op->hi);
  else snprintf(buf, n, "a number in [%g, %g]", op->lo, op->hi);
  return buf;
}

static void key_list(char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < NOPTIONS && len < n; i++) len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", OPTIONS[i].key);
}

int report_file_options(const ReportOptions *o, const ResultsData *d, const char *path, AnalysisOptions *out,
                        char *label, size_t label_size, Err *e) {
  *out = o->a;
  const char *slash = strrchr(path, '/');
  snprintf(label, label_size, "%s", slash ? slash + 1 : path);
  cJSON *root = d->sweep_json ? cJSON_Parse(d->sweep_json) : NULL;
  const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "report");
  int rc = 0;
  if (sec && !cJSON_IsObject(sec)) rc = errf(e, "%s: the sweep config's \"report\" must be an object", path);
  for (const cJSON *it = sec ? sec->child : NULL; it && !rc; it = it->next) {
    const ReportOption *op = NULL;
    for (int i = 0; i < NOPTIONS && !op; i++)
      if (strcmp(it->string, OPTIONS[i].key) == 0) op = &OPTIONS[i];
    char buf[256];
    if (!op && strcmp(it->string, "bootstrap") == 0) continue; /* files of earlier versions: intervals are exact now */
    if (!op) {
      key_list(buf, sizeof buf);
      rc = errf(e, "%s: unknown key \"report.%s\" (%s)", path, it->string, buf);
    } else if (op->at < 0) {
      if (!cJSON_IsString(it)) rc = errf(e, "%s: \"report.%s\" must be a string", path, op->key);
      else snprintf(label, label_size, "%s", it->valuestring);
    } else if (!cJSON_IsNumber(it) || !in_range(op, it->valuedouble)) {
      rc = errf(e, "%s: \"report.%s\" must be %s", path, op->key, range_words(op, buf, sizeof buf));
    } else if (!(o->set & op->flag)) {
      set_value(out, op, it->valuedouble);
    }
  }
  cJSON_Delete(root);
  return rc;
}

int report_check_config(const char *config_json, const char *path, Err *e) {
  ResultsData d;
  memset(&d, 0, sizeof d);
  d.sweep_json = (char *)config_json; /* read only */
  ReportOptions o;
  report_defaults(&o);
  AnalysisOptions ao;
  char label[256];
  return report_file_options(&o, &d, path, &ao, label, sizeof label, e);
}

int report_option_flag(ReportOptions *o, const char *flag, const char *value, Err *e) {
  for (int i = 0; i < NOPTIONS; i++) {
    const ReportOption *op = &OPTIONS[i];
    char name[64];
    snprintf(name, sizeof name, "--%s", op->key);
    for (char *c = name + 2; *c; c++) *c = *c == '_' ? '-' : *c;
    if (op->at < 0 || strcmp(flag, name) != 0) continue;
    char *end = NULL, buf[64];
    double x = value ? strtod(value, &end) : NAN;
    if (!value || end == value || *end || !in_range(op, x))
      return errf(e, "report: %s needs %s, not \"%s\"", name, range_words(op, buf, sizeof buf), value ? value : "");
    o->set |= op->flag;
    set_value(&o->a, op, x);
    return 0;
  }
  return 1;
}

/* The help, wrapped under its flag. */
void report_options_help(FILE *out) {
  for (int i = 0; i < NOPTIONS; i++) {
    const ReportOption *op = &OPTIONS[i];
    if (op->at < 0) continue;
    char flag[64];
    snprintf(flag, sizeof flag, "--%s %s", op->key, op->arg);
    for (char *c = flag + 2; *c && *c != ' '; c++) *c = *c == '_' ? '-' : *c;
    fprintf(out, "  %-19s", flag);
    wrap_text(out, op->help, 21, 21);
  }
  char keys[256];
  key_list(keys, sizeof keys);
  fprintf(out, "  A sweep config's \"report\" section (%s)\n  sets the same for its file; the command line wins.\n", keys);
}

void report_options_json(const AnalysisOptions *a, cJSON *par) {
  for (int i = 0; i < NOPTIONS; i++) {
    if (OPTIONS[i].at < 0) continue;
    double x = get_value(a, &OPTIONS[i]);
    cJSON_AddItemToObject(par, OPTIONS[i].key, isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull());
  }
  cJSON_AddNumberToObject(par, "level_tolerance", a->level_tolerance);
}
