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
#include "io/results_schema.h"
#include "src/clock.h"

#define HEARTBEAT_SECONDS 30.0

typedef struct {
  char host[256], job[64];
  long pid;
  char started[64];
  double heartbeat; /* the holder's heartbeat period (HEARTBEAT_SECONDS in locks without one) */
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

/* The line at *q (cut to size - 1 bytes) into buf, *q past it; NULL at the end. Lines are
   parsed one by one from a copy: sscanf measures the whole string it reads from, so reading
   a long lock in place would be quadratic. */
static const char *next_line(const char **q, char *buf, size_t size) {
  if (!*q || !**q) return NULL;
  const char *nl = strchr(*q, '\n');
  size_t n = nl ? (size_t)(nl - *q) : strlen(*q);
  size_t k = n < size - 1 ? n : size - 1;
  memcpy(buf, *q, k);
  buf[k] = 0;
  *q = nl ? nl + 1 : *q + n;
  return buf;
}

static int parse_info(const char *text, LockInfo *li) {
  memset(li, 0, sizeof *li);
  int n = 0;
  char line[600];
  for (const char *q = text, *p; (p = next_line(&q, line, sizeof line));) {
    n += sscanf(p, "host=%255[^\n]", li->host) == 1;
    n += sscanf(p, "pid=%ld", &li->pid) == 1;
    n += sscanf(p, "slurm_job=%63[^\n]", li->job) == 1;
    n += sscanf(p, "started=%63[^\n]", li->started) == 1;
    if (sscanf(p, "heartbeat=%lf", &li->heartbeat) == 1 && !(li->heartbeat > 0 && li->heartbeat <= HEARTBEAT_SECONDS))
      li->heartbeat = HEARTBEAT_SECONDS; /* damaged: the longest a holder beats */
  }
  if (!(li->heartbeat > 0)) li->heartbeat = HEARTBEAT_SECONDS;
  return n >= 2 ? 0 : -1;
}

int lock_stale_env(double *out, Err *e) {
  const char *v = getenv("BERTSWEEP_LOCK_STALE");
  char *end;
  *out = 600;
  if (!v || !v[0]) return 0;
  double s = strtod(v, &end);
  if (end == v || *end || !(s >= 2 && s <= 1e7))
    return errf(e, "BERTSWEEP_LOCK_STALE must be seconds in [2, 1e7], not \"%s\"", v);
  *out = s;
  return 0;
}

/* When a lock is stale for a taker whose limit is mine: never within four of the holder's
   heartbeats, whatever the taker's setting. */
static double stale_for(double mine, const LockInfo *li) {
  return mine > 4 * li->heartbeat ? mine : 4 * li->heartbeat;
}

/* A heartbeat older than this is no live sweep's (it refreshes every li->heartbeat, between
   rank 0's steps): a lock that old is waited on until stale rather than refused. */
static double dead_after(double mine, const LockInfo *li) {
  double half = stale_for(mine, li) / 2;
  return half < 3 * li->heartbeat ? half : 3 * li->heartbeat;
}

/* The "abandoned=" line a sweep that lost a rank leaves (lock_abandon); NULL: none. */
static const char *abandoned(const char *text) {
  const char *p = strstr(text, "\nabandoned=");
  return p ? p + 12 : NULL;
}

/* 1 when the lock lists a writer on a host other than host: a process this host cannot see. */
static int writers_elsewhere(const char *text, const char *host) {
  char line[600];
  for (const char *q = text, *p; (p = next_line(&q, line, sizeof line));) {
    char h[256];
    long pid;
    if (sscanf(p, "writer=%255s %ld", h, &pid) == 2 && strcmp(h, host) != 0) return 1;
  }
  return 0;
}

/* "n1, n2 and n3": the distinct hosts the lock's writers run on. */
static void writer_hosts(const char *text, char *out, size_t size) {
  size_t len = 0;
  int n = 0, more = 0;
  out[0] = 0;
  char line[600];
  for (const char *q = text, *p; (p = next_line(&q, line, sizeof line));) {
    char h[256], key[262];
    long pid;
    if (strncmp(p, "writer=", 7) != 0 || sscanf(p, "writer=%255s %ld", h, &pid) != 2) continue;
    snprintf(key, sizeof key, ", %s,", h);
    char listed[1024]; /* ", a, b," to look h up in what is printed (bounded by size) */
    snprintf(listed, sizeof listed, ", %s,", out);
    if (n && strstr(listed, key)) continue;
    if (len + strlen(h) + 8 < size && len + strlen(h) + 8 < sizeof listed - 8)
      len += (size_t)snprintf(out + len, size - len, "%s%s", n++ ? ", " : "", h);
    else if (!more) more = 1;
  }
  if (more && len + 8 < size) snprintf(out + len, size - len, ", ...");
}

/* /proc/PID/stat's state, parent and start time (field 22); 0 when it cannot be read. */
static int proc_stat(long pid, char *state, long *ppid, unsigned long long *start) {
  char path[64], stat[1024] = "";
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  const char *p = strrchr(stat, ')'); /* the name may hold spaces and parentheses: fields follow the last ')' */
  return p && sscanf(p + 1, " %c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", state, ppid,
                     start) == 3;
}

/* 1 when the writer (pid, started at start; 0: unknown) is a live process on this host: not
   gone, not a zombie, not a reused pid (another start time), whatever the program is called;
   *ppid: its parent, 0 when unknown. */
static int process_alive(long pid, unsigned long long start, long *ppid) {
  *ppid = 0;
  if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) return 0;
  char state = 0;
  unsigned long long now_start = 0;
  if (!proc_stat(pid, &state, ppid, &now_start)) return 1; /* no /proc: trust kill() */
  return state != 'Z' && state != 'X' && (start == 0 || now_start == start);
}

/* Writers the lock text lists on host that are alive (*orphans: how many of them lost the
   parent that launched them: ranks of a killed mpirun, about to exit); for a lock without
   writer lines (an older bertsweep's), its main process when that ran on host. */
static int writers_alive(const char *text, const LockInfo *li, const char *host, int *orphans) {
  int listed = 0, alive = 0;
  long ppid;
  *orphans = 0;
  char line[600];
  for (const char *q = text, *p; (p = next_line(&q, line, sizeof line));) {
    char h[256];
    long pid, launcher = 0;
    unsigned long long start = 0;
    if (strncmp(p, "writer=", 7) != 0 || sscanf(p, "writer=%255s %ld %ld %llu", h, &pid, &launcher, &start) < 2) continue;
    listed++;
    if (strcmp(h, host) != 0 || !process_alive(pid, start, &ppid)) continue;
    alive++;
    *orphans += launcher > 0 && ppid != launcher;
  }
  if (!listed && strcmp(li->host, host) == 0) alive = process_alive(li->pid, 0, &ppid);
  return alive;
}

/* Why the lock is stale (NULL: it is live). A writer alive on this host always makes it live. */
static const char *stale_reason(const char *text, const LockInfo *li, const LockInfo *me, double age, double stale) {
  int orphans;
  if (writers_alive(text, li, me->host, &orphans)) return NULL;
  if (abandoned(text)) return "its sweep ended when a rank went silent";
  if (strcmp(li->host, me->host) == 0) return "its processes are gone";
  if (me->job[0] && strcmp(li->job, me->job) == 0) return "it is this Slurm job's (requeued)";
  if (age > stale_for(stale, li)) return "its heartbeat stopped";
  return NULL;
}

static int write_lock(const char *path, const LockInfo *me, const LockWriter *w, int n, int *fd_out, Err *e) {
  size_t cap = 600 + (size_t)n * 320;
  char *text = malloc(cap);
  if (!text) return errf(e, "out of memory");
  size_t len = (size_t)snprintf(text, cap, "host=%s\npid=%ld\nslurm_job=%s\nstarted=%s\nheartbeat=%g\n", me->host,
                                me->pid, me->job, me->started, me->heartbeat);
  for (int i = 0; i < n; i++)
    len += (size_t)snprintf(text + len, cap - len, "writer=%s %ld %ld %llu\n", w[i].host, w[i].pid, w[i].ppid, w[i].start);
  /* written whole beside the lock, then linked into place: no reader ever sees it empty or
     half written (link fails with EEXIST when a lock is there, as O_EXCL would) */
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.new-%ld", path, (long)getpid());
  unlink(tmp);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    free(text);
    return errf(e, "%s: cannot create the lock: %s", tmp, strerror(errno));
  }
  int bad = write(fd, text, len) != (ssize_t)len || fsync(fd) != 0;
  free(text);
  int linked = bad ? -1 : link(tmp, path), err = errno;
  unlink(tmp);
  if (!bad && linked == 0) {
    *fd_out = fd;
    return 0;
  }
  close(fd);
  if (!bad && err == EEXIST) return 1;
  return errf(e, "%s: cannot %s the lock: %s", path, bad ? "write" : "create", strerror(err));
}

/* The lock's text (malloc'd) and its inode and age: 0, 1 when there is no lock, -1 on error. */
static int read_lock(const char *path, char **text, ino_t *ino, double *age) {
  *text = NULL;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
  if (fd < 0) return errno == ENOENT ? 1 : -1;
  struct stat st;
  char *buf = NULL;
  ssize_t got = -1;
  if (fstat(fd, &st) == 0) { /* else errno says why */
    if (!S_ISREG(st.st_mode)) errno = EINVAL; /* a FIFO, device or directory is no lock */
    else if (st.st_size >= (1 << 24)) errno = EFBIG; /* no lock is that long */
    else if (!(buf = malloc((size_t)st.st_size + 1))) errno = ENOMEM;
    else got = read(fd, buf, (size_t)st.st_size);
  }
  int err = errno;
  close(fd);
  if (got < 0) {
    free(buf);
    errno = err;
    return -1;
  }
  buf[got] = 0;
  *text = buf;
  *ino = st.st_ino;
  *age = difftime(time(NULL), st.st_mtime);
  return 0;
}

/* Moves a stale lock aside: 1 when it did, 0 when the lock was already gone (its holder ended
   and removed it), -1 when another process replaced it meanwhile or it cannot be moved. */
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
  return 1;
}

static void describe(const char *text, const LockInfo *li, double age, char *out, size_t size) {
  char hosts[512];
  writer_hosts(text, hosts, sizeof hosts);
  snprintf(out, size, "host %s, pid %ld%s%s, since %s; heartbeat %.0f s ago%s%s", li->host, li->pid,
           li->job[0] ? ", Slurm job " : "", li->job, li->started, age, hosts[0] ? "; ranks on " : "", hosts);
}

/* A lock whose heartbeat stopped but is not stale yet (a crashed sweep on another host, or
   one whose rank 0 is frozen): waits until it is, saying so; 1 when it became stale, 0 when
   it was refreshed or removed meanwhile (a live sweep after all, or one that ended). */
static int wait_until_stale(const WriterLock *l, const LockInfo *li, ino_t ino, double age) {
  const char *path = l->path;
  const double stale = stale_for(l->stale, li);
  fprintf(stderr, "bertsweep: %s was last refreshed %.0f s ago by host %s (a running sweep refreshes it every %g s): "
                  "waiting %.0f s more until it is stale (BERTSWEEP_LOCK_STALE=%g%s) before taking it over\n",
          path, age, li->host, li->heartbeat, stale - age + 1, l->stale,
          stale > l->stale ? ", at least 4 of its heartbeats" : "");
  for (;;) {
    if (l->interrupted && l->interrupted()) return 2;
    char *text;
    ino_t now_ino = 0;
    double now_age = 0;
    int rc = read_lock(path, &text, &now_ino, &now_age);
    free(text);
    if (rc != 0 || now_ino != ino || now_age < age) return 0;
    if (now_age > stale) return 1;
    age = now_age;
    usleep(200000);
  }
}

void lock_writer_self(LockWriter *w) {
  memset(w, 0, sizeof *w);
  gethostname(w->host, sizeof w->host - 1);
  w->pid = (long)getpid();
  w->ppid = (long)getppid();
  char state;
  long ppid;
  if (!proc_stat(w->pid, &state, &ppid, &w->start)) w->start = 0;
}

int lock_acquire(WriterLock *l, const char *results_path, const LockWriter *writers, int n, Err *e) {
  results_sidecar(l->path, sizeof l->path, results_path, SIDE_LOCK);
  l->fd = -1;
  l->fence = 0;
  if (!(l->stale > 0) && lock_stale_env(&l->stale, e)) return -1; /* a sweep read it at its start */
  l->heartbeat = l->stale / 4 < HEARTBEAT_SECONDS ? l->stale / 4 : HEARTBEAT_SECONDS;
  LockInfo me;
  my_info(&me);
  me.heartbeat = l->heartbeat;
  for (int attempt = 0; attempt < 3; attempt++) {
    int rc = write_lock(l->path, &me, writers, n, &l->fd, e);
    if (rc <= 0) {
      l->last_beat = clock_seconds();
      return rc;
    }
    char *text;
    ino_t ino = 0;
    double age = 0;
    rc = read_lock(l->path, &text, &ino, &age);
    if (rc == 1) continue;
    if (rc < 0)
      return errf(e, "%s: cannot read the lock: %s", l->path,
                  errno == EINVAL ? "not a regular file (a FIFO, socket or device): remove it" : strerror(errno));
    LockInfo li;
    int parsed = parse_info(text, &li) == 0;
    /* a holder killed a moment ago takes a moment to go; the ranks of a killed mpirun
       (orphans) live on to their next step boundary, where they exit */
    int alive = 0, orphans = 0;
    for (int wait = 0; parsed && (alive = writers_alive(text, &li, me.host, &orphans)) > 0; wait++) {
      if (wait == 20 && orphans == alive)
        fprintf(stderr, "bertsweep: waiting for %d rank(s) of a killed sweep on %s to exit\n", alive, li.host);
      if (wait >= (orphans == alive ? 600 : 20)) break;
      if (l->interrupted && l->interrupted()) {
        free(text);
        return 2;
      }
      usleep(100000);
    }
    /* an unreadable lock is one being written by a process that is slow (descheduled, a slow
       network file system) as much as damage: only a stale one is taken over */
    const char *why = parsed ? stale_reason(text, &li, &me, age, l->stale) : age > l->stale ? "it is unreadable and old" : NULL;
    if (!why && !parsed) {
      free(text);
      errf(e, "%s: another sweep may be writing it: its lock %s cannot be read yet (%.0f s old). If no sweep is "
              "running, remove the lock", results_path, l->path, age);
      return 1;
    }
    if (!why && !alive && age > dead_after(l->stale, &li)) {
      int stale = wait_until_stale(l, &li, ino, age);
      free(text);
      if (stale == 2) return 2;
      if (stale) attempt--; /* judged again, now stale: the wait is no attempt */
      continue;
    }
    if (!why) {
      char who[1400];
      describe(text, &li, age, who, sizeof who);
      free(text);
      errf(e, "%s: another sweep is writing it (%s%s). If that sweep is gone, remove %s", results_path, who,
           alive ? "; its processes on this host are alive" : "", l->path);
      return 1;
    }
    /* a writer this host cannot see may still be alive (frozen, cut off): once the lock is
       ours, the file is fenced from it (sweep_main) */
    const int fence = abandoned(text) || writers_elsewhere(text, me.host);
    free(text);
    int moved = take_over(l->path, ino, e);
    if (moved < 0) return -1;
    if (moved) { /* a holder that ended normally removed its lock itself: nothing was taken over then */
      fprintf(stderr, "bertsweep: taking over %s: %s (host %s, pid %ld)\n", l->path, why, li.host, li.pid);
      l->fence = l->fence || fence;
    }
  }
  return errf(e, "%s: could not take the lock", l->path);
}

int lock_live(const char *results_path, char *what, size_t size) {
  char path[4200], *text;
  results_sidecar(path, sizeof path, results_path, SIDE_LOCK);
  ino_t ino;
  double age = 0;
  if (read_lock(path, &text, &ino, &age)) return 0;
  LockInfo li, me;
  my_info(&me);
  double stale;
  Err ignored;
  if (lock_stale_env(&stale, &ignored)) stale = 600; /* status only reads: the default */
  int live = parse_info(text, &li) == 0 && !stale_reason(text, &li, &me, age, stale);
  if (live) describe(text, &li, age, what, size);
  free(text);
  return live;
}

void lock_heartbeat(WriterLock *l) {
  if (l->fd < 0 || clock_seconds() - l->last_beat < l->heartbeat) return;
  futimens(l->fd, NULL);
  l->last_beat = clock_seconds();
}

/* Only the lock this process holds: a process that woke after its sweep was taken over must
   not remove the new holder's lock. */
static int still_ours(const WriterLock *l) {
  struct stat mine, there;
  return fstat(l->fd, &mine) == 0 && lstat(l->path, &there) == 0 && mine.st_ino == there.st_ino &&
         mine.st_dev == there.st_dev;
}

int lock_held(const WriterLock *l) { return l->fd >= 0 && still_ours(l); }

void lock_release(WriterLock *l) {
  if (l->fd < 0) return;
  if (still_ours(l)) unlink(l->path);
  close(l->fd);
  l->fd = -1;
}

int lock_abandon(WriterLock *l, const char *why, Err *e) {
  if (l->fd < 0) return 0;
  char line[1200];
  int n = snprintf(line, sizeof line, "abandoned=%s\n", why);
  if (n >= (int)sizeof line) n = (int)sizeof line - 1, line[n - 1] = '\n';
  if (lseek(l->fd, 0, SEEK_END) < 0 || write(l->fd, line, (size_t)n) != n || fsync(l->fd) != 0)
    return errf(e, "%s: cannot mark the lock abandoned: %s", l->path, strerror(errno));
  close(l->fd); /* left in place: the next sweep takes it over and fences the file */
  l->fd = -1;
  return 0;
}

/* "writer=HOST PID " of this process in text (a lock it is listed in) */
static int lists_me(const char *text) {
  char host[256] = "", want[320];
  gethostname(host, sizeof host - 1);
  snprintf(want, sizeof want, "\nwriter=%s %ld ", host, (long)getpid());
  return strstr(text, want) != NULL;
}

int lock_beat(const char *results_path, LockBeat *b) {
  char path[4200], *text;
  results_sidecar(path, sizeof path, results_path, SIDE_LOCK);
  memset(b, 0, sizeof *b);
  ino_t ino;
  double age;
  struct stat st;
  if (read_lock(path, &text, &ino, &age) != 0) return 1;
  LockInfo li;
  parse_info(text, &li);
  b->ino = (unsigned long long)ino;
  b->heartbeat = li.heartbeat;
  b->listed = lists_me(text);
  b->abandoned = abandoned(text) != NULL;
  free(text);
  if (stat(path, &st) != 0 || st.st_ino != ino) return 1; /* replaced meanwhile: judged at the next look */
  b->mtime = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
  return 0;
}

int lock_abandon_listed(const char *results_path, const char *why, Err *e) {
  char path[4200], *text;
  ino_t ino;
  double age;
  results_sidecar(path, sizeof path, results_path, SIDE_LOCK);
  if (read_lock(path, &text, &ino, &age)) return 0; /* gone, or not one we could judge */
  int ours = lists_me(text) && !abandoned(text);
  free(text);
  if (!ours) return 0;
  WriterLock l = {.fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)};
  snprintf(l.path, sizeof l.path, "%s", path);
  struct stat st;
  if (l.fd < 0) return errf(e, "%s: cannot mark the lock abandoned: %s", path, strerror(errno));
  if (fstat(l.fd, &st) != 0 || st.st_ino != ino) { /* replaced since it was read */
    close(l.fd);
    return 0;
  }
  return lock_abandon(&l, why, e);
}
