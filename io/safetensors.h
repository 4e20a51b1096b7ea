/* The tensors of one checkpoint file in memory (TensorFile), whatever its format: safetensors
   here (u64 little-endian header length, JSON header, raw tensor bytes; every offset and size
   validated against the file before use), pytorch_model.bin (io/torchbin.h) and TF bundles
   (io/tfbundle.h) read into the same structure; io/weights.h gathers a directory's files. */
#ifndef BS_SAFETENSORS_H
#define BS_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "src/err.h"

/* A tensor's element type as stored. */
enum { TENSOR_F32 = 0, TENSOR_F16 = 1, TENSOR_BF16 = 2, TENSOR_OTHER = 3 };

typedef struct {
  char name[256];
  int dtype, ndim;
  int64_t shape[8];
  size_t begin, end; /* relative to the data section */
} TensorEntry;

typedef struct {
  char path[4096];
  unsigned char *buf;
  size_t size, data_off;
  TensorEntry *t;
  int n;
} TensorFile;

/* The element count and byte size of a tensor of shape[0..ndim) with esize-byte elements,
   refused (-1) when ndim is outside [0, 8], a dimension is negative, or a product overflows:
   the one size computation every reader of a file someone else wrote goes through. */
int tensor_size(const int64_t *shape, int64_t ndim, size_t esize, size_t *numel, size_t *bytes);
/* The farthest storage element a strided view reaches (offset + sum (size_j - 1) stride_j),
   refused (-1) for a negative offset or stride or an overflow; *last = -1 for an empty view. */
int tensor_view_last(int64_t offset, const int64_t *size, const int64_t *stride, int64_t ndim, int64_t *last);

int st_open(TensorFile *f, const char *path, Err *e);
/* The header only (names, dtypes, shapes, offsets checked against the file size): no data read. */
int st_list(TensorFile *f, const char *path, Err *e);
void st_close(TensorFile *f);
const TensorEntry *st_find(const TensorFile *f, const char *name);
size_t st_numel(const TensorEntry *t);
/* Converts to float32 into dst (numel floats). */
void st_read_f32(const TensorFile *f, const TensorEntry *t, float *dst);

typedef struct {
  const char *name;
  const float *data;
  int ndim;
  int64_t shape[4];
} StOut;
/* Writes F32 tensors (atomically: path.tmp then rename). */
int st_write_f32(const char *path, const StOut *ts, int n, Err *e);

#endif
