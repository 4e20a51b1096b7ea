/* pytorch_model.bin (torch.save's zip container and its pickle, the state-dict subset only). */
#ifndef BS_TORCHBIN_H
#define BS_TORCHBIN_H
#include "io/safetensors.h"

/* Reads every tensor of the state dict into f (in memory, F32/F16/BF16, strides applied), as
   if it were a safetensors file. Refuses pickle opcodes and globals outside the subset that
   torch.save writes for a dict of float tensors, naming what it met. */
int torchbin_open(TensorFile *f, const char *path, Err *e);

#endif
