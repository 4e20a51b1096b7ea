/* safetensors: u64 little-endian header length, JSON header, raw tensor bytes.
   Reading validates every offset and size against the file before use. */
#ifndef BS_SAFETENSORS_H
#define BS_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "src/err.h"

enum { ST_F32 = 0, ST_F16 = 1, ST_BF16 = 2, ST_OTHER = 3 };

typedef struct {
  char name[256];
  int dtype, ndim;
  int64_t shape[8];
  size_t begin, end; /* relative to the data section */
} StTensor;

typedef struct {
  char path[4096];
  unsigned char *buf;
  size_t size, data_off;
  StTensor *t;
  int n;
} StFile;

int st_open(StFile *f, const char *path, Err *e);
/* The header only (names, dtypes, shapes, offsets checked against the file size): no data read. */
int st_list(StFile *f, const char *path, Err *e);
void st_close(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
size_t st_numel(const StTensor *t);
/* Converts to float32 into dst (numel floats). */
void st_read_f32(const StFile *f, const StTensor *t, float *dst);

typedef struct {
  const char *name;
  const float *data;
  int ndim;
  int64_t shape[4];
} StOut;
/* Writes F32 tensors (atomically: path.tmp then rename). */
int st_write_f32(const char *path, const StOut *ts, int n, Err *e);

#endif
