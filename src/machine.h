/* What a run ran on, for the results file's provenance columns: host, CPU model, and the
   BLAS library with the kernel it chose (OpenBLAS picks one per CPU at start-up, or takes
   OPENBLAS_CORETYPE). */
#ifndef BS_MACHINE_H
#define BS_MACHINE_H
#include <stddef.h>

typedef struct {
  char host[64], cpu[64], blas[64];
} MachineInfo;

void machine_describe(MachineInfo *m);
/* The CPU and BLAS names with '_' for ' ', for key=value output (the benchmarks). */
void machine_one_word(MachineInfo *m);
/* The physical cores among the CPUs this process may run on (hyperthreads of one core count
   once: /sys's core and package ids), and *logical the CPUs themselves. */
int machine_cores(int *logical);
/* Bytes of memory this process's ranks may use on this node: MemAvailable, or the cgroup's
   memory.max when lower (a Slurm job's share); 0 when unknown. */
double machine_memory(void);
/* When OpenBLAS runs an old kernel on a CPU with AVX2 or AVX-512, writes advice (which
   OPENBLAS_CORETYPE to set) into out and returns 1; else 0. */
int machine_blas_advice(char *out, size_t size);

#endif
