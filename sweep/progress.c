#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sweep/progress.h"
#include "src/clock.h"

int progress_init(Progress *p, const Sweep *s, int size, Err *e) {
  memset(p, 0, sizeof *p);
  p->s = s;
  p->size = size;
  p->todo = s->nruns;
  p->ranks = calloc((size_t)size, sizeof(RankState));
  p->run_steps = calloc((size_t)s->nruns, sizeof(long));
  if (!p->ranks || !p->run_steps) {
    progress_free(p);
    return errf(e, "out of memory");
  }
  for (int r = 0; r < size; r++) p->ranks[r].run = -1;
  for (int i = 0; i < s->nruns; i++) p->steps_all += s->runs[i].total_steps;
  p->t0 = clock_seconds();
  return 0;
}

void progress_free(Progress *p) {
  free(p->ranks);
  free(p->run_steps);
  p->ranks = NULL;
  p->run_steps = NULL;
}

void progress_start(Progress *p, int rank, int run) {
  p->ranks[rank] = (RankState){run, 0, 0.0};
}

void progress_step(Progress *p, int rank, int run, long step, double loss) {
  p->ranks[rank] = (RankState){run, step, loss};
  p->run_steps[run] = step;
}

void progress_done(Progress *p, int rank, int run, RunEnd how) {
  p->ended[how]++;
  if (how != END_STOPPED && how != END_IOERROR) p->run_steps[run] = p->s->runs[run].total_steps;
  p->ranks[rank].run = -1;
}

void progress_duration(char *out, size_t n, double s) {
  if (!(s >= 0) || s > 1e8) snprintf(out, n, "?");
  else if (s < 89.5) snprintf(out, n, "%.0fs", s);
  else if (s < 5400) { /* whole seconds first: 239.7 s is 4m00s, not 3m60s */
    const long t = lround(s);
    snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
  } else snprintf(out, n, "%.1fh", s / 3600);
}

void progress_print(const Progress *p, FILE *out) {
  long steps = 0;
  for (int i = 0; i < p->s->nruns; i++) steps += p->run_steps[i];
  double el = clock_seconds() - p->t0, rate = (double)(steps - p->steps_at_start) / (el > 1e-9 ? el : 1e-9);
  char eta[32], elapsed[32];
  progress_duration(eta, sizeof eta, rate > 0 ? (double)(p->steps_all - steps) / rate : -1);
  progress_duration(elapsed, sizeof elapsed, el);
  fprintf(out, "[%s] runs %d/%d done", elapsed, p->ended[END_DONE], p->todo);
  for (int k = END_STOPPED, first = 1; k < NRUN_ENDS; k++)
    if (p->ended[k]) {
      fprintf(out, "%s%d %s", first ? " (" : ", ", p->ended[k], run_end_name((RunEnd)k));
      first = 0;
    }
  if (p->ended[END_STOPPED] + p->ended[END_DIVERGED] + p->ended[END_FAILED] + p->ended[END_IOERROR]) fputc(')', out);
  for (int r = 0; r < p->size && r < 16; r++) {
    const RankState *st = &p->ranks[r];
    if (st->run < 0) fprintf(out, " | r%d idle", r);
    else if (st->step <= 0) fprintf(out, " | r%d run %d starting", r, p->s->runs[st->run].row); /* loading its model */
    else fprintf(out, " | r%d run %d %ld/%ld loss %.4f", r, p->s->runs[st->run].row, st->step,
                 p->s->runs[st->run].total_steps, st->loss); /* the run's row, as every other message names it */
  }
  if (p->size > 16) fprintf(out, " | ...");
  fprintf(out, " | ETA %s\n", steps >= p->steps_all ? "0s" : eta);
  fflush(out);
}
