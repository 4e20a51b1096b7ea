#!/usr/bin/python3
"""What stood in a new user's way in their first week (the issue "a researcher's first week"),
each checked as the user met it:

- a fresh clone has no results/: the first sweep into results/x.h5 makes the directory (it
  died with "cannot create the lock: No such file or directory");
- data.dev_size (or train_size) larger than the file is an error naming the key and the file,
  not silently the whole file;
- a mistyped model directory says that the directory does not exist, not ".../config.json:
  cannot open";
- a resume with nothing left to run leaves the file's bytes and mtime unchanged;
- a TensorFlow release's directory (bert_config.json, no tokenizer_config.json) lower-cases
  as Google's run_classifier and transformers' BertTokenizer(vocab_file) do, and inspect and
  tokenize say what was chosen and why; an HF directory without tokenizer_config.json still
  does not;
- the progress line names a run by its row (as every other message does), says "starting"
  rather than "loss 0.0000" for a run that has not stepped yet, and never prints 3m60s
  (tests/test_progress.c has the formatting cases).

usage: first_week.py BERTSWEEP FIXTURE_DIR WORKDIR"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work, mpirun, write_tf_model  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
os.chdir(WORK)
cfg = json.load(open("tiny.json"))
cfg["train"].update(max_steps=3, eval_every=0)


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300, **kw)


def write(name, c):
    json.dump(c, open(name, "w"))
    return name


# the results file's directory is made
c = json.loads(json.dumps(cfg))
c["sweep"] = {"seeds": [1]}
c["output"] = "results/sub/first.h5"
r = run("sweep", write("first.json", c), "--progress", "0")
check(r.returncode == 0 and os.path.exists("results/sub/first.h5") and "created the directory results/sub" in r.stdout,
      f"a sweep into a directory that does not exist yet: {r.returncode} {r.stdout[-300:]} {r.stderr[-300:]}")
open("afile", "w").write("x")
c["output"] = "afile/x.h5"
r = run("sweep", write("notdir.json", c), "--progress", "0")
check(r.returncode == 1 and "afile: not a directory" in r.stderr, f"an output under a file: {r.stderr[-300:]}")

# a resume with nothing to do leaves the file's bytes and mtime as they are (it rewrote a
# finished 1.6 GB file, 40 s, and changed "written")
import hashlib  # noqa: E402
before = (hashlib.sha256(open("results/sub/first.h5", "rb").read()).hexdigest(), os.stat("results/sub/first.h5").st_mtime_ns)
time.sleep(0.05)
for cmd in ([BIN, "sweep", "first.json", "--progress", "0"], mpirun(2) + [BIN, "sweep", "first.json", "--progress", "0"]):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    after = (hashlib.sha256(open("results/sub/first.h5", "rb").read()).hexdigest(), os.stat("results/sub/first.h5").st_mtime_ns)
    check(r.returncode == 0 and "nothing to do" in r.stdout and after == before,
          f"a no-op resume ({cmd[0]}): exit {r.returncode}, file {'unchanged' if after == before else 'changed'}: "
          f"{r.stdout[-300:]} {r.stderr[-300:]}")

# sizes larger than the file
for key, n in (("dev_size", 100000), ("train_size", 100000)):
    c = json.loads(json.dumps(cfg))
    c["data"][key] = n
    r = run("train", write(f"{key}.json", c))
    split = "dev.jsonl" if key == "dev_size" else "train.jsonl"
    lines = sum(1 for _ in open(split))
    check(r.returncode == 1 and f"data.{key} is {n}, but the file has {lines} examples" in r.stderr and split in r.stderr,
          f"{key} larger than the file: {r.returncode} {r.stderr[-300:]}")

# a mistyped model directory
c = json.loads(json.dumps(cfg))
c["model"]["path"] = "modle"
r = run("train", write("typo.json", c))
check(r.returncode == 1 and "modle: no such model directory" in r.stderr and "config.json" not in r.stderr,
      f"a mistyped model directory: {r.stderr[-300:]}")
r = run("inspect", "modle")
check(r.returncode == 1 and "modle: no model weights here" in r.stderr, f"inspect of a typo: {r.stderr}")

# lower-casing: a TF release lower-cases by default, an HF directory without tokenizer_config.json does not
vocab = open("model/vocab.txt", encoding="utf-8").read().split("\n")
vocab[-2 if vocab[-1] == "" else -1] = "hello"  # an ASCII word in both directories' vocabulary
open("model/vocab.txt", "w", encoding="utf-8").write("\n".join(vocab))
write_tf_model("model", "tf")
check(not os.path.exists("tf/tokenizer_config.json") and os.path.exists("tf/bert_config.json"), "the TF layout")
r = run("inspect", "tf")
check(r.returncode == 0 and "tokenizer: do_lower_case true (no tokenizer_config.json in a TF release" in r.stdout,
      f"inspect says what the TF directory's tokenizer does: {r.stdout[-400:]}")
r = run("inspect", "model")
check(r.returncode == 0 and "tokenizer: do_lower_case false (no tokenizer_config.json: not lower-cased" in r.stdout,
      f"inspect of the HF directory: {r.stdout[-400:]}")
r = run("tokenize", "tf", "HELLO")
check(r.returncode == 0 and " hello " in r.stdout and "do_lower_case: true (" in r.stdout,
      f"tokenize of HELLO in the TF directory: {r.stdout[-400:]}")
r = run("tokenize", "model", "HELLO")
check(r.returncode == 0 and "[UNK]" in r.stdout and " hello " not in r.stdout and "do_lower_case: false (" in r.stdout,
      f"tokenize of HELLO in the HF directory: {r.stdout[-400:]}")
c = json.loads(json.dumps(cfg))
c["model"]["path"] = "tf"
c["sweep"] = {"seeds": [1]}
c["output"] = "tf.h5"
r = run("sweep", write("tf.json", c), "--progress", "0")
check(r.returncode == 0, f"a sweep of the TF directory: {r.stderr[-300:]}")
if r.returncode == 0:
    import h5py
    with h5py.File("tf.h5", "r") as f:
        rc = json.loads(f["runs"].attrs["run_configs"][0])
    check(rc["model"]["do_lower_case"] is True, f"the run config records the lower-casing: {rc['model']}")

# the progress line: rows, not plan indexes; "starting" before a run's first step
c = json.loads(json.dumps(cfg))
c["train"].update(max_steps=40)
c["sweep"] = {"seeds": [1, 2], "grid": {"optimizer.correct_bias": [True, False]}}
c["output"] = "grown.h5"
r = run("sweep", write("grown.json", c), "--progress", "0")
c["sweep"]["seeds"] = [1, 2, 3]  # the new runs are rows 4 and 5, planned in between the others
env = dict(os.environ, BERTSWEEP_STEP_DELAY="0.05")
r = run("sweep", write("grown.json", c), "--progress", "0.2", env=env)
lines = [ln for ln in r.stdout.splitlines() if ln.startswith("[")]
runs = {ln.split(" | r0 run ")[1].split()[0] for ln in lines if " | r0 run " in ln}
check(r.returncode == 0 and runs and runs <= {"4", "5"}, f"the progress line names the added runs by their rows 4 and 5: {runs} {lines[-3:]}")
check(not any("loss 0.0000" in ln for ln in lines), f"a run before its first step shows a loss: {lines[:3]}")
done()
