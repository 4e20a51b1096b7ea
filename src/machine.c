#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
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

/* 1 when /proc/cpuinfo's flags line lists flag. */
static int cpu_has(const char *flag) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return 0;
  char line[8192];
  int has = 0;
  size_t n = strlen(flag);
  while (!has && fgets(line, sizeof line, f)) {
    if (strncmp(line, "flags", 5) != 0) continue;
    for (const char *p = strstr(line, flag); p && !has; p = strstr(p + 1, flag))
      has = (p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0');
    break;
  }
  fclose(f);
  return has;
}

/* OpenBLAS picks its kernel from CPUID; some virtual machines report a CPU family it does not
   know, and it falls back to Prescott (SSE3) on CPUs with AVX-512. Measured on a 16-core Xeon
   VM: a BERT-base step 4.88 s with Prescott, 1.78 s with OPENBLAS_CORETYPE=SkylakeX. */
int machine_blas_advice(char *out, size_t size) {
  const char *core = openblas_get_corename();
  static const char *OLD[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                              "Coppermine", "Northwood", "Banias", "Athlon", "Opteron", "Barcelona"};
  int old = 0;
  for (size_t i = 0; core && i < sizeof OLD / sizeof OLD[0]; i++) old |= !strcasecmp(core, OLD[i]);
  const char *better = !old ? NULL : cpu_has("avx512f") && cpu_has("avx512vl") ? "SkylakeX"
                     : cpu_has("avx2") && cpu_has("fma") ? "Haswell" : NULL;
  if (!better) return 0;
  snprintf(out, size,
           "OpenBLAS chose its %s kernel, but this CPU has %s: GEMMs run 2-3x slower than they could. "
           "Set OPENBLAS_CORETYPE=%s (runs then differ from this kernel's in the last bits; keep it the "
           "same for a whole sweep)",
           core, strcmp(better, "SkylakeX") ? "AVX2" : "AVX-512", better);
  return 1;
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

void machine_one_word(MachineInfo *m) {
  for (char *q = m->cpu; *q; q++) *q = *q == ' ' ? '_' : *q;
  for (char *q = m->blas; *q; q++) *q = *q == ' ' ? '_' : *q;
}

static int topology(int cpu, const char *what) {
  char path[128];
  snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, what);
  FILE *f = fopen(path, "r");
  int v = -1;
  if (f) {
    if (fscanf(f, "%d", &v) != 1) v = -1;
    fclose(f);
  }
  return v;
}

int machine_cores(int *logical) {
  cpu_set_t set;
  int n = 0, cores = 0;
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    *logical = n > 0 ? n : 1;
    return *logical;
  }
  int seen_pkg[CPU_SETSIZE], seen_core[CPU_SETSIZE]; /* 8 kB */
  int nseen = 0;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &set)) continue;
    n++;
    int pkg = topology(c, "physical_package_id"), core = topology(c, "core_id"), dup = 0;
    for (int k = 0; k < nseen && !dup; k++) dup = pkg >= 0 && core >= 0 && seen_pkg[k] == pkg && seen_core[k] == core;
    if (dup) continue;
    cores++;
    seen_pkg[nseen] = pkg;
    seen_core[nseen++] = core;
  }
  *logical = n > 0 ? n : 1;
  return cores > 0 ? cores : *logical;
}

/* The smallest limit file under root along rel and each of its ancestors (Slurm sets a job's
   limit on the job's or step's cgroup and runs tasks in a child without one); 0: none. */
static double limit_along(const char *root, const char *rel, const char *file) {
  char dir[4096], path[4400];
  snprintf(dir, sizeof dir, "%s", rel);
  double limit = 0;
  for (;;) {
    snprintf(path, sizeof path, "%s%s/%s", root, dir, file);
    FILE *m = fopen(path, "r");
    double v = 0;
    if (m && fscanf(m, "%lf", &v) == 1 && v > 0 && (limit == 0 || v < limit)) limit = v; /* "max": none */
    if (m) fclose(m);
    char *slash = strrchr(dir, '/');
    if (!slash || dir[0] == 0) break;
    *slash = 0; /* "/a/b" -> "/a" -> "" (the root) */
  }
  return limit;
}

/* The memory limit of this process's cgroup or an ancestor's (bytes; v2 memory.max or v1
   memory.limit_in_bytes, as a Slurm job's share), 0 when none or unknown. */
static double cgroup_limit(void) {
  FILE *f = fopen("/proc/self/cgroup", "r");
  char line[4096];
  double limit = 0;
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    const char *v1 = strstr(line, ":memory:");
    double v = strncmp(line, "0::", 3) == 0 ? limit_along("/sys/fs/cgroup", line + 3, "memory.max")
               : v1                         ? limit_along("/sys/fs/cgroup/memory", v1 + 8, "memory.limit_in_bytes")
                                            : 0;
    if (v > 0 && (limit == 0 || v < limit)) limit = v;
  }
  if (f) fclose(f);
  return limit;
}

double machine_memory(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  double kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
  if (f) fclose(f);
  double avail = kb * 1024, cg = cgroup_limit();
  return cg > 0 && (avail <= 0 || cg < avail) ? cg : avail;
}
