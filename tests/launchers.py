#!/usr/bin/python3
"""The Slurm wrapper's launchers (slurm/launch-*.sh), run with stand-ins for srun, mpirun and
lscpu that record what they were given:

- where Slurm counts hyperthreads as CPUs (two per core), each rank gets cores / ranks threads
  and srun binds it to twice as many CPUs (--cpus-per-task), so that it runs on whole cores
  (it was bound to half the cores its threads should use); one thread per core: the same
  number; BERTSWEEP_HYPERTHREADS=1 counts every hardware thread;
- mpirun forwards OMP_NUM_THREADS and every BERTSWEEP_* variable that is set, and names none
  that is not (it warned "could not find environment variable" for each);
- an unknown BERTSWEEP_LAUNCHER is refused, naming the ones there are.

usage: launchers.py SOURCE_DIR WORKDIR"""
import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done  # noqa: E402

SRC, WORK = (os.path.abspath(a) for a in sys.argv[1:3])
shutil.rmtree(WORK, ignore_errors=True)
fake = os.path.join(WORK, "bin")
os.makedirs(fake)
log = os.path.join(WORK, "calls")


def tool(name, body):
    path = os.path.join(fake, name)
    open(path, "w").write("#!/bin/bash\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)


# each stand-in appends its arguments and the threads it was given, one line per call
tool("srun", f'[ "$1" = --mpi=list ] && {{ echo "pmix"; exit 0; }}\necho "srun $* OMP=$OMP_NUM_THREADS" >> {log}\n')
tool("mpirun", f'echo "mpirun $* OMP=$OMP_NUM_THREADS" >> {log}\n')
tool("lscpu", 'echo "Thread(s) per core:  ${FAKE_THREADS_PER_CORE:-1}"\n')
tool("scontrol", "exit 0\n")


def wrapper(**env):
    if os.path.exists(log):
        os.remove(log)
    e = {k: v for k, v in os.environ.items() if not k.startswith(("BERTSWEEP", "SLURM"))}
    e.update(PATH=fake + ":" + os.environ["PATH"], BERTSWEEP="/bin/true", SLURM_CPUS_ON_NODE="8",
             SLURM_JOB_NUM_NODES="1", **env)
    r = subprocess.run(["bash", os.path.join(SRC, "slurm", "run-sweep.sh"), "cfg.json"], capture_output=True,
                       text=True, env=e, cwd=WORK, timeout=60)
    return r, open(log).read() if os.path.exists(log) else ""


# 8 CPUs of Slurm's, two per core: 4 cores, 2 ranks of 2 threads, each bound to 4 CPUs
r, calls = wrapper(RANKS_PER_NODE="2", BERTSWEEP_LAUNCHER="srun", FAKE_THREADS_PER_CORE="2")
check(r.returncode == 0 and "--cpus-per-task=4 " in calls and "OMP=2" in calls and "--ntasks-per-node=2" in calls,
      f"two hardware threads per core: {calls} {r.stdout[-300:]} {r.stderr[-300:]}")
r, calls = wrapper(RANKS_PER_NODE="2", BERTSWEEP_LAUNCHER="srun", FAKE_THREADS_PER_CORE="1")
check(r.returncode == 0 and "--cpus-per-task=4 " in calls and "OMP=4" in calls, f"one thread per core: {calls}")
r, calls = wrapper(RANKS_PER_NODE="2", BERTSWEEP_LAUNCHER="srun", FAKE_THREADS_PER_CORE="2", BERTSWEEP_HYPERTHREADS="1")
check(r.returncode == 0 and "--cpus-per-task=4 " in calls and "OMP=4" in calls, f"BERTSWEEP_HYPERTHREADS=1: {calls}")

# mpirun: what is set is forwarded, nothing else
r, calls = wrapper(RANKS_PER_NODE="2", BERTSWEEP_LAUNCHER="mpirun", BERTSWEEP_SILENCE_LIMIT="900")
check(r.returncode == 0 and "-x OMP_NUM_THREADS" in calls and "-x BERTSWEEP_SILENCE_LIMIT" in calls and
      "-x BERTSWEEP_STOP_REQUEST" in calls and "-x BERTSWEEP_RANK0_TRAINS" not in calls,
      f"mpirun's forwarded variables: {calls}")

r, calls = wrapper(BERTSWEEP_LAUNCHER="pdsh")
check(r.returncode == 2 and "no launcher of that name" in r.stderr and "mpirun" in r.stderr and "srun" in r.stderr and
      not calls, f"an unknown launcher: {r.returncode} {r.stderr[-300:]}")
done()
