/* What identifies the files a run was trained from: every file of the model directory that a
   run reads or could read (config.json, tokenizer_config.json, vocab.txt, the weights in any
   format, their shards and indexes), each by size and CRC-32 of its bytes. Stored in each
   run's config ("model_files"), so that a resume notices a replaced model.safetensors or an
   edited config.json (a changed effective configuration). */
#ifndef BS_MODELFILES_H
#define BS_MODELFILES_H
#include "src/err.h"

/* The longest fingerprint a run config holds (a model of a few hundred shards). */
#define MODEL_FILES_MAX 16384

/* A JSON object {"config.json": "571 1a2b3c4d", ...} (size in bytes, CRC-32 in hex) of dir's
   model files in name order, malloc'ed into *json. */
int model_fingerprint(const char *dir, char **json, Err *e);
/* 1 when a file of that name is part of the fingerprint. */
int model_file_counts(const char *name);

#endif
