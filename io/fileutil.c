#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"

static int not_regular(const char *path, const struct stat *st, Err *e) {
  return errf(e, "%s: %s", path,
              S_ISDIR(st->st_mode) ? "is a directory, not a file"
                                   : "not a regular file (a FIFO, socket or device): refused, it could block forever");
}

int open_regular(const char *path, int flags, unsigned mode, Err *e) {
  int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, (mode_t)mode);
  if (fd < 0) return errf(e, "%s: cannot open: %s", path, errno == ENXIO ? "not a regular file (a FIFO)" : strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int rc = fstat(fd, &st) != 0 ? errf(e, "%s: %s", path, strerror(errno)) : not_regular(path, &st, e);
    close(fd);
    return rc;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
    close(fd);
    return errf(e, "%s: %s", path, strerror(errno));
  }
  return fd;
}

FILE *fopen_regular(const char *path, Err *e) {
  int fd = open_regular(path, O_RDONLY, 0, e);
  FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
  if (fd >= 0 && !f) {
    errf(e, "%s: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

int follow_links(char *path, size_t size, Err *e) {
  int followed = 0;
  for (int depth = 0;; depth++) {
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) return followed;
    if (depth == 8) return errf(e, "%s: more than 8 symbolic links deep (a loop?)", path);
    char target[4096], joined[8192];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) return errf(e, "%s: cannot read the link: %s", path, strerror(errno));
    target[n] = 0;
    path_join_dir(joined, sizeof joined, path, target);
    if (strlen(joined) >= size) return errf(e, "%s: the path it links to is too long", path);
    snprintf(path, size, "%s", joined);
    followed = 1;
  }
}

int regular_or_absent(const char *path, Err *e) {
  struct stat st;
  if (stat(path, &st) != 0) return errno == ENOENT ? 0 : errf(e, "%s: %s", path, strerror(errno));
  return S_ISREG(st.st_mode) ? 0 : not_regular(path, &st, e);
}

char *read_file(const char *path, size_t *size, Err *e) {
  FILE *f = fopen_regular(path, e);
  if (!f) return NULL;
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    errf(e, "%s: %s", path, strerror(errno));
    fclose(f);
    return NULL;
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  if (!buf) { errf(e, "%s: out of memory reading %zu bytes", path, n); fclose(f); return NULL; }
  if (fread(buf, 1, n, f) != n) {
    errf(e, "%s: read error: %s", path, ferror(f) ? strerror(errno) : "the file shrank while being read");
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  buf[n] = 0;
  if (size) *size = n;
  return buf;
}

int split_lines(char *buf, size_t size, const char *path, char ***lines, Err *e) {
  int n = 0, cap = 1024, line = 1;
  char **v = malloc(sizeof(char *) * (size_t)cap);
  if (!v) return errf(e, "%s: out of memory splitting lines", path);
  char *start = buf;
  for (size_t i = 0; i <= size; i++) {
    char c = i < size ? buf[i] : 0;
    if (i < size && c == 0) {
      free(v);
      return errf(e, "%s:%d: contains a NUL byte (not a text file?)", path, line);
    }
    if (c != '\n' && c != '\r' && i < size) continue;
    if (i == size && start == buf + size) break; /* the file ends with a line end, or is empty */
    buf[i] = 0;
    if (n == cap) {
      cap *= 2;
      char **nv = realloc(v, sizeof(char *) * (size_t)cap);
      if (!nv) { free(v); return errf(e, "%s: out of memory splitting lines", path); }
      v = nv;
    }
    v[n++] = start;
    line++;
    if (c == '\r' && i + 1 < size && buf[i + 1] == '\n') i++; /* \r\n is one line end */
    start = buf + i + 1;
  }
  *lines = v;
  return n;
}

void path_join_dir(char *out, size_t size, const char *path, const char *rel) {
  if (rel[0] == '/') { snprintf(out, size, "%s", rel); return; }
  const char *slash = strrchr(path, '/');
  if (!slash) { snprintf(out, size, "%s", rel); return; }
  snprintf(out, size, "%.*s/%s", (int)(slash - path), path, rel);
}

int path_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, Err *e) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.XXXXXX", path); /* mkstemp: O_EXCL, never follows a link */
  int fd = mkstemp(tmp);
  if (fd < 0) return errf(e, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
  const char *p = data;
  size_t left = size;
  int bad = 0;
  while (left && !bad) {
    ssize_t k = write(fd, p, left);
    if (k < 0 && errno == EINTR) continue;
    bad = k <= 0;
    if (!bad) { p += k; left -= (size_t)k; }
  }
  int err = errno;
  bad = bad || fsync(fd) != 0 || fchmod(fd, 0644) != 0;
  if (!bad) err = errno;
  bad |= close(fd) != 0;
  if (bad) { unlink(tmp); return errf(e, "%s: write error: %s", tmp, strerror(err)); }
  if (rename(tmp, path) != 0) { err = errno; unlink(tmp); return errf(e, "%s: cannot rename into place: %s", path, strerror(err)); }
  return 0;
}

int mkdir_p(const char *dir, Err *e) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return errf(e, "%s: cannot create directory: %s", tmp, strerror(errno));
    *p = '/';
  }
  if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return errf(e, "%s: cannot create directory: %s", tmp, strerror(errno));
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Sorted keys side by side: n log n for an object of n keys (a config.json's id2label can hold
   100,000). An allocation failure counts as no duplicate: the caller's parse already succeeded. */
const char *json_duplicate_key(const void *node) {
  const cJSON *o = node;
  if (cJSON_IsObject(o)) {
    size_t n = 0, k = 0;
    for (const cJSON *a = o->child; a; a = a->next) n += a->string != NULL;
    const char **keys = n > 1 ? malloc(sizeof(char *) * n) : NULL;
    for (const cJSON *a = o->child; keys && a; a = a->next)
      if (a->string) keys[k++] = a->string;
    if (keys) qsort(keys, k, sizeof *keys, cmp_str);
    const char *dup = NULL;
    for (size_t i = 1; keys && i < k && !dup; i++)
      if (strcmp(keys[i - 1], keys[i]) == 0) dup = keys[i];
    free(keys);
    if (dup) return dup;
  }
  for (const cJSON *a = o ? o->child : NULL; a; a = a->next) {
    const char *inner = json_duplicate_key(a);
    if (inner) return inner;
  }
  return NULL;
}

void *json_parse_strict(const char *text, size_t len, const char *path, int line0, Err *e) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  const char *dup = root ? json_duplicate_key(root) : NULL;
  size_t at = end ? (size_t)(end - text) : 0;
  while (root && at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) at++;
  int line = line0;
  for (size_t i = 0; i < at && i < len; i++) line += text[i] == '\n';
  if (!root) errf(e, "%s:%d: invalid JSON", path, line);
  else if (at < len) errf(e, "%s:%d: text after the JSON value", path, line);
  else if (dup) errf(e, "%s:%d: key \"%s\" appears twice in one object", path, line0, dup);
  else return root;
  cJSON_Delete(root);
  return NULL;
}

void *read_json_file(const char *path, Err *e) {
  size_t n;
  char *text = read_file(path, &n, e);
  if (!text) return NULL;
  if (memchr(text, 0, n)) {
    free(text);
    errf(e, "%s: contains a NUL byte (not a JSON file?)", path);
    return NULL;
  }
  cJSON *root = json_parse_strict(text, n, path, 1, e);
  free(text);
  return root;
}

static int same_version(const struct stat *a, const struct stat *b) {
  return a->st_ino == b->st_ino && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
         a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
         a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int copy_all(int in, int out, off_t size) {
  off_t done = 0;
  while (done < size) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
      char buf[1 << 16]; /* no in-kernel copy here: read and write */
      ssize_t r = pread(in, buf, sizeof buf, done);
      n = r > 0 && write(out, buf, (size_t)r) == r ? r : -1;
      if (r == 0) errno = EIO;
    }
    if (n <= 0) return -1;
    done += n;
  }
  return 0;
}

static int fence_once(const char *path, Err *e);

int file_fence(const char *path, Err *e) {
  int rc = 1;
  for (int attempt = 0; attempt < 5 && rc == 1; attempt++) { /* a copy raced a last write: again */
    if (attempt) usleep(200000);
    rc = fence_once(path, e);
  }
  return rc ? -1 : 0;
}

/* 0 done, 1 the file changed during the copy, -1 an error. */
static int fence_once(const char *path, Err *e) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.fence-%ld", path, (long)getpid());
  struct stat before, after;
  int in = open_regular(path, O_RDONLY, 0, e);
  if (in < 0) return -1;
  if (fstat(in, &before) != 0) {
    close(in);
    return errf(e, "%s: %s", path, strerror(errno));
  }
  int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, before.st_mode & 07777);
  if (out < 0) {
    close(in);
    return errf(e, "%s: cannot create: %s", tmp, strerror(errno));
  }
  int bad = copy_all(in, out, before.st_size) || fsync(out) != 0;
  int err = errno;
  bad |= close(out) != 0;
  int changed = !bad && (stat(path, &after) != 0 || !same_version(&before, &after));
  close(in);
  if (bad || changed || rename(tmp, path) != 0) {
    if (!bad && !changed) err = errno;
    unlink(tmp);
    if (changed) {
      errf(e, "%s: changed while being fenced: a process of the sweep it was taken over from is still writing "
              "it; stop that sweep (every host it ran on) and run the same command again", path);
      return 1;
    }
    return errf(e, "%s: cannot fence the file (copy to %s): %s", path, tmp, strerror(err));
  }
  return 0;
}

double json_float(float f) {
  char s[32];
  for (int digits = 6; digits <= 9; digits++) {
    snprintf(s, sizeof s, "%.*g", digits, (double)f);
    if (strtof(s, NULL) == f) break;
  }
  return strtod(s, NULL);
}
