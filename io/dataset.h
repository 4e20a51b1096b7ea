/* Labelled text data: CLUE JSON lines (TNEWS: label, label_desc, sentence, keywords),
   generic JSON lines and TSV with a header row. A second text field makes a sentence pair. */
#ifndef BS_DATASET_H
#define BS_DATASET_H
#include "src/err.h"

typedef enum { FMT_CLUE, FMT_JSONL, FMT_TSV, NFORMATS } FormatKind;
/* The config's names ("data.format"), indexed by FormatKind; NULL-terminated. */
extern const char *const FORMAT_NAMES[NFORMATS + 1];

/* How a train subset is drawn ("data.sampling"). */
typedef enum { SAMPLE_UNIFORM, SAMPLE_PER_CLASS, NSAMPLINGS } SamplingKind;
extern const char *const SAMPLING_NAMES[NSAMPLINGS + 1];

/* How TSV fields may be quoted ("data.quoting"): as Python's csv module writes them, or not at
   all (every character, quotes included, is text; a field ends at a tab). */
typedef enum { QUOTE_CSV, QUOTE_NONE, NQUOTINGS } QuotingKind;
extern const char *const QUOTING_NAMES[NQUOTINGS + 1];

typedef struct {
  FormatKind format;
  int header;           /* TSV: the first line names the columns (default 1); 0: fields are column numbers */
  QuotingKind quoting;  /* TSV */
  char text_field[64];  /* default "sentence" */
  char pair_field[64];  /* "" = single sentence */
  char label_field[64]; /* default "label" */
} DataFormat;

typedef struct {
  int n;
  char **text_a, **text_b; /* text_b[i] NULL for single sentences */
  char **label;            /* label as text */
  int *line;               /* 1-based line in the file, for errors */
  int *label_id;           /* filled by dataset_map_labels */
  char path[4096];
} Dataset;

typedef struct {
  int n;
  char **names;
} LabelSet;

int dataset_read(Dataset *d, const char *path, const DataFormat *fmt, Err *e);
void dataset_free(Dataset *d);

/* Label set from a labels file (CLUE labels.json lines with "label", or one label per line). */
int labels_read(LabelSet *ls, const char *path, Err *e);
/* Label set as the sorted distinct labels of d (as HF run_glue does). */
int labels_from_data(LabelSet *ls, const Dataset *d, Err *e);
void labels_free(LabelSet *ls);
/* Sets d->label_id; an unknown label is an error naming file and line. */
int dataset_map_labels(Dataset *d, const LabelSet *ls, Err *e);

#endif
