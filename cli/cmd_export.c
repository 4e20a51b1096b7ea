/* `bertsweep export RESULTS.h5 --run N OUT_DIR`: a run's final weights as a HuggingFace
   directory that `bertsweep train` and transformers' BertForSequenceClassification load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli/commands.h"
#include "io/fileutil.h"
#include "io/results_read.h"
#include "jobs/job.h"

static const char *EXPORT_USAGE = "usage: bertsweep export RESULTS.h5 --run N OUT_DIR";

static int export_run(const char *file, int run, const char *out, Err *e) {
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
  int run = -1;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--run") && i + 1 < argc) {
      char *end;
      run = (int)strtol(argv[++i], &end, 10);
      if (*end || argv[i][0] == 0 || run < 0) { errf(e, "export: --run needs a run number, not '%s'", argv[i]); return EXIT_USAGE; }
    } else if (argv[i][0] == '-') { errf(e, "export: unknown option %s\n%s", argv[i], EXPORT_USAGE); return EXIT_USAGE; }
    else if (!file) file = argv[i];
    else if (!out) out = argv[i];
    else { errf(e, "%s", EXPORT_USAGE); return EXIT_USAGE; }
  }
  if (!file || !out || run < 0) { errf(e, "%s", EXPORT_USAGE); return EXIT_USAGE; }
  return export_run(file, run, out, e) ? EXIT_ERROR : EXIT_OK;
}
