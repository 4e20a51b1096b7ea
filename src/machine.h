/* What a run ran on, for the results file's provenance columns: host, CPU model, and the
   BLAS library with the kernel it chose (OpenBLAS picks one per CPU at start-up, or takes
   OPENBLAS_CORETYPE). */
#ifndef BS_MACHINE_H
#define BS_MACHINE_H

typedef struct {
  char host[64], cpu[64], blas[64];
} MachineInfo;

void machine_describe(MachineInfo *m);

#endif
