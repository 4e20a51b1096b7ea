/* A checkpoint directory's weights, whatever the format: model.safetensors, pytorch_model.bin,
   a TensorFlow 1.x checkpoint (NAME.index + data shards), or the shards that their *.index.json's weight_map names (each shard checked to hold the
   tensors the map gives it, shard paths kept inside the directory). */
#ifndef BS_WEIGHTS_H
#define BS_WEIGHTS_H
#include "io/safetensors.h"

typedef struct {
  char source[4200]; /* the file or the index, for messages */
  TensorFile *f;
  int n;
} TensorSet;

/* header_only: names, shapes and dtypes without the data (safetensors only; a .bin is read). */
int tensor_set_open(TensorSet *s, const char *dir, int header_only, Err *e);
void tensor_set_close(TensorSet *s);
/* The tensor and (file) the shard that holds it, or NULL. */
const TensorEntry *tensor_set_find(const TensorSet *s, const char *name, const TensorFile **file);
/* The TF index in dir (bert_model.ckpt.index, else the first *.index) into out; 0 when none. */
int tensor_find_tf_index(const char *dir, char *out, size_t size);
/* 1 when dir holds HF-format weights (safetensors or .bin, whole or sharded). */
int tensor_set_exists(const char *dir);

#endif
