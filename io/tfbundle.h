/* TensorFlow 1.x checkpoints (tensor bundles): NAME.index is a LevelDB-format table (blocks of
   prefix-compressed keys, a block index, a footer with the table magic) mapping each variable
   name to a BundleEntryProto (dtype, shape, shard, offset, size, crc32c of the bytes); the
   key "" holds the BundleHeaderProto. This reads the index only, verifying every block's
   masked CRC-32C, so that a checkpoint can be listed without its (large) data files. */
#ifndef BS_TFBUNDLE_H
#define BS_TFBUNDLE_H
#include <stddef.h>
#include <stdint.h>
#include "io/safetensors.h"
#include "src/err.h"

typedef struct {
  char name[256];
  int dtype;        /* TensorFlow DataType: 1 float32, 2 float64, 3 int32, 9 int64, 14 bfloat16, 19 float16 */
  int ndim;
  int64_t shape[8];
  int shard;
  int64_t offset, size;
  uint32_t crc32c;  /* of the tensor's bytes in its shard (masked, as TF stores it) */
} TfTensor;

typedef struct {
  int num_shards;
  int n;
  TfTensor *t;      /* in key order */
} TfIndex;

int tfb_read_index(TfIndex *x, const char *path, Err *e);
void tfb_free(TfIndex *x);
const char *tfb_dtype_name(int dtype);

/* The tensors of a BertModel (+ classifier) from NAME.index and its data shards
   NAME.data-0000S-of-0000N, under HF's names: kernels transposed, LayerNorm gamma/beta as
   weight/bias, output_weights/output_bias as the classifier; the cls heads, optimizer slots and
   non-float variables left out. Every tensor's CRC-32C is checked. */
int tfb_load(TensorFile *f, const char *index_path, Err *e);

/* CRC-32C (Castagnoli), and TF/LevelDB's masking of stored CRCs. */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);
uint32_t crc32c_mask(uint32_t crc);

#endif
