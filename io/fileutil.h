/* Small checked file helpers. */
#ifndef BS_FILEUTIL_H
#define BS_FILEUTIL_H
#include <stddef.h>
#include "src/err.h"

/* Whole regular file into a NUL-terminated buffer (size: its bytes, may be NULL). */
char *read_file(const char *path, size_t *size, Err *e);
/* Splits size bytes of buf in place into lines ended by \n, \r\n or \r; a NUL byte is an
   error naming path and line. Returns the count or -1. */
int split_lines(char *buf, size_t size, const char *path, char ***lines, Err *e);
/* dir of path joined with rel, unless rel is absolute. */
void path_join_dir(char *out, size_t size, const char *path, const char *rel);
int path_exists(const char *path);
/* Parses a JSON file (a cJSON *); errors name the file and line. Text after the value and
   a key twice in one object are errors. */
void *read_json_file(const char *path, Err *e);
/* The same for len bytes of text from path, whose first line is line0 (for errors). */
void *json_parse_strict(const char *text, size_t len, const char *path, int line0, Err *e);
/* A key that appears twice in one object of a cJSON tree, or NULL. */
const char *json_duplicate_key(const void *node);
/* mkdir -p */
int mkdir_p(const char *dir, Err *e);
/* Writes data to a new temporary file beside path (mkstemp), syncs it and renames it over
   path, so a crash never leaves half a file and no link is followed. */
int write_file_atomic(const char *path, const void *data, size_t size, Err *e);

#endif
