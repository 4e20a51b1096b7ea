/* `bertsweep report`: turns results files into an answer. Per group: accuracy, failed and
   diverged runs, loss and accuracy steadiness; between groups that differ in one key:
   steps to common targets (censored, Kaplan–Meier), paired differences with bootstrap
   confidence intervals and Wilcoxon signed-rank p-values, and a verdict in words. Every
   parameter it uses is printed with the result (report/analysis.h has the numbers). */
#ifndef BS_REPORT_H
#define BS_REPORT_H
#include <stdio.h>
#include "io/results_read.h"
#include "report/analysis.h"

enum { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_MARKDOWN };

/* Which analysis options the command line set (they win over the config's "report"). */
enum { SET_LOSS = 1, SET_ACC = 2, SET_FRACTION = 4, SET_SMOOTH = 8, SET_BOOTSTRAP = 16 };

typedef struct {
  int format;
  AnalysisOptions a;
  int set; /* SET_* */
} ReportOptions;

/* The default options. */
void report_defaults(ReportOptions *o);
/* Options for one file: o, with what its sweep config's "report" section sets and o->set
   does not. Unknown keys and wrong types are errors naming the file. */
int report_file_options(const ReportOptions *o, const ResultsData *d, const char *path, AnalysisOptions *out,
                        char *label, size_t label_size, Err *e);

/* One report over n files (each a section, labelled by its config's report.label or its
   name); comparisons stay within a file. */
int report_write(const char *const *paths, int n, const ReportOptions *o, FILE *out, Err *e);

#endif
