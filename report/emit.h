/* The report's emitters, one file each: report/report.c runs load -> analyse -> adjust, then
   the format's emitter from its table. Internal to report/. */
#ifndef BS_REPORT_EMIT_H
#define BS_REPORT_EMIT_H
#include <stdio.h>
#include <cjson/cJSON.h>
#include "report/report.h"

/* One results file of the report: its data and its analysis. */
typedef struct {
  const char *path;
  char label[256];
  ResultsData d;
  Analysis A;
  int loaded, analysed;
} Section;

/* The whole report, adjusted: mp primary and ms secondary tests in the report's families. */
typedef struct {
  Section *secs;
  int n;
  int mp, ms;
  double refresh; /* html: seconds between the page's reloads while its sweep runs (0: it ended) */
} Report;

typedef int (*ReportEmit)(const Report *r, FILE *out, Err *e);

/* report/text.c: the text table and Markdown; a comparison's verdict paragraph (malloc'd). */
int emit_text(const Report *r, FILE *out, Err *e);
int emit_markdown(const Report *r, FILE *out, Err *e);
char *report_verdict_text(const Analysis *A, const Comparison *c);
/* report/json.c: the report as one JSON tree (a section, or {"files": [...]} for several),
   which the page embeds as it is. */
cJSON *report_json(const Report *r);
int emit_json(const Report *r, FILE *out, Err *e);
/* report/csv.c: one row per statistic; one row per run. */
int emit_csv(const Report *r, FILE *out, Err *e);
int emit_runs_csv(const Report *r, FILE *out, Err *e);
/* report/html.c: the page. */
int emit_html(const Report *r, FILE *out, Err *e);

#endif
