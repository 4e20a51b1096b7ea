/* `bertsweep report`: turns results files into an answer. Per group: accuracy, dev loss,
   failed and diverged runs, steadiness; between groups that differ in one key: the primary
   outcome (steps to the common loss target) and secondary ones, each a signed-rank test with
   its Hodges–Lehmann estimate and exact interval, Holm-adjusted over the report, with the
   power the seeds give; random keys by rank correlation; a verdict in words that says only
   what the adjusted tests and their intervals agree on. Every parameter it uses is printed
   with the result (report/analysis.h has the numbers). */
#ifndef BS_REPORT_H
#define BS_REPORT_H
#include <stdio.h>
#include "io/results_read.h"
#include "report/analysis.h"

typedef enum { REPORT_TABLE, REPORT_CSV, REPORT_JSON, REPORT_MARKDOWN, REPORT_RUNS_CSV, REPORT_HTML, NREPORT_FORMATS } ReportFormat;
/* A format's --format name; the format a name stands for, or -1. */
const char *report_format_name(ReportFormat f);
int report_format_parse(const char *name);

/* Which analysis options the command line set (they win over the config's "report"). */
enum { SET_LOSS = 1, SET_ACC = 2, SET_FRACTION = 4, SET_SMOOTH = 8, SET_EFFECT = 16 };

typedef struct {
  ReportFormat format;
  AnalysisOptions a;
  int set;        /* SET_* */
  double refresh; /* html: seconds between the page's reloads while its sweep runs (0: it ended) */
} ReportOptions;

/* The default options. */
void report_defaults(ReportOptions *o);
/* Options for one file: o, with what its sweep config's "report" section sets and o->set
   does not. Unknown keys and wrong types are errors naming the file. */
int report_file_options(const ReportOptions *o, const ResultsData *d, const char *path, AnalysisOptions *out,
                        char *label, size_t label_size, Err *e);

/* A command-line flag (--loss-target, ...) and its value into o: 0, -1 with an error, or 1 when
   flag is not a report option. */
int report_option_flag(ReportOptions *o, const char *flag, const char *value, Err *e);
/* The options' lines of `report --help`. */
void report_options_help(FILE *out);
/* The options' values into a JSON "parameters" object. */
struct cJSON;
void report_options_json(const AnalysisOptions *a, struct cJSON *par);

/* Checks a sweep config's "report" section as report_file_options would read it from the
   results file (so that a sweep never writes a file its report refuses). */
int report_check_config(const char *config_json, const char *path, Err *e);

/* One report over n files (each a section, labelled by its config's report.label or its
   name); comparisons stay within a file, multiplicity is adjusted over the whole report. */
int report_write(const char *const *paths, int n, const ReportOptions *o, FILE *out, Err *e);

#endif
