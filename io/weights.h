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
/* The model file formats (io/weights.c's FORMATS table: how each is found, opened, listed). */
typedef enum { MF_SAFETENSORS, MF_TORCHBIN, MF_TENSORFLOW, NMODEL_FORMATS } ModelFormat;
/* The format of dir's weights, its file (or index) into path, whether it is sharded; -1: none. */
int model_format_detect(const char *dir, char *path, size_t size, int *sharded);
const char *model_format_name(ModelFormat f);
/* "model.safetensors (or its *.index.json), ... or a TensorFlow *.index": what is looked for. */
void model_formats_list(char *out, size_t size);
/* The error for a directory without weights, naming every format looked for; returns -1. */
int model_format_none(const char *dir, Err *e);

#endif
