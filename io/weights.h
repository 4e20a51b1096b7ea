/* A checkpoint directory's weights, whatever the format: model.safetensors, pytorch_model.bin,
   or the shards that their *.index.json's weight_map names (each shard checked to hold the
   tensors the map gives it, shard paths kept inside the directory). */
#ifndef BS_WEIGHTS_H
#define BS_WEIGHTS_H
#include "io/safetensors.h"

typedef struct {
  char source[4200]; /* the file or the index, for messages */
  StFile *f;
  int n;
} StSet;

/* header_only: names, shapes and dtypes without the data (safetensors only; a .bin is read). */
int st_set_open(StSet *s, const char *dir, int header_only, Err *e);
void st_set_close(StSet *s);
/* The tensor and (file) the shard that holds it, or NULL. */
const StTensor *st_set_find(const StSet *s, const char *name, const StFile **file);
/* 1 when dir holds weights in a format st_set_open reads. */
int st_set_exists(const char *dir);

#endif
