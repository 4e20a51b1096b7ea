/* io/ round trips and readers: a HF directory written by hf_save reloads bit for bit; TSV with
   a sentence pair and JSON lines with numeric labels read as expected; labels from a file keep
   its order, from data they are sorted; per-class subsampling takes equal shares; calibration
   stores from many processes at once keep every entry.
   argv[1]: a model directory (the parity fixture); argv[2]: a scratch directory. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "io/calibration.h"
#include "io/fileutil.h"
#include "io/hfmodel.h"
#include "jobs/job.h"
#include "tests/check.h"

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) exit(2);
  fputs(text, f);
  fclose(f);
}

/* 8 processes store 6 keys each into one calibration file at once (as `bertsweep bench` on
   every node of an allocation does): all 48 must be there afterwards. */
static void calibration_concurrent(const char *dir) {
  enum { PROCS = 8, KEYS = 6 };
  char path[4200];
  snprintf(path, sizeof path, "%s/calibration.json", dir);
  remove(path);
  setenv("BERTSWEEP_CALIBRATION", path, 1);
  pid_t pid[PROCS];
  for (int p = 0; p < PROCS; p++) {
    if ((pid[p] = fork()) == 0) {
      Err e;
      int bad = 0;
      for (int k = 0; k < KEYS; k++) {
        char key[64];
        snprintf(key, sizeof key, "node %d shape %d", p, k);
        Calibration c = {0.1 * (p + 1), 0.01 * (k + 1), 20, "node", "today"};
        bad |= calibration_store(key, &c, &e) != 0;
      }
      _exit(bad);
    }
  }
  int failed = 0;
  for (int p = 0; p < PROCS; p++) {
    int st = 1;
    failed += pid[p] < 0 || waitpid(pid[p], &st, 0) != pid[p] || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  CHECK(failed == 0, "calibration: %d of %d storing processes failed", failed, PROCS);
  Err e;
  void *all = calibration_open(&e);
  int found = 0;
  for (int p = 0; all && p < PROCS; p++)
    for (int k = 0; k < KEYS; k++) {
      char key[64];
      Calibration c;
      snprintf(key, sizeof key, "node %d shape %d", p, k);
      /* cJSON prints 15 significant digits when they read back within its epsilon */
      found += calibration_find(all, key, &c) && fabs(c.step_s - 0.1 * (p + 1)) < 1e-12 &&
               fabs(c.eval_s - 0.01 * (k + 1)) < 1e-12;
    }
  CHECK(found == PROCS * KEYS, "calibration: %d of %d entries survived concurrent stores", found, PROCS * KEYS);
  calibration_close(all);
  unsetenv("BERTSWEEP_CALIBRATION");
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  Err e;
  char p[4200];
  if (mkdir_p(argv[2], &e)) return 2;
  calibration_concurrent(argv[2]);
  /* HF directory round trip */
  HfDir hf, hf2;
  Bert m, m2;
  int head, pooler;
  if (hf_open(&hf, argv[1], &e) || bert_alloc(&m, &hf.cfg, &e) || hf_load_weights(&hf, &m, &head, &pooler, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 2;
  }
  snprintf(p, sizeof p, "%s/saved", argv[2]);
  CHECK(hf_save(p, &m, hf.vocab, hf.vocab_n, NULL, 0, 1, NULL, &e) == 0, "hf_save: %s", e.msg);
  CHECK(hf_open(&hf2, p, &e) == 0, "reopen: %s", e.msg);
  CHECK(hf2.vocab_n == hf.vocab_n && memcmp(&hf2.cfg, &hf.cfg, sizeof hf.cfg) == 0, "config or vocab changed");
  CHECK(bert_alloc(&m2, &hf2.cfg, &e) == 0 && hf_load_weights(&hf2, &m2, &head, &pooler, &e) == 0 && head, "reload: %s", e.msg);
  CHECK(memcmp(m.params, m2.params, sizeof(float) * m.nparams) == 0, "weights changed in the round trip");
  bert_free(&m2);
  hf_close(&hf2);

  /* TSV with a pair field; JSON lines with numeric labels */
  snprintf(p, sizeof p, "%s/pairs.tsv", argv[2]);
  write_text(p, "id\ta\tb\ty\n1\tw5 w6\tw7\tyes\n2\tw8\tw9 w10\tno\n\n3\tw11\tw12\tyes\n");
  DataFormat tsv = {.format = FMT_TSV, .header = 1, .text_field = "a", .pair_field = "b", .label_field = "y"};
  Dataset d;
  CHECK(dataset_read(&d, p, &tsv, &e) == 0 && d.n == 3, "tsv: %s", e.msg);
  CHECK(!strcmp(d.text_a[1], "w8") && !strcmp(d.text_b[1], "w9 w10") && !strcmp(d.label[2], "yes") && d.line[2] == 5,
        "tsv fields or line numbers wrong");
  LabelSet ls;
  CHECK(labels_from_data(&ls, &d, &e) == 0 && ls.n == 2 && !strcmp(ls.names[0], "no"), "labels from data not sorted");
  CHECK(dataset_map_labels(&d, &ls, &e) == 0 && d.label_id[0] == 1 && d.label_id[1] == 0, "label ids");
  labels_free(&ls);
  dataset_free(&d);
  /* quoting as Python's csv.writer(delimiter="\t") writes it: a tab and quotes inside a field;
     an unclosed quote is an error naming the line; CR-only line ends split lines */
  snprintf(p, sizeof p, "%s/quoted.tsv", argv[2]);
  write_text(p, "a\ty\r\"w5\tw6 \"\"q\"\" w7\"\tyes\r\"w8\"\t\"no\"\r");
  DataFormat q = {.format = FMT_TSV, .header = 1, .text_field = "a", .label_field = "y"};
  CHECK(dataset_read(&d, p, &q, &e) == 0 && d.n == 2 && !strcmp(d.text_a[0], "w5\tw6 \"q\" w7") &&
        !strcmp(d.label[0], "yes") && !strcmp(d.text_a[1], "w8") && !strcmp(d.label[1], "no"),
        "quoted tsv: %s", e.msg);
  dataset_free(&d);
  write_text(p, "a\ty\nw5\tyes\n\"w6\tno\n");
  CHECK(dataset_read(&d, p, &q, &e) != 0 && strstr(e.msg, "quoted.tsv:3:") && strstr(e.msg, "quoted field"),
        "unclosed quote: %s", e.msg);
  snprintf(p, sizeof p, "%s/nums.jsonl", argv[2]);
  write_text(p, "{\"text\": \"w5\", \"cls\": 3}\n{\"text\": \"w6\", \"cls\": 10}\n");
  DataFormat js = {.format = FMT_JSONL, .header = 1, .text_field = "text", .label_field = "cls"};
  CHECK(dataset_read(&d, p, &js, &e) == 0 && d.n == 2 && !strcmp(d.label[1], "10") && !d.text_b[0], "jsonl numeric labels");
  dataset_free(&d);
  snprintf(p, sizeof p, "%s/labels.txt", argv[2]);
  write_text(p, "zeta\nalpha\n");
  CHECK(labels_read(&ls, p, &e) == 0 && ls.n == 2 && !strcmp(ls.names[0], "zeta"), "labels file order not kept");
  labels_free(&ls);

  /* per-class subsampling: 3 classes of 40/20/10 examples, 15 taken -> 5 each */
  snprintf(p, sizeof p, "%s/train.jsonl", argv[2]);
  FILE *f = fopen(p, "w");
  for (int i = 0; i < 70; i++) fprintf(f, "{\"sentence\": \"w%d\", \"label\": \"c%d\"}\n", 5 + i % 90, i < 40 ? 0 : i < 60 ? 1 : 2);
  fclose(f);
  RunConfig cfg;
  snprintf(p, sizeof p, "%s/run.json", argv[2]);
  char text[8192], model[4096];
  if (!realpath(argv[1], model)) return 2;
  snprintf(text, sizeof text, "{\"model\": {\"path\": \"%s\"}, \"data\": {\"train\": \"train.jsonl\", \"dev\": \"train.jsonl\", "
           "\"train_size\": 15, \"sampling\": \"per_class\", \"max_seq_length\": 16}, \"train\": {\"epochs\": 1}}", model);
  write_text(p, text);
  Job j;
  CHECK(runconfig_load(&cfg, p, &e) == 0 && job_open(&j, &cfg, &e) == 0, "job: %s", e.msg);
  int count[3] = {0};
  for (int i = 0; i < j.train.n; i++) count[j.train.label[i]]++;
  CHECK(j.train.n == 15 && count[0] == 5 && count[1] == 5 && count[2] == 5, "per-class subsample %d/%d/%d", count[0],
        count[1], count[2]);
  CHECK(j.dev.n == 70 && fabs(j.majority_acc - 40.0 / 70) < 1e-12, "majority baseline %g", j.majority_acc);
  job_close(&j);
  bert_free(&m);
  hf_close(&hf);
  return check_done();
}
