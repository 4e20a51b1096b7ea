/* Small checked file helpers. */
#ifndef BS_FILEUTIL_H
#define BS_FILEUTIL_H
#include <stddef.h>
#include "src/err.h"

/* Whole file into a NUL-terminated buffer. */
char *read_file(const char *path, size_t *size, Err *e);
/* Splits buf in place into lines (strips \r\n); returns the count or -1. */
int split_lines(char *buf, char ***lines, Err *e);
/* dir of path joined with rel, unless rel is absolute. */
void path_join_dir(char *out, size_t size, const char *path, const char *rel);
int path_exists(const char *path);
/* Parses a JSON file (a cJSON *); errors name the file and line. */
void *read_json_file(const char *path, Err *e);
/* mkdir -p */
int mkdir_p(const char *dir, Err *e);
/* Writes data to path via path.tmp + rename so a crash never leaves half a file. */
int write_file_atomic(const char *path, const void *data, size_t size, Err *e);

#endif
