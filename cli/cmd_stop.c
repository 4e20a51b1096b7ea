/* `bertsweep stop FILE.h5`: asks the sweep writing FILE.h5 to checkpoint its running runs
   and exit with code 5 (which the Slurm wrapper does not requeue). The request is a file,
   FILE.h5.stop, that rank 0 of the sweep looks for once a second: it works from any host
   that sees the results file, with no signal to route through Slurm and mpirun. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/commands.h"
#include "io/fileutil.h"
#include "io/lockfile.h"
#include "io/results_schema.h"

static const char *STOP_USAGE =
    "usage: bertsweep stop FILE.h5\n"
    "  Asks the sweep writing FILE.h5 to checkpoint its running runs and exit with code 5 within\n"
    "  about a second plus one training step. Running the same sweep command again resumes.\n";

int cmd_stop(int argc, char **argv, Err *e) {
  if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
    fputs(STOP_USAGE, stdout);
    return EXIT_OK;
  }
  if (argc != 1 || argv[0][0] == '-') {
    errf(e, "%s", STOP_USAGE);
    return EXIT_USAGE;
  }
  char lock[4200], stop[4200], text[512], host[256] = "?", target[4096];
  snprintf(target, sizeof target, "%s", argv[0]); /* a link to scratch: the sweep's lock lies beside its target */
  if (follow_links(target, sizeof target, e) < 0) return EXIT_ERROR;
  argv[0] = target;
  results_sidecar(lock, sizeof lock, argv[0], SIDE_LOCK);
  results_sidecar(stop, sizeof stop, argv[0], SIDE_STOP);
  /* nothing to stop is no error: the state the user asked for holds (exit 0, said on stdout) */
  if (!path_exists(lock)) {
    printf("# %s: no sweep is writing it (no %s); nothing to stop\n", argv[0], lock);
    return EXIT_OK;
  }
  char who[800];
  if (regular_or_absent(lock, e)) return EXIT_ERROR; /* a FIFO or a directory is no lock */
  if (!lock_live(argv[0], who, sizeof who)) {
    printf("# %s: no sweep is writing it (%s is left by one that is gone; the next run of the sweep takes it over); "
           "nothing to stop\n",
           argv[0], lock);
    return EXIT_OK;
  }
  gethostname(host, sizeof host - 1);
  time_t t = time(NULL);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  int n = snprintf(text, sizeof text, "stop requested from host %s, pid %ld, at %s\n", host, (long)getpid(), when);
  if (write_file_atomic(stop, text, (size_t)n, e)) return EXIT_ERROR;
  if (!lock_live(argv[0], who, sizeof who)) { /* the sweep ended between our look and our write */
    unlink(stop);
    printf("# %s: the sweep ended as the stop was asked; nothing to stop\n", argv[0]);
    return EXIT_OK;
  }
  printf("# asked the sweep writing %s to stop; it checkpoints and exits with code 5 (a sweep that was already ending "
         "ends as done, exit 0)\n", argv[0]);
  return EXIT_OK;
}
