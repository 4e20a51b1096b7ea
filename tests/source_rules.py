#!/usr/bin/python3
"""Rules of the source tree that a reviewer would otherwise check by hand:

- run status names appear as string literals only in their one table (RUN_STATUS_NAME in
  io/results_schema.c): every other place derives them from it;
- nothing the program ships (C sources, scripts, docs, README, configs) refers to files
  outside the repository (the project's shared/ folder is not part of a clone);
- each `bertsweep` subcommand lives in cli/cmd_NAME.c;
- the README's copy of configs/demo.json is that file (same keys and values);
- the README is a front door (under 300 lines), and every link of the README and docs/ to a
  file of the tree resolves;
- every key of io/runconfig.c's key table is documented in docs/config.md;
- slurm/exit-codes.sh is what scripts/gen_exit_codes.py makes of src/err.h, and the Slurm
  wrapper names exit codes only through it;
- <mpi.h> is included only by io/results_mpi.h (the collective open) and mpi/ (parallel HDF5's
  own headers include it too: that is the library's, not ours);
- no C function is over 100 lines (the pickle interpreter's one dispatch loop excepted), and
  report/report.c stays under 300 lines.

usage: source_rules.py SOURCE_DIR
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done  # noqa: E402

ROOT = sys.argv[1]
STATUS = re.compile(r'"(pending|running|stopped|done|failed|diverged)"')
found = []
for folder in ("src", "io", "jobs", "sweep", "mpi", "report", "cli", "bench"):
    for name in sorted(os.listdir(os.path.join(ROOT, folder))):
        if not name.endswith((".c", ".h")):
            continue
        path = os.path.join(folder, name)
        for n, line in enumerate(open(os.path.join(ROOT, path), encoding="utf-8"), 1):
            if STATUS.search(line):
                found.append(f"{path}:{n}: {line.strip()}")
table = [f for f in found if f.startswith("io/results_schema.c:")]
check(len(table) >= 1 and table == found, "status names outside their table:\n  " + "\n  ".join(
    f for f in found if f not in table))

outside = []
for top, dirs, files in os.walk(ROOT):
    rel = os.path.relpath(top, ROOT)
    if rel.startswith(("build", ".git", "tests", "results", "data")) or "/." in "/" + rel:
        dirs[:] = []
        continue
    for name in files:
        if not name.endswith((".c", ".h", ".py", ".sh", ".md", ".json", ".sbatch", ".txt")):
            continue
        path = os.path.join(top, name)
        for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            if re.search(r"(\.\./)?shared/(DESIGN|reference|repro|fixtures)", line):
                outside.append(f"{os.path.relpath(path, ROOT)}:{n}")
check(not outside, f"references to files outside the repository: {outside}")

main = open(os.path.join(ROOT, "cli", "main.c"), encoding="utf-8").read()
commands = re.findall(r'\{"([a-z]+)", cmd_([a-z]+),', main)
check(len(commands) >= 10 and all(a == b for a, b in commands), f"cli/main.c's COMMANDS rows: {commands}")
for cmd, _ in commands:
    src = os.path.join(ROOT, "cli", f"cmd_{cmd}.c")
    check(os.path.exists(src) and f"int cmd_{cmd}(" in open(src, encoding="utf-8").read(),
          f"`bertsweep {cmd}` is not in cli/cmd_{cmd}.c")
import json  # noqa: E402
readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
m = re.search(r"`configs/demo.json`:\n\n```json\n(.*?)```", readme, re.S)
check(m and json.loads(m.group(1)) == json.load(open(os.path.join(ROOT, "configs", "demo.json"))),
      "the README's copy of configs/demo.json differs from the file")

lines = readme.count("\n")
check(lines < 300, f"the README has {lines} lines: the reference belongs in docs/")
broken = []
for page in ["README.md"] + [os.path.join("docs", n) for n in sorted(os.listdir(os.path.join(ROOT, "docs"))) if n.endswith(".md")]:
    text = open(os.path.join(ROOT, page), encoding="utf-8").read()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        if not os.path.exists(os.path.normpath(os.path.join(ROOT, os.path.dirname(page), target))):
            broken.append(f"{page}: {target}")
check(not broken, f"links to files that do not exist: {broken}")

keys = re.findall(r'\{"([a-z_]+)\.([a-z_0-9]+)", K_', open(os.path.join(ROOT, "io", "runconfig.c"), encoding="utf-8").read())
config_doc = open(os.path.join(ROOT, "docs", "config.md"), encoding="utf-8").read()
undocumented = [f"{a}.{b}" for a, b in keys if f"`{a}.{b}`" not in config_doc and f"`{b}`" not in config_doc]
check(len(keys) > 30 and not undocumented, f"config keys not in docs/config.md: {undocumented} ({len(keys)} keys read)")

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import gen_exit_codes  # noqa: E402
codes = os.path.join(ROOT, "slurm", "exit-codes.sh")
check(os.path.exists(codes) and open(codes, encoding="utf-8").read() == gen_exit_codes.shell_text(ROOT),
      "slurm/exit-codes.sh differs from src/err.h: run scripts/gen_exit_codes.py")
wrapper = open(os.path.join(ROOT, "slurm", "run-sweep.sh"), encoding="utf-8").read()
bare = [ln.strip() for ln in wrapper.split("\n") if not ln.lstrip().startswith("#") and
        re.search(r"(rc=|^\s*)[1-7]\)|rc=[1-7]\b", ln)]
check(not bare, f"exit codes written as numbers in slurm/run-sweep.sh: {bare}")

mpi_includes = []
for folder in ("src", "io", "jobs", "sweep", "mpi", "report", "cli", "bench"):
    for name in sorted(os.listdir(os.path.join(ROOT, folder))):
        if name.endswith((".c", ".h")) and "#include <mpi.h>" in open(os.path.join(ROOT, folder, name), encoding="utf-8").read():
            mpi_includes.append(f"{folder}/{name}")
check(mpi_includes and all(p == "io/results_mpi.h" or p.startswith("mpi/") for p in mpi_includes),
      f"<mpi.h> included outside io/results_mpi.h and mpi/: {mpi_includes}")

LONG_OK = {("io/torchbin.c", "run")}  # the pickle VM: one loop over opcodes
long_functions = []
for folder in ("src", "io", "jobs", "sweep", "mpi", "report", "cli", "bench"):
    for name in sorted(os.listdir(os.path.join(ROOT, folder))):
        if not name.endswith(".c"):
            continue
        path = f"{folder}/{name}"
        body = open(os.path.join(ROOT, path), encoding="utf-8").read().split("\n")
        if path == "report/report.c":
            check(len(body) < 300, f"report/report.c has {len(body)} lines: its emitters belong in their own files")
        start = None
        for i, line in enumerate(body):
            m = re.match(r"^[A-Za-z][^=;]*?\b([a-z_0-9]+)\(.*\)\s*\{$", line)
            if m and not line.startswith(("typedef", "struct", "enum")):
                start = (i, m.group(1))
            elif line == "}" and start:
                if i - start[0] + 1 > 100 and (path, start[1]) not in LONG_OK:
                    long_functions.append(f"{path}:{start[0] + 1} {start[1]}: {i - start[0] + 1} lines")
                start = None
check(not long_functions, f"functions over 100 lines: {long_functions}")
done()
