#!/usr/bin/python3
"""A silent rank on one host (the many-host cases are tests/cluster/cluster_test.sh): rank 1 of
a two-rank sweep is stopped with SIGSTOP mid-run; with BERTSWEEP_SILENCE_LIMIT=3 rank 0 must
name it (rank, host, run), have its own run checkpointed, exit 7, write the host into
BERTSWEEP_SILENT_HOSTS and leave the lock marked abandoned. The same command then takes the
lock over, fences the file (a copy renamed into place: the stopped rank's descriptor points at
the unlinked original) and finishes bit-identically to one uninterrupted process. Also: a
malformed BERTSWEEP_SILENCE_LIMIT or BERTSWEEP_RANK0_TRAINS is a usage error (exit 2), and a
sweep where rank 0 only dispatches (BERTSWEEP_RANK0_TRAINS=0) gives the same numbers.

usage: silent_rank.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun, read_results, SAME_COLUMNS, same_results, schema_metrics  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
MPI = mpirun(2)
DATASETS = schema_metrics(BIN)
COLUMNS = SAME_COLUMNS
os.chdir(WORK)

cfg = json.load(open("tiny.json"))
cfg["train"].update(epochs=100, eval_every=50, checkpoint_every=50, threads=1)
cfg["data"].update(train_size=64, dev_size=32)
cfg["sweep"] = {"seeds": [1, 2]}
json.dump(cfg, open("s.json", "w"))
env = dict(os.environ, OMP_NUM_THREADS="1")

r = subprocess.run([BIN, "sweep", "s.json", "--output", "ref.h5", "--progress", "0"], env=env, capture_output=True,
                   text=True, timeout=600)
check(r.returncode == 0, f"reference sweep: {r.stderr[-300:]}")
ref = read_results("ref.h5", DATASETS, COLUMNS)

for var, bad in (("BERTSWEEP_SILENCE_LIMIT", "soon"), ("BERTSWEEP_SILENCE_LIMIT", "-3"),
                 ("BERTSWEEP_RANK0_TRAINS", "yes")):
    r = subprocess.run([BIN, "sweep", "s.json", "--output", "bad.h5"], env=dict(env, **{var: bad}),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and var in r.stderr and not os.path.exists("bad.h5"),
          f"{var}={bad}: exit {r.returncode}: {r.stderr.strip()[-200:]}")


def rank_pid(rank):
    """The pid of the bertsweep process of the given MPI rank (its environment says)."""
    for pid in os.listdir("/proc"):
        try:
            if open(f"/proc/{pid}/comm").read().strip() != "bertsweep":
                continue
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        # (not a session leader: the process an aborting rank leaves to end its launcher later has
        # the rank's environment but a session of its own)
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ and os.getcwd().encode() in \
                os.readlink(f"/proc/{pid}/cwd").encode() and os.getsid(int(pid)) != int(pid):
            return int(pid)
    return None


silent_hosts = os.path.join(WORK, "silent-hosts")
# 400 steps of 10 ms each (BERTSWEEP_STEP_DELAY: the numbers do not change): rank 1 is surely
# mid-run when it is frozen, in any build
senv = dict(env, BERTSWEEP_SILENCE_LIMIT="3", BERTSWEEP_SILENT_HOSTS=silent_hosts, BERTSWEEP_STEP_DELAY="0.01")
def sweep_freezing(rank, output, run_env, extra=()):
    """A two-rank sweep into output whose rank `rank` is frozen (SIGSTOP) a second into its run;
    returns (exit code, stdout, stderr, seconds from the freeze to the end, the frozen pid)."""
    p = subprocess.Popen(MPI + ["-x", "BERTSWEEP_SILENCE_LIMIT", "-x", "BERTSWEEP_SILENT_HOSTS", "-x",
                                "BERTSWEEP_STEP_DELAY", *extra, BIN, "sweep", "s.json", "--output", output, "--progress",
                                "1"], env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = None
    for _ in range(300):  # both ranks are running their runs: freeze one
        time.sleep(0.1)
        pid = rank_pid(rank)
        if pid and rank_pid(1 - rank) and os.path.exists(output + ".lock"):
            break
    time.sleep(1.0)
    os.kill(pid, signal.SIGSTOP)
    t = time.time()
    try:
        o, e = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        o, e = p.communicate()
    return p.returncode, o, e, time.time() - t, pid


rc, out, err, ended, frozen = sweep_freezing(1, "f.h5", senv)
host = socket.gethostname()
check(rc == 7, f"exit {rc} after a silent rank, not 7: {err[-400:]}")
check(f"rank 1 on host {host}, running run" in err and "silent for" in err, f"the silent rank not named: {err[-400:]}")
check(ended < 3 + 20, f"the sweep took {ended:.0f} s to end after the rank froze (limit 3 s)")
check("# ended: rank 1" in out and "checkpointed" in out, f"no end line: {out[-300:]}")
check(os.path.exists(silent_hosts) and open(silent_hosts).read() == host + "\n",
      f"BERTSWEEP_SILENT_HOSTS: {open(silent_hosts).read() if os.path.exists(silent_hosts) else 'missing'}")
check(os.path.exists("f.h5.lock") and "abandoned=rank 1" in open("f.h5.lock").read(), "the lock was not left abandoned")
try:
    os.kill(frozen, signal.SIGCONT)
except ProcessLookupError:
    pass

r = subprocess.run([BIN, "sweep", "s.json", "--output", "f.h5", "--progress", "0"], env=env, capture_output=True,
                   text=True, timeout=600)
check(r.returncode == 0, f"the resume: exit {r.returncode}: {r.stderr[-300:]}")
check("its sweep ended when a rank went silent" in r.stderr and "fenced" in r.stderr,
      f"the resume did not take over and fence: {r.stderr[-300:]}")
same_results(ref, read_results("f.h5", DATASETS, COLUMNS), "resumed after a silent rank")
check(not os.path.exists("f.h5.lock"), "the resume left a lock")

# a frozen rank 0: the worker that gets no answer, and sees no heartbeat of rank 0's lock since
# its request (BERTSWEEP_LOCK_STALE=4: a heartbeat a second), ends the job naming rank 0's host
os.unlink(silent_hosts)
fenv = dict(senv, BERTSWEEP_LOCK_STALE="4")
rc, out, err, ended, frozen = sweep_freezing(0, "r0.h5", fenv, ("-x", "BERTSWEEP_LOCK_STALE"))
try:
    os.kill(frozen, signal.SIGCONT)
except ProcessLookupError:
    pass
check(rc == 7 and f"rank 0 on host {host} has not answered" in err and "has not refreshed the lock" in err,
      f"a frozen rank 0: exit {rc}: {err[-400:]}")
check(ended < 400 * 0.01 + 3 + 2 + 20, f"a frozen rank 0 ended the sweep after {ended:.0f} s (bound: the worker's run, "
      "the 3-s limit, two 1-s heartbeats, 20 s)")
check(os.path.exists(silent_hosts) and open(silent_hosts).read() == host + "\n", "rank 0's host in BERTSWEEP_SILENT_HOSTS")
check(os.path.exists("r0.h5.lock") and "abandoned=rank 0 on host" in open("r0.h5.lock").read(),
      "the lock left abandoned by the worker")
r = subprocess.run([BIN, "sweep", "s.json", "--output", "r0.h5", "--progress", "0"], env=env, capture_output=True,
                   text=True, timeout=600)
check(r.returncode == 0 and "fenced" in r.stderr, f"the resume after a frozen rank 0: {r.returncode} {r.stderr[-300:]}")
same_results(ref, read_results("r0.h5", DATASETS, COLUMNS), "resumed after a frozen rank 0")

# rank 0 only dispatching: the same numbers
r = subprocess.run(MPI + ["-x", "BERTSWEEP_RANK0_TRAINS", BIN, "sweep", "s.json", "--output", "d.h5", "--progress",
                          "0"], env=dict(env, BERTSWEEP_RANK0_TRAINS="0"), capture_output=True, text=True, timeout=600)
check(r.returncode == 0 and "# dispatch: 2 runs handed to workers" in r.stdout,
      f"rank 0 dispatching only: exit {r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}")
same_results(ref, read_results("d.h5", DATASETS, COLUMNS), "rank 0 dispatching only")
done()
