#define _GNU_SOURCE /* realpath */
/* `bertsweep export RESULTS.h5 --run N OUT_DIR`: a run's final weights as a HuggingFace
   directory that `bertsweep train` and transformers' BertForSequenceClassification load. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli/commands.h"
#include "io/fileutil.h"
#include "io/results_read.h"
#include "jobs/job.h"

/* OUT_DIR may be written: new, empty, or (force) a directory of files; never the model a run
   of this file loads (its later runs would start from fine-tuned weights). */
static int out_dir_ok(const char *out, const char *model_path, int force, Err *e) {
  char a[PATH_MAX], b[PATH_MAX];
  if (model_path && realpath(out, a) && realpath(model_path, b) && strcmp(a, b) == 0)
    return errf(e, "%s: is the model directory the file's runs load (%s): export elsewhere", out, model_path);
  DIR *d = opendir(out);
  if (!d) return errno == ENOENT ? 0 : errf(e, "%s: %s", out, errno == ENOTDIR ? "not a directory" : strerror(errno));
  int entries = 0;
  for (struct dirent *x; (x = readdir(d));) entries += strcmp(x->d_name, ".") && strcmp(x->d_name, "..");
  closedir(d);
  if (entries && !force) return errf(e, "%s: is not empty (files of another model would stay beside the export); "
                                        "choose a new directory or pass --force", out);
  return 0;
}

static int export_run(const char *file, int run, const char *out, int force, Err *e) {
  ResultsInfo info;
  if (results_inspect(file, &info, e)) return -1;
  int rc = 0;
  RunConfig *cfg = malloc(sizeof *cfg);
  cJSON *json = NULL;
  if (!cfg) rc = errf(e, "out of memory");
  else if (run < 0 || run >= info.nruns) rc = errf(e, "%s: no run %d (the file has runs 0 to %d)", file, run, info.nruns - 1);
  else if (run_status_parse(info.status[run]) != RUN_DONE)
    rc = errf(e, "%s: run %d is %s, not done: it has no final weights", file, run, info.status[run]);
  else if (!(json = cJSON_Parse(info.run_configs[run]))) rc = errf(e, "%s: run %d's config is not valid JSON", file, run);
  else if (runconfig_parse(cfg, json, info.config_path, e)) rc = -1;
  else if (!cfg->save_final_weights)
    rc = errf(e, "%s: run %d did not save its final weights (set train.save_final_weights and rerun it)", file, run);
  cJSON_Delete(json);
  Job j;
  if (!rc && out_dir_ok(out, cfg->model_path, force, e)) rc = -1;
  if (!rc && job_open(&j, cfg, e)) rc = errctx(e, "%s: run %d's model and data", file, run);
  else if (!rc) {
    if (results_read_final(file, run, j.m.params, (long)j.m.nparams, e) ||
        job_save_model(&j, out, e))
      rc = -1;
    else
      printf("run %d (%s, seed %d): final dev accuracy as the sweep measured it is in /runs; written to %s "
             "(config.json with %d labels, model.safetensors, vocab.txt, tokenizer_config.json)\n",
             run, cfg->model_path, cfg->seed, out, j.labels.n);
    job_close(&j);
  }
  free(cfg);
  results_info_free(&info);
  return rc;
}

int cmd_export(int argc, char **argv, Err *e) {
  const char *file = NULL, *out = NULL;
  int run = -1, force = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--force")) force = 1;
    else if (!strcmp(argv[i], "--run") && i + 1 < argc) {
      char *end;
      errno = 0;
      long v = strtol(argv[++i], &end, 10);
      if (*end || argv[i][0] == 0 || errno || v < 0 || v > INT_MAX) {
        errf(e, "export: --run needs a run number, not '%s'", argv[i]);
        return EXIT_USAGE;
      }
      run = (int)v;
    } else if (argv[i][0] == '-') return usage_error(e, "export", "unknown option %s", argv[i]);
    else if (!file) file = argv[i];
    else if (!out) out = argv[i];
    else return usage_error(e, "export", "unexpected argument %s", argv[i]);
  }
  if (!file || !out || run < 0) return usage_error(e, "export", "%s", !file ? "which results file?" : run < 0 ? "which run? (--run N)" : "into which directory?");
  return export_run(file, run, out, force, e) ? EXIT_ERROR : EXIT_OK;
}
