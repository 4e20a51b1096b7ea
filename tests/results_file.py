#!/usr/bin/python3
"""The results file against the faults of shared/repro/h1-h4 and their neighbours:
- a second sweep on a file that a live sweep writes is refused (exit 6), naming host and pid; a lock
  left by a killed sweep does not block the resume;
- a full disk: refused up front when the file does not fit (nothing left behind); once the
  file exists its space is reserved, so filling the disk mid-sweep loses nothing, and a
  write error mid-checkpoint (fault hook) stops the sweep with exit 4 naming the file, keeps
  the previous checkpoint and resumes bit-identically;
- a grown grid keeps every value exactly as written (column types from old and new values)
  and its finished runs survive a kill;
- `check` finds a flipped bit in a checkpoint and a damaged dataset; `check --salvage` copies
  what is readable into a file that resumes to the same numbers;
- --restart moves aside only a results file; a symlink at OUTPUT.partial is never followed;
- `bertsweep schema` describes every dataset that a file holds, with the attributes written.

usage: results_file.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import json
import os
import signal
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun, proc_stat, read_results, SAME_COLUMNS, same_results, schema_metrics  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
MPI = mpirun(2)
SCHEMA = json.loads(subprocess.run([BIN, "schema", "--format", "json"], capture_output=True, text=True).stdout)
METRICS = schema_metrics(BIN)


def config(name, grid=None, seeds=(1, 2), epochs=8, **train):
    cfg = json.load(open(os.path.join(WORK, "tiny.json")))
    cfg["train"].update(epochs=epochs, checkpoint_every=7, **train)
    cfg["sweep"] = {"seeds": list(seeds), "grid": grid or {"optimizer.correct_bias": [True, False]}}
    p = os.path.join(WORK, name)
    json.dump(cfg, open(p, "w"), indent=1)
    return p


def sweep(cfg, out, np_=2, env=None, extra=()):
    cmd = (MPI if np_ else []) + [BIN, "sweep", cfg, "--output", out, "--progress", "0", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=300)


def errors(r):
    return "\n".join(ln for ln in r.stderr.splitlines() if ln.startswith("bertsweep"))


def bcheck(path):
    return subprocess.run([BIN, "check", path], capture_output=True, text=True)


def metrics(path):
    return read_results(path, METRICS, SAME_COLUMNS)


same = same_results


base = config("base.json")
ref_path = os.path.join(WORK, "ref.h5")
r = sweep(base, ref_path)
check(r.returncode == 0, f"reference: {errors(r)}")
ref = metrics(ref_path)

# ---- the schema drives the file: every dataset present, with its units and description
with h5py.File(ref_path, "r") as f:
    check(int(f.attrs["format_version"]) == SCHEMA["format_version"], "format_version attribute")
    for d in SCHEMA["datasets"]:
        ok = d["path"] in f and f[d["path"]].attrs.get("long_name") == d["description"] and \
            f[d["path"]].attrs.get("units") == d["units"]
        check(ok, f"/{d['path']} missing or not described as the schema says")
    names = f["runs"].dtype.names
    desc = json.loads(f["runs"].attrs["column_descriptions"])
    for c in SCHEMA["runs_columns"]:
        check(c["name"] in names and desc.get(c["name"]) == c["description"], f"/runs column {c['name']}")
    check(all(n in desc for n in names), f"/runs columns without a description: {set(names) - set(desc)}")

# docs/results-file.md's schema table is `bertsweep schema`, verbatim
readme = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "results-file.md")).read()
table = readme.split("<!-- schema:begin -->\n")[1].split("<!-- schema:end -->")[0]
check(table == subprocess.run([BIN, "schema"], capture_output=True, text=True).stdout,
      "docs/results-file.md's table differs from `bertsweep schema` (paste its output between the markers)")

# ---- h1: one writer at a time. The first sweep's ranks are frozen (SIGSTOP) while the
#      others try the file, so that it cannot end meanwhile.
long_cfg = config("long.json", epochs=100)
out = os.path.join(WORK, "concurrent.h5")
first = subprocess.Popen(MPI + [BIN, "sweep", long_cfg, "--output", out, "--progress", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
t = time.time()
while not os.path.exists(out) and time.time() - t < 60:
    time.sleep(0.05)
host = os.uname().nodename
lines = open(out + ".lock").read().splitlines()
writers = [int(ln.split()[1]) for ln in lines if ln.startswith(f"writer={host} ")]
check(len(writers) == 2 and all(open(f"/proc/{w}/comm").read().strip() == "bertsweep" for w in writers),
      f"lock writers: {lines}")
for w in writers:
    os.kill(w, signal.SIGSTOP)
second = sweep(long_cfg, out, np_=0)
check(second.returncode == 6 and "another sweep is writing it" in second.stderr and f"host {host}" in second.stderr
      and "pid " in second.stderr, f"second writer: exit {second.returncode}: {errors(second)}")
c = bcheck(out)
check(c.returncode == 6 and "a sweep is writing it" in c.stderr, f"check of a live file: exit {c.returncode}: {c.stderr}")
# a lock whose main process is gone but which names a live rank on this host is not stale
fake = os.path.join(WORK, "fake.h5")
open(fake + ".lock", "w").write(f"host={host}\npid=999999999\nslurm_job=\nstarted=2026-01-01T00:00:00Z\n"
                                f"writer={host} 999999999\nwriter={host} {writers[1]}\n")
r = sweep(long_cfg, fake, np_=0)
check(r.returncode == 6 and "its processes on this host are alive" in r.stderr and not os.path.exists(fake),
      f"lock with a live rank: {errors(r)}")
os.remove(fake + ".lock")
for w in writers:
    os.kill(w, signal.SIGCONT)
os.killpg(first.pid, signal.SIGKILL)  # mpirun dies; its ranks exit at their next step
first.communicate()
check(os.path.exists(out + ".lock"), "a killed sweep leaves its lock behind (the case to handle)")
t = time.time()  # its ranks exit at their next step (or Open MPI ends them): a stale lock then
while any(proc_stat(w) for w in writers) and time.time() - t < 20:
    time.sleep(0.05)
st = subprocess.run([BIN, "stop", out], capture_output=True, text=True)
check(st.returncode == 0 and "nothing to stop" in st.stdout and not os.path.exists(out + ".stop"),
      f"stop of a killed sweep's file: exit {st.returncode}: {st.stderr}")
r = sweep(long_cfg, out)
check(r.returncode == 0 and "taking over" in r.stderr, f"resume after a killed holder: {errors(r)}")
check(not os.path.exists(out + ".lock"), "the lock is removed at the end")
check(bcheck(out).returncode == 0, "concurrent: check after the resume")
# a lock from another host whose heartbeat stopped long ago is stale; a fresh one is not
open(out + ".lock", "w").write("host=elsewhere\npid=1\nslurm_job=\nstarted=2026-01-01T00:00:00Z\n")
r = sweep(long_cfg, out, np_=0)
check(r.returncode == 6 and "host elsewhere, pid 1" in r.stderr, f"fresh foreign lock: {errors(r)}")
os.utime(out + ".lock", (time.time() - 700, time.time() - 700))
r = sweep(long_cfg, out, np_=0)
check(r.returncode == 0 and "heartbeat stopped" in r.stderr, f"stale foreign lock: {errors(r)}")
# a lock that cannot be read yet (empty: its writer was descheduled between creating and
# writing it, or sits on a slow file system) is not taken over until it is stale (h7)
open(out + ".lock", "w").close()
r = sweep(long_cfg, out, np_=0)
check(r.returncode == 6 and "cannot be read yet" in r.stderr and "taking over" not in r.stderr,
      f"a fresh unreadable lock taken over: {errors(r)}")
os.utime(out + ".lock", (time.time() - 700, time.time() - 700))
r = sweep(long_cfg, out, np_=0)
check(r.returncode == 0 and "unreadable and old" in r.stderr, f"a stale unreadable lock: {errors(r)}")
check(not [n for n in os.listdir(WORK) if ".lock.new-" in n], "a lock's temporary file was left behind")

# ---- a lock whose live writer lost its launcher (an orphaned rank, about to exit): a resume
#      waits for it, saying so, and takes over once it is gone. The "orphan" is a real
#      bertsweep process (a singleton sweep of another file) that the lock says was started
#      by pid 1.
busy_cfg = config("busy.json", epochs=2000)  # far longer than the wait below on any machine; killed after it
busy = subprocess.Popen([BIN, "sweep", busy_cfg, "--output", os.path.join(WORK, "busy.h5"), "--progress", "0"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t = time.time()
while not os.path.exists(os.path.join(WORK, "busy.h5.lock")) and time.time() - t < 60:
    time.sleep(0.05)
out = os.path.join(WORK, "orphan.h5")
open(out + ".lock", "w").write(f"host={host}\npid=999999999\nslurm_job=\nstarted=2026-01-01T00:00:00Z\n"
                               f"writer={host} 999999999 1\nwriter={host} {busy.pid} 1\n")
resume = subprocess.Popen(MPI + [BIN, "sweep", base, "--output", out, "--progress", "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
time.sleep(4)
check(resume.poll() is None, "a resume did not wait for an orphaned writer")
busy.kill()
busy.wait()
_, err = resume.communicate(timeout=300)
check(resume.returncode == 0 and "waiting for 1 rank(s) of a killed sweep" in err and "taking over" in err,
      f"resume beside an orphaned writer: exit {resume.returncode}: {err[-800:]}")

# ---- write errors mid-checkpoint (fault hook: the data write of run 3's step-35 checkpoint fails)
out = os.path.join(WORK, "enospc.h5")
r = sweep(base, out, env={"BERTSWEEP_FAULT": "enospc:3:35"})
check(r.returncode == 4 and "No space left on device" in r.stderr and out in r.stderr and "resume" in r.stderr,
      f"ENOSPC hook: exit {r.returncode}: {errors(r)}")
with h5py.File(out, "r") as f:
    states = [f[f"checkpoints/{s}/state"][:] for s in f["checkpoints"]]
    check(any(s[0] == 3 and s[1] == 28 for s in states), f"the previous checkpoint of run 3 (step 28) is kept: {states}")
    check(f["runs"]["status"][3] == b"running", "the interrupted run stays running, not failed")
check(bcheck(out).returncode == 0, "ENOSPC hook: check")
r = sweep(base, out)
check(r.returncode == 0 and "resumed" in r.stdout, f"ENOSPC hook: resume: {errors(r)}")
same(ref, metrics(out), "ENOSPC hook")

# ---- a real full disk (a small tmpfs, where this machine lets the test mount one)
mnt = os.path.join(WORK, "mnt")
os.makedirs(mnt)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", mnt], capture_output=True).returncode == 0
if not mounted:
    print("note: cannot mount a tmpfs here; the full-disk part is covered by the fault hook only")
else:
    try:
        out = os.path.join(mnt, "tiny.h5")
        r = sweep(base, out)  # about 1.2 MB with its checkpoint slots: does not fit
        check(r.returncode == 4 and "No space left on device" in r.stderr and out in r.stderr,
              f"file too big for the disk: exit {r.returncode} (want 4): {errors(r)}")
        check(os.listdir(mnt) == [], f"a refused file leaves nothing behind: {os.listdir(mnt)}")
        subprocess.run(["mount", "-o", "remount,size=2m", mnt], check=True)
        p = subprocess.Popen(MPI + [BIN, "sweep", long_cfg, "--output", out, "--progress", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not os.path.exists(out) and p.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/filler", "bs=4k"], capture_output=True)
        so, se = p.communicate(timeout=300)
        # every run finishes in its reserved space; only dropping the checkpoints needs more
        check(p.returncode == 4 and "No space left on device" in se and "the sweep is complete" in se,
              f"disk filled mid-sweep: exit {p.returncode}: {se[-600:]}")
        check(bcheck(out).returncode == 0, "disk filled mid-sweep: check")
        with h5py.File(out, "r") as f:
            check(all(s == b"done" for s in f["runs"]["status"]), "every run done despite the full disk")
        os.remove(f"{mnt}/filler")
        r = sweep(long_cfg, out)
        check(r.returncode == 0, f"after freeing space: {errors(r)}")
        with h5py.File(out, "r") as f:
            check(len(f["checkpoints"]) == 0, "the finished file drops its checkpoints once there is space")
        # h8: the end-of-sweep rewrite killed, then rerun on a disk too full for it: exit 4 naming the
        # file (HDF5 could not close a file it cannot flush, and crashed in MPI_Finalize: exit 139)
        os.remove(out)
        r = subprocess.run([BIN, "sweep", base, "--output", out, "--progress", "0"], capture_output=True, text=True,
                           env=dict(os.environ, BERTSWEEP_FAULT="killbuild:1:1"))
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/filler", "bs=4k"], capture_output=True)
        os.remove(f"{mnt}/filler")
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/filler", "bs=1k", f"count={max(0, free // 1024 - 100)}"],
                       capture_output=True)
        r = sweep(base, out)
        check(r.returncode == 4 and out in r.stderr and "No space left on device" in r.stderr,
              f"the end rewrite on a full disk: exit {r.returncode} (want 4, no crash): {r.stderr[-800:]}")
        os.remove(f"{mnt}/filler")
        r = sweep(base, out, np_=0)  # one process: the file keeps its one slot (two ranks would need a bigger file)
        check(r.returncode == 0 and bcheck(out).returncode == 0, f"after freeing space the sweep ends: {r.stderr[:600]}")
    finally:
        subprocess.run(["umount", "-l", mnt])

# ---- h4: a grown grid keeps every value as written; the report sees 9 groups
g1 = config("g1.json", grid={"train.dropout": [0], "optimizer.name": ["bert_adam"]}, seeds=[1], epochs=1)
g2 = config("g2.json", grid={"train.dropout": [0, 0.1, 0.5], "optimizer.name": ["bert_adam", "hf_adamw", "torch_adamw"]},
            seeds=[1], epochs=1)
out = os.path.join(WORK, "types.h5")
check(sweep(g1, out, np_=0).returncode == 0 and sweep(g2, out, np_=0).returncode == 0, "grid growth sweeps")
with h5py.File(out, "r") as f:
    rows = f["runs"][:]
    configs = [json.loads(c) for c in f["runs"].attrs["run_configs"]]
    ok = all(abs(r["train.dropout"] - c["train"]["dropout"]) < 1e-12 and r["optimizer.name"].decode() == c["optimizer"]["name"]
             for r, c in zip(rows, configs))
    check(len(rows) == 9 and ok, f"grown columns: {[(r['train.dropout'], r['optimizer.name']) for r in rows]}")
rep = subprocess.run([BIN, "report", out, "--format", "json"], capture_output=True, text=True)
check(rep.returncode == 0 and len(json.loads(rep.stdout)["groups"]) == 9, f"report groups: {rep.stdout[:300]}")

# ---- h3: runs that finish after a growth survive a kill
a = config("h3a.json", grid={"train.learning_rate": [0.003]}, seeds=range(1, 9), epochs=4)
b = config("h3b.json", grid={"train.learning_rate": [0.003, 0.001]}, seeds=range(1, 9), epochs=4)
out = os.path.join(WORK, "h3.h5")
check(sweep(a, out, np_=0).returncode == 0, "h3 base")
p = subprocess.Popen([BIN, "sweep", b, "--output", out, "--progress", "0"], stdout=subprocess.PIPE, text=True)
done_after = 0
t = time.time()
while time.time() - t < 60 and done_after < 3:
    time.sleep(0.1)
    try:
        with h5py.File(out, "r") as f:
            st = f["runs"]["status"]
            done_after = sum(s == b"done" for s in st[8:]) if len(st) == 16 else 0
    except OSError:
        pass
p.send_signal(signal.SIGKILL)
p.wait()
with h5py.File(out, "r") as f:
    kept = sum(s == b"done" for s in f["runs"]["status"][8:])
check(kept >= done_after >= 3, f"runs finished after the growth: {done_after} seen, {kept} kept after kill -9")
r = sweep(b, out, np_=0)
check(r.returncode == 0 and f"{8 + kept} runs were done already" in r.stdout, f"h3 resume: {r.stdout} {errors(r)}")

# ---- check finds damage; salvage copies what is readable
out = os.path.join(WORK, "damaged.h5")
r = sweep(base, out, env={"BERTSWEEP_FAULT": "kill:2:30"})
check(r.returncode != 0, "kill hook")
with h5py.File(out, "r") as f:  # flip a bit in the valid half of run 2's checkpoint
    for s in f["checkpoints"]:
        st = f[f"checkpoints/{s}/state"][:]
        if st[0] == 2:
            d = f[f"checkpoints/{s}/params"]
            at = d.id.get_offset() + int(st[3]) * d.shape[1] * 4 + 100
c = bcheck(out)
check(c.returncode == 0, f"before the damage: {c.stdout}")
with open(out, "r+b") as fh:
    fh.seek(at)
    byte = fh.read(1)
    fh.seek(at)
    fh.write(bytes([byte[0] ^ 0x10]))
c = bcheck(out)
check(c.returncode == 1 and "run 2" in c.stdout and "checksum" in c.stdout, f"flipped bit: {c.stdout} {c.stderr}")
r = sweep(base, out)  # resume notices, warns and starts that run over
check(r.returncode == 0 and "does not verify" in r.stderr, f"resume over a bad checkpoint: {errors(r)}")
same(ref, metrics(out), "a run restarted after its checkpoint failed its checksum")

out = os.path.join(WORK, "broken.h5")
r = sweep(base, out, env={"BERTSWEEP_FAULT": "kill:2:30"})
with h5py.File(out, "r") as f:
    header = h5py.h5o.get_info(f["eval/macro_f1"].id).addr
with open(out, "r+b") as fh:  # the dataset's object header: its checksum no longer matches
    fh.seek(header + 12)
    fh.write(b"\xff\xff\xff\xff")
c = bcheck(out)
check(c.returncode == 1 and "/eval/macro_f1" in c.stdout, f"damaged header: {c.stdout} {c.stderr}")
salvaged = os.path.join(WORK, "salvaged.h5")
s = subprocess.run([BIN, "check", "--salvage", out, salvaged], capture_output=True, text=True)
check(s.returncode == 0 and "unreadable (now pending)" in s.stdout, f"salvage: {s.stdout} {s.stderr}")
check(bcheck(salvaged).returncode == 0, "the salvaged file passes check")
r = sweep(base, salvaged)
check(r.returncode == 0, f"resume from the salvaged file: {errors(r)}")
same(ref, metrics(salvaged), "salvaged and resumed")
s = subprocess.run([BIN, "check", "--salvage", out, salvaged], capture_output=True, text=True)
check(s.returncode == 1 and "already exists" in s.stderr, "salvage never overwrites")

# ---- --restart moves aside only a results file (m9); OUTPUT.partial is never followed (m5)
victim = os.path.join(WORK, "model", "config.json")
before = open(victim).read()
r = sweep(base, victim, extra=("--restart",))
check(r.returncode == 1 and "not one" in r.stderr and open(victim).read() == before, f"--restart on a model file: {errors(r)}")
out = os.path.join(WORK, "link.h5")
target = os.path.join(WORK, "precious.txt")
open(target, "w").write("keep me")
os.symlink(target, out + ".partial")
r = sweep(base, out, np_=0)
check(r.returncode == 0 and open(target).read() == "keep me", f"symlink at .partial: {errors(r)}")
check(not os.path.islink(out + ".partial") and not os.path.exists(out + ".partial"), "the leftover link is removed")
done()
