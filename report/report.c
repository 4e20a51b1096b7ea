#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "report/emit.h"

/* `bertsweep report` as a pipeline: load each file, analyse it, adjust the whole report's
   tests together, then the format's emitter (one file each, report/emit.h). */

/* The formats: their names (--format) and emitters, one row each. */
static const struct {
  const char *name;
  ReportEmit emit;
} FORMATS[NREPORT_FORMATS] = {
    [REPORT_TABLE] = {"table", emit_text},     [REPORT_CSV] = {"csv", emit_csv},
    [REPORT_JSON] = {"json", emit_json},       [REPORT_MARKDOWN] = {"markdown", emit_markdown},
    [REPORT_RUNS_CSV] = {"runs-csv", emit_runs_csv}, [REPORT_HTML] = {"html", emit_html},
};
static_assert(NREPORT_FORMATS == 6, "FORMATS has one row per format");

const char *report_format_name(ReportFormat f) { return FORMATS[f].name; }

int report_format_parse(const char *name) {
  for (int f = 0; f < NREPORT_FORMATS; f++)
    if (strcmp(name, FORMATS[f].name) == 0) return f;
  return -1;
}

/* ---- one report ---- */

int report_write(const char *const *paths, int n, const ReportOptions *o, FILE *out, Err *e) {
  Section *secs = calloc((size_t)(n ? n : 1), sizeof(Section));
  Analysis *As = calloc((size_t)(n ? n : 1), sizeof(Analysis));
  int rc = secs && As ? 0 : errf(e, "out of memory");
  for (int i = 0; i < n && !rc; i++) { /* load, analyse */
    Section *s = &secs[i];
    s->path = paths[i];
    if ((rc = results_load(paths[i], &s->d, e))) break;
    s->loaded = 1;
    AnalysisOptions ao;
    rc = report_file_options(o, &s->d, paths[i], &ao, s->label, sizeof s->label, e);
    if (!rc) rc = analysis_run(&s->A, &s->d, &ao, e);
    s->analysed = !rc;
  }
  if (!rc) { /* adjust over the whole report, emit */
    Report r = {.secs = secs, .n = n, .refresh = o->refresh};
    for (int i = 0; i < n; i++) As[i] = secs[i].A; /* shallow: the adjusted numbers are copied back */
    int gate;
    analysis_adjust(As, n, &r.mp, &r.ms, &gate);
    for (int i = 0; i < n; i++) secs[i].A = As[i];
    rc = FORMATS[o->format].emit(&r, out, e);
  }
  for (int i = 0; secs && i < n; i++) {
    if (secs[i].analysed) analysis_free(&secs[i].A);
    if (secs[i].loaded) results_data_free(&secs[i].d);
  }
  free(secs);
  free(As);
  return rc;
}
