/* `bertsweep report --format html`: one self-contained page (report/page.html, compiled in)
   holding the report's JSON, every run's row and its curves (downsampled to at most
   HTML_POINTS points per run), and the files' provenance; the page's own script draws the
   plots and tables from them. Nothing is fetched: no http(s) reference of any kind. */
#ifndef BS_HTML_H
#define BS_HTML_H
#include <stdio.h>
#include "io/results_read.h"

enum { HTML_POINTS = 200 };

/* The page for n files (data[i], labelled labels[i]) and their report (the JSON of `report
   --format json`, as text). refresh > 0: the sweep is running; the page reloads itself every
   refresh seconds. */
int html_write(FILE *out, const ResultsData *const *data, const char *const *labels, const char *const *paths, int n,
               const char *report_json, double refresh, Err *e);

#endif
