#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "src/machine.h"

char *openblas_get_corename(void);
char *openblas_get_config(void);

static void cpu_model(char *out, size_t size) {
  snprintf(out, size, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    const char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || !colon) continue;
    colon += 1 + (colon[1] == ' ');
    snprintf(out, size, "%.*s", (int)strcspn(colon, "\n"), colon);
    break;
  }
  fclose(f);
}

void machine_describe(MachineInfo *m) {
  memset(m, 0, sizeof *m);
  if (gethostname(m->host, sizeof m->host - 1) != 0) snprintf(m->host, sizeof m->host, "unknown");
  cpu_model(m->cpu, sizeof m->cpu);
  const char *config = openblas_get_config(), *core = openblas_get_corename();
  char version[32] = "";
  if (config) sscanf(config, "OpenBLAS %31s", version); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
  snprintf(m->blas, sizeof m->blas, "OpenBLAS %s %s", version, core ? core : "?");
}
