#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "io/lockfile.h"
#include "src/clock.h"

#define HEARTBEAT_SECONDS 30.0

typedef struct {
  char host[256], job[64];
  long pid;
  char started[64];
} LockInfo;

static void my_info(LockInfo *m) {
  memset(m, 0, sizeof *m);
  gethostname(m->host, sizeof m->host - 1);
  const char *job = getenv("SLURM_JOB_ID");
  snprintf(m->job, sizeof m->job, "%s", job ? job : "");
  m->pid = (long)getpid();
  time_t t = time(NULL);
  strftime(m->started, sizeof m->started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

static int parse_info(const char *text, LockInfo *li) {
  memset(li, 0, sizeof *li);
  int n = 0;
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    n += sscanf(p, "host=%255[^\n]", li->host) == 1;
    n += sscanf(p, "pid=%ld", &li->pid) == 1;
    n += sscanf(p, "slurm_job=%63[^\n]", li->job) == 1;
    n += sscanf(p, "started=%63[^\n]", li->started) == 1;
  }
  return n >= 2 ? 0 : -1;
}

static double stale_seconds(void) {
  const char *v = getenv("BERTSWEEP_LOCK_STALE");
  double s = v ? atof(v) : 0;
  return s > 0 ? s : 600;
}

/* 1 when pid is a live bertsweep process on this host (not gone, not a zombie, not a
   reused pid running another program). */
static int process_alive(long pid) {
  if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) return 0;
  char path[64], stat[512] = "";
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 1; /* no /proc: trust kill() */
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  const char *close_paren = strrchr(stat, ')');
  if (!close_paren || close_paren[1] != ' ') return 1;
  char state = close_paren[2];
  return state != 'Z' && state != 'X' && strstr(stat, "(bertsweep)") != NULL;
}

/* Why the lock at path is stale (NULL: it is live). */
static const char *stale_reason(const LockInfo *li, const LockInfo *me, double age) {
  if (strcmp(li->host, me->host) == 0 && !process_alive(li->pid)) return "its process is gone";
  if (me->job[0] && strcmp(li->job, me->job) == 0) return "it is this Slurm job's (requeued)";
  if (age > stale_seconds()) return "its heartbeat stopped";
  return NULL;
}

static int write_lock(const char *path, const LockInfo *me, int *fd_out, Err *e) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return errno == EEXIST ? 1 : errf(e, "%s: cannot create the lock: %s", path, strerror(errno));
  char text[512];
  int n = snprintf(text, sizeof text, "host=%s\npid=%ld\nslurm_job=%s\nstarted=%s\n", me->host, me->pid, me->job,
                   me->started);
  if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(path);
    return errf(e, "%s: cannot write the lock: %s", path, strerror(err));
  }
  *fd_out = fd;
  return 0;
}

/* Moves a stale lock aside; fails when another process replaced it meanwhile. */
static int take_over(const char *path, ino_t judged, Err *e) {
  char aside[4300];
  snprintf(aside, sizeof aside, "%s.stale-%ld", path, (long)getpid());
  if (rename(path, aside) != 0) return errno == ENOENT ? 0 : errf(e, "%s: cannot remove a stale lock: %s", path, strerror(errno));
  struct stat st;
  if (stat(aside, &st) == 0 && st.st_ino != judged) { /* someone else's fresh lock: put it back */
    if (link(aside, path) != 0) {}
    unlink(aside);
    return errf(e, "%s: another sweep took the lock at the same moment", path);
  }
  unlink(aside);
  return 0;
}

int lock_acquire(WriterLock *l, const char *results_path, Err *e) {
  snprintf(l->path, sizeof l->path, "%s.lock", results_path);
  l->fd = -1;
  LockInfo me;
  my_info(&me);
  for (int attempt = 0; attempt < 3; attempt++) {
    int rc = write_lock(l->path, &me, &l->fd, e);
    if (rc <= 0) {
      l->last_beat = clock_seconds();
      return rc;
    }
    char text[1024] = "";
    struct stat st;
    int fd = open(l->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    int have = fd >= 0 && fstat(fd, &st) == 0;
    if (fd >= 0) close(fd);
    if (fd < 0 && errno == ENOENT) continue;
    if (!have) return errf(e, "%s: cannot read the lock: %s", l->path, strerror(errno));
    text[n > 0 ? n : 0] = 0;
    LockInfo li;
    double age = difftime(time(NULL), st.st_mtime);
    int parsed = parse_info(text, &li) == 0;
    /* a holder on this host that was just killed may take a moment to go */
    for (int wait = 0; parsed && wait < 20 && strcmp(li.host, me.host) == 0 && process_alive(li.pid); wait++)
      usleep(100000);
    const char *why = parsed ? stale_reason(&li, &me, age) : "it is unreadable";
    if (!why)
      return errf(e, "%s: another sweep is writing it (host %s, pid %ld%s%s, since %s; heartbeat %.0f s ago). "
                     "If that sweep is gone, remove %s",
                  results_path, li.host, li.pid, li.job[0] ? ", Slurm job " : "", li.job, li.started, age, l->path);
    fprintf(stderr, "bertsweep: taking over %s: %s (host %s, pid %ld)\n", l->path, why, li.host, li.pid);
    if (take_over(l->path, st.st_ino, e)) return -1;
  }
  return errf(e, "%s: could not take the lock", l->path);
}

void lock_heartbeat(WriterLock *l) {
  if (l->fd < 0 || clock_seconds() - l->last_beat < HEARTBEAT_SECONDS) return;
  futimens(l->fd, NULL);
  l->last_beat = clock_seconds();
}

void lock_release(WriterLock *l) {
  if (l->fd < 0) return;
  close(l->fd);
  unlink(l->path);
  l->fd = -1;
}
