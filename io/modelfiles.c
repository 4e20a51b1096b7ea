#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cjson/cJSON.h>
#include "io/modelfiles.h"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int model_file_counts(const char *name) {
  static const char *const SUFFIX[] = {".json", ".txt", ".safetensors", ".bin", ".index", ".model"};
  if (name[0] == '.') return 0;
  for (size_t i = 0; i < sizeof SUFFIX / sizeof *SUFFIX; i++)
    if (ends_with(name, SUFFIX[i])) return 1;
  return strstr(name, ".data-") != NULL; /* TensorFlow's shards: NAME.data-00000-of-00001 */
}

/* Size and CRC-32 of a file's bytes. */
static int file_crc(const char *path, long long *size, unsigned long *crc, Err *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errf(e, "%s: cannot read: %s", path, strerror(errno));
  enum { CHUNK = 1 << 20 };
  unsigned char *buf = malloc(CHUNK);
  if (!buf) {
    close(fd);
    return errf(e, "out of memory");
  }
  *crc = crc32(0L, Z_NULL, 0);
  *size = 0;
  ssize_t got;
  while ((got = read(fd, buf, CHUNK)) > 0) {
    *crc = crc32(*crc, buf, (uInt)got);
    *size += got;
  }
  int err = got < 0 ? errno : 0;
  free(buf);
  close(fd);
  return err ? errf(e, "%s: reading failed: %s", path, strerror(err)) : 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int model_fingerprint(const char *dir, char **json, Err *e) {
  *json = NULL;
  DIR *d = opendir(dir);
  if (!d) return errf(e, "%s: cannot list the model directory: %s", dir, strerror(errno));
  char **names = NULL;
  int n = 0, cap = 0, rc = 0;
  for (struct dirent *ent; !rc && (ent = readdir(d));) {
    if (!model_file_counts(ent->d_name)) continue;
    if (n == cap) {
      char **grown = realloc(names, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 16));
      if (!grown) { rc = errf(e, "out of memory"); break; }
      names = grown;
    }
    if (!(names[n] = strdup(ent->d_name))) rc = errf(e, "out of memory");
    else n++;
  }
  closedir(d);
  if (!rc) qsort(names, (size_t)n, sizeof *names, cmp_name);
  cJSON *obj = rc ? NULL : cJSON_CreateObject();
  if (!rc && !obj) rc = errf(e, "out of memory");
  for (int i = 0; !rc && i < n; i++) {
    char path[8192], val[64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue; /* a folder named x.json: not a file a run reads */
    long long size = 0;
    unsigned long crc = 0;
    if (file_crc(path, &size, &crc, e)) { rc = -1; break; }
    snprintf(val, sizeof val, "%lld %08lx", size, crc);
    if (!cJSON_AddStringToObject(obj, names[i], val)) rc = errf(e, "out of memory");
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  if (!rc && !(*json = cJSON_PrintUnformatted(obj))) rc = errf(e, "out of memory");
  cJSON_Delete(obj);
  return rc;
}
