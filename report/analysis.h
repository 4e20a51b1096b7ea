/* The numbers of a report, from one results file. Runs are grouped by their grid values
   (seeds pooled). Group statistics depend on the group's own runs only. Two groups that
   differ in one grid key (or one zipped tuple of keys) are compared run against run, paired
   by seed, against targets common to the two groups and to nothing else, so adding groups to
   a file never changes a comparison. Each comparison has one primary outcome (steps to the
   loss target: the question) and secondary ones; each outcome is a signed-rank test with its
   Hodges–Lehmann estimate and the exact interval that inverts the test, on differences rounded
   to the measurement's grid. Runs that never reach a target are censored where they stopped
   (Kaplan–Meier per group; worst-rank in pairs, never imputed into an estimate). A randomly
   sampled key gets rank correlations instead. p-values are Holm-adjusted over a whole report
   (analysis_adjust): the primary outcomes as one family, everything else as another. */
#ifndef BS_ANALYSIS_H
#define BS_ANALYSIS_H
#include "io/results_read.h"
#include "src/stats.h"

typedef struct {
  double loss_target;  /* NAN: per comparison, midway between the two groups' initial and final loss */
  double acc_target;   /* NAN: per comparison, majority + acc_fraction x (better group's best - majority) */
  double acc_fraction; /* 0.9 */
  int smooth;          /* moving-average window of the loss, in steps (10) */
  double effect;       /* steps: the primary difference to plan seeds for (NAN: none: no pairs-needed line) */
  double level_tolerance; /* steadiness: largest relative gap between compared loss levels (0.10) */
  int power_draws;     /* simulated sets per power figure (ANALYSIS_POWER_DRAWS; 0: no power figures) */
} AnalysisOptions;

/* The report's one error rate: every verdict it prints, together (docs/decisions.md). */
#define ANALYSIS_ALPHA 0.05
/* Power by simulation: draws and the fixed seed the report prints. */
#define ANALYSIS_POWER_DRAWS 1000
#define ANALYSIS_POWER_SEED 20261207u
/* The seed counts of the power table: the current pairs times these. */
enum { NPOWER_ROWS = 3 };
extern const int POWER_MULTIPLE[NPOWER_ROWS];

/* Per-run statistics that need no target, one row each. */
enum { S_BEST, S_FINAL, S_AUC, S_LATE_STD, S_ACC_OSC, S_DEV_MIN, S_DEV_FINAL, S_DEV_MIN_STEP, S_BEST_F1, S_EARLY_GNORM,
       NSTATS };
/* The grid a difference is rounded to before ranking. */
typedef enum { GRID_NONE, GRID_STEP, GRID_EVAL, GRID_ACC } Grid;
typedef struct {
  const char *name, *head, *meaning;
  int digits;
  int higher_is_better; /* 1, -1 (lower is better) or 0 */
  Grid grid;
} StatSpec;
extern const StatSpec STAT[NSTATS];

typedef struct {
  int done, diverged, not_run; /* not_run: status RUN_FAILED, the run could not run (/runs "error" says why) */
  int failed; /* final accuracy <= majority baseline, diverged, or could not run */
  double s[NSTATS];
} RunStats;

typedef struct {
  char key[1024];
  int first;          /* a run of the group, for its grid values */
  int n, *runs;       /* done runs */
  int finished, *fin; /* done or diverged: the runs convergence speed counts */
  int unfinished, failed, diverged, not_run; /* failed counts diverged and not_run too */
  double mean[NSTATS], std[NSTATS], median[NSTATS];
  double majority, bow; /* baselines' dev accuracy, mean over the done runs */
} Group;

/* Outcomes of a comparison; O_LOSS_SPEED is the primary one. */
enum { O_LOSS_SPEED, O_ACC_SPEED, O_FINAL_ACC, O_BEST_ACC, O_LOSS_AUC, O_NOISE, O_ACC_OSC, O_DEV_MIN, O_DEV_FINAL,
       O_DEV_MIN_STEP, NOUTCOMES };
typedef struct {
  const char *name, *what;     /* JSON/CSV name; what it is, in a sentence */
  const char *better, *worse;  /* the words for the second group when it is better or worse */
  int stat;                    /* the per-run statistic (S_*), or -1 */
  int lower_is_better, digits;
  const char *units;
  /* How and where the verdict paragraph writes it: the primary first, then the others by
     text_order (every outcome is written: ties keep table order). */
  enum { OT_SPEED, OT_STAT, OT_STEADINESS, OT_STAT_LEARNED } how; /* OT_STAT_LEARNED: with >= 2 pairs that learned */
  int text_order;
} OutcomeSpec;
extern const OutcomeSpec OUTCOME[NOUTCOMES];

/* An outcome's verdict, second group against first. V_CANNOT_REACH: the test cannot reach p < 0.05
   after adjusting for family_m tests; V_WITHHELD: see the comparison's note; V_EXPLORATORY: a
   secondary outcome behind the closed gate (not every primary comparison was decided), reported
   without a verdict. verdict_name gives each its name in JSON and CSV. */
typedef enum { V_LOWER = -1, V_NONE = 0, V_HIGHER = 1, V_CANNOT_REACH = 2, V_WITHHELD = 4, V_EXPLORATORY = 5 } Verdict;
enum { NVERDICTS = 6 };
const char *verdict_name(Verdict v);

typedef struct {
  SignedRank t;        /* test, Hodges–Lehmann estimate and exact 95% interval of (second - first) */
  double p_adj;        /* Holm-adjusted within its family over the report */
  double mean[2];      /* each group's mean over the paired runs that have a value */
  double sd;           /* sd of the finite paired differences */
  double grid;         /* what the differences were rounded to */
  int censored[2];     /* speed: runs of each group that never reached the target */
  Verdict verdict;
  int family_m;        /* the tests its family was adjusted over (Tarone's count of those that can reach it) */
} Outcome;

enum { NLEVELS = 3 };
typedef struct {
  int ncols, cols[8];  /* the key: one grid column, or a zipped tuple */
  char key[256];
  int g1, g2;          /* the groups; they differ exactly in cols */
  int pairs;           /* seeds finished in both groups */
  int learned_pairs;   /* of those, pairs in which neither run failed */
  double target[2];    /* loss and accuracy targets */
  double km[2][2];     /* [target][group] Kaplan–Meier median steps */
  int km_reached[2][2];/* 0: fewer than half reached it; the median is ">= km" */
  int finished[2];     /* runs counted by Kaplan–Meier */
  Outcome out[NOUTCOMES];
  double levels[NLEVELS]; /* steadiness: the loss levels compared */
  int nlevels;
  double level_gap;    /* median relative gap between the compared windows' mean losses */
  double late_level[2];/* mean loss of the last 20% of steps per group (why late std is not compared) */
  int primary_rank, primary_m; /* Holm rank (1 = smallest p) of the primary outcome among the report's */
  double alpha_primary;  /* the level the primary outcome is tested at after Holm: 0.05 / (m - rank + 1) */
  double mde;          /* smallest primary shift detected 80% of the time at this many pairs (simulated) */
  double mde_table[NPOWER_ROWS]; /* the same at pairs x POWER_MULTIPLE */
  double effect;       /* the shift pairs_needed is for (report.effect; NAN: none) */
  int pairs_needed;    /* pairs to detect effect 80% of the time (-1: not computable or no effect named) */
  char warning[512];   /* the paired runs ran on different CPUs, BLAS kernels, threads or libraries */
} Comparison;

/* A randomly sampled key: the rank correlation of a per-run statistic with its values. */
typedef struct {
  int col, stat;
  char context[512];   /* the other keys' values the runs share ("" when none) */
  int n;
  double rho, p, p_adj;
} Correlation;

typedef struct {
  const ResultsData *d;
  AnalysisOptions o;
  RunStats *rs;        /* [nruns] */
  int ng, nc, ncorr;
  Group *g;
  Comparison *c;
  Correlation *corr;
  int col_random[RESULTS_MAX_COLS]; /* 0 grid, 1 uniform, 2 log-uniform */
  int col_zip[RESULTS_MAX_COLS];    /* the zip tuple a column belongs to (0 none) */
  char note[512];      /* why nothing was compared, when nothing was */
  int gate_open;       /* set by analysis_adjust: the secondary family was tested (every primary decided) */
} Analysis;

int analysis_run(Analysis *a, const ResultsData *d, const AnalysisOptions *o, Err *e);
/* The verdicts of the n analyses of one report under one family-wise error rate
   (ANALYSIS_ALPHA): Holm over the primary outcomes that can reach it (Tarone); then, only when
   every one of them was rejected, Holm over the secondary outcomes and correlations (serial
   gatekeeping); else the secondary ones are exploratory. Sets p_adj, verdicts and power.
   *gate_open: 1 when the secondary family was tested. */
void analysis_adjust(Analysis *a, int n, int *m_primary, int *m_secondary, int *gate_open);
void analysis_free(Analysis *a);

/* 1 when runs r and s have the same grid values (one group). */
int analysis_same_group(const ResultsData *d, int r, int s);
/* The runs whose tokenizer turned more than UNK_WARN of the training text into [UNK] (their
   verdicts compare models that could not read much of the data), and the worst share. */
int analysis_unk_runs(const ResultsData *d, double *worst);

#endif
