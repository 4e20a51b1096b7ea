#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "io/calibration.h"
#include "io/fileutil.h"

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

void calibration_key(const MachineInfo *m, int threads, const BertConfig *b, const RunConfig *c, char *out,
                     size_t size) {
  snprintf(out, size, "%s | %s | %d threads | L%d H%d A%d I%d V%d labels %d | batch %d seq %d | %s %s %d", m->cpu,
           m->blas, threads, b->layers, b->hidden, b->heads, b->intermediate, b->vocab_size, b->num_labels, c->batch_size,
           c->max_seq_length, base_name(c->train), base_name(c->dev), c->dev_size);
}

int calibration_path(char *out, size_t size, Err *e) {
  const char *env = getenv("BERTSWEEP_CALIBRATION"), *home = getenv("HOME");
  if (env && env[0]) snprintf(out, size, "%s", env);
  else if (home && home[0]) snprintf(out, size, "%s/.cache/bertsweep/calibration.json", home);
  else return errf(e, "no calibration file: set BERTSWEEP_CALIBRATION or HOME");
  return 0;
}

/* The file's JSON object (an empty one when the file does not exist); NULL on damage. */
static cJSON *load_all(const char *path, Err *e) {
  if (!path_exists(path)) return cJSON_CreateObject();
  cJSON *root = read_json_file(path, e);
  if (root && !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    errf(e, "%s: not a JSON object", path);
    return NULL;
  }
  return root;
}

void *calibration_open(Err *e) {
  char path[4096];
  if (calibration_path(path, sizeof path, e)) return cJSON_CreateObject(); /* no file: nothing calibrated */
  cJSON *root = load_all(path, e);
  if (!root) errctx(e, "calibration");
  return root;
}

void calibration_close(void *all) { cJSON_Delete(all); }

int calibration_find(const void *all, const char *key, Calibration *c) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(all, key);
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "step_seconds"),
              *ev = cJSON_GetObjectItemCaseSensitive(it, "eval_seconds"),
              *n = cJSON_GetObjectItemCaseSensitive(it, "steps_timed"),
              *h = cJSON_GetObjectItemCaseSensitive(it, "host"), *d = cJSON_GetObjectItemCaseSensitive(it, "measured");
  int found = cJSON_IsNumber(st) && cJSON_IsNumber(ev) && st->valuedouble > 0 && ev->valuedouble >= 0;
  if (found) {
    memset(c, 0, sizeof *c);
    c->step_s = st->valuedouble;
    c->eval_s = ev->valuedouble;
    c->steps_timed = cJSON_IsNumber(n) ? n->valueint : 0;
    snprintf(c->host, sizeof c->host, "%s", cJSON_IsString(h) ? h->valuestring : "?");
    snprintf(c->measured, sizeof c->measured, "%s", cJSON_IsString(d) ? d->valuestring : "?");
  }
  return found;
}

/* `bertsweep bench` often runs on every node of an allocation at once, and each store is a
   read-modify-write of one file: without a lock, the last rename wins and the others' entries
   are lost. The store holds an exclusive flock on PATH.lock (kept, empty) while it reads,
   adds and writes; it waits at most LOCK_WAIT_S for another store (seconds long at most), so
   a process stuck holding the lock gives an error naming it, not a hang. Returns the lock's
   descriptor, or -1 with e set. */
enum { LOCK_WAIT_S = 60 };

static int lock_store(const char *path, Err *e) {
  char lp[4200];
  snprintf(lp, sizeof lp, "%s.lock", path);
  int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errf(e, "%s: cannot open: %s", lp, strerror(errno));
  for (int waited_ms = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited_ms += 50) {
    const int err = errno;
    if ((err != EWOULDBLOCK && err != EINTR) || waited_ms >= LOCK_WAIT_S * 1000) {
      close(fd);
      return errf(e, "%s: cannot lock%s: %s", lp, err == EWOULDBLOCK ? " (held by another process for a minute)" : "",
                  strerror(err));
    }
    usleep(50000);
  }
  return fd;
}

static int store_locked(const char *path, const char *key, const Calibration *c, Err *e) {
  cJSON *root = load_all(path, e), *it = cJSON_CreateObject();
  if (!root || !it) {
    cJSON_Delete(root);
    cJSON_Delete(it);
    return errctx(e, "calibration");
  }
  cJSON_AddNumberToObject(it, "step_seconds", c->step_s);
  cJSON_AddNumberToObject(it, "eval_seconds", c->eval_s);
  cJSON_AddNumberToObject(it, "steps_timed", c->steps_timed);
  cJSON_AddStringToObject(it, "host", c->host);
  cJSON_AddStringToObject(it, "measured", c->measured);
  cJSON_DeleteItemFromObjectCaseSensitive(root, key);
  cJSON_AddItemToObject(root, key, it);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return errf(e, "%s: out of memory", path);
  int rc = write_file_atomic(path, text, strlen(text), e);
  cJSON_free(text);
  return rc;
}

int calibration_store(const char *key, const Calibration *c, Err *e) {
  char path[4096], dir[4096];
  if (calibration_path(path, sizeof path, e)) return -1;
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    if (mkdir_p(dir, e)) return -1;
  }
  int fd = lock_store(path, e);
  if (fd < 0) return -1;
  int rc = store_locked(path, key, c, e);
  close(fd); /* releases the lock */
  return rc;
}
