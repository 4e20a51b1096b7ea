#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "io/fileutil.h"

char *read_file(const char *path, size_t *size, Err *e) {
  FILE *f = fopen(path, "rb");
  if (!f) { errf(e, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
  char *buf = NULL;
  if (fseek(f, 0, SEEK_END) != 0) goto ioerr;
  long n = ftell(f);
  if (n < 0 || fseek(f, 0, SEEK_SET) != 0) goto ioerr;
  buf = malloc((size_t)n + 1);
  if (!buf) { errf(e, "%s: out of memory reading %ld bytes", path, n); fclose(f); return NULL; }
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) goto ioerr;
  fclose(f);
  buf[n] = 0;
  if (size) *size = (size_t)n;
  return buf;
ioerr:
  errf(e, "%s: read error: %s", path, strerror(errno));
  free(buf);
  fclose(f);
  return NULL;
}

int split_lines(char *buf, char ***lines, Err *e) {
  int n = 0, cap = 1024;
  char **v = malloc(sizeof(char *) * (size_t)cap);
  if (!v) return errf(e, "out of memory splitting lines");
  for (char *p = buf; *p;) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    size_t len = strlen(p);
    if (len && p[len - 1] == '\r') p[len - 1] = 0;
    if (n == cap) {
      cap *= 2;
      char **nv = realloc(v, sizeof(char *) * (size_t)cap);
      if (!nv) { free(v); return errf(e, "out of memory splitting lines"); }
      v = nv;
    }
    v[n++] = p;
    if (!nl) break;
    p = nl + 1;
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
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return errf(e, "%s: cannot create: %s", tmp, strerror(errno));
  int bad = fwrite(data, 1, size, f) != size;
  bad |= fclose(f) != 0;
  if (bad) { remove(tmp); return errf(e, "%s: write error: %s", tmp, strerror(errno)); }
  if (rename(tmp, path) != 0) { remove(tmp); return errf(e, "%s: cannot rename into place: %s", path, strerror(errno)); }
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

void *read_json_file(const char *path, Err *e) {
  char *text = read_file(path, NULL, e);
  if (!text) return NULL;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
  if (!root) {
    int line = 1;
    for (const char *p = text; end && p < end; p++) line += *p == '\n';
    errf(e, "%s:%d: invalid JSON", path, line);
  }
  free(text);
  return root;
}
