/* Small checked file helpers. */
#ifndef BS_FILEUTIL_H
#define BS_FILEUTIL_H
#include <stddef.h>
#include <stdio.h>
#include "src/err.h"

/* Opens path (open(2) flags and mode) without ever blocking on a FIFO or a device: anything
   but a regular file (after symlinks) is refused with a message naming it. The fd, or -1. */
int open_regular(const char *path, int flags, unsigned mode, Err *e);
/* fopen for reading ("r"/"rb") through open_regular. */
FILE *fopen_regular(const char *path, Err *e);
/* 0 when path is a regular file or does not exist; otherwise -1 with a message (a FIFO, a
   directory or a device given as a results file or lock would block or fail later). */
int regular_or_absent(const char *path, Err *e);
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
/* The shortest decimal that reads back as f (0.1, not 0.10000000149011612), for JSON. */
double json_float(float f);
/* The same for len bytes of text from path, whose first line is line0 (for errors). */
void *json_parse_strict(const char *text, size_t len, const char *path, int line0, Err *e);
/* A key that appears twice in one object of a cJSON tree, or NULL. */
const char *json_duplicate_key(const void *node);
/* When path is a symbolic link (to scratch space, as clusters set up), replaces it with the
   path it names, followed up to 8 links deep, even when that file does not exist yet:
   files written whole are renamed into place, which would replace the link itself. Returns 1
   when it followed a link, 0 when path is no link, -1 (e set) for a loop or a name too long. */
int follow_links(char *path, size_t size, Err *e);
/* mkdir -p */
int mkdir_p(const char *dir, Err *e);
/* Writes data to a new temporary file beside path (mkstemp), syncs it and renames it over
   path, so a crash never leaves half a file and no link is followed. */
int write_file_atomic(const char *path, const void *data, size_t size, Err *e);
/* Replaces path by a copy of itself (copy_file_range: a reflink or a server-side copy where
   the file system offers one), synced and renamed into place: a process that still holds the
   old file open writes into the unlinked original from then on, never into path. Refused
   when the file changes during the copy (its old writer is alive after all). */
int file_fence(const char *path, Err *e);

#endif
