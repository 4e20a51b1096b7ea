#!/usr/bin/python3
"""One message style (issue 33's list): a usage error is one line naming the subcommand and
ending "see bertsweep CMD --help", exit 2, never the whole help; a missing file says "no such
file" in plain words, never HDF5's internals; `stop` with nothing to stop is no error (exit 0,
said on stdout); the global help lists every exit code; `inspect --help` names every
checkpoint format it reads; `train --save` writes config values as the model had them;
`tokenize`'s table lines up for CJK; early stopping says so.

usage: messages.py BERTSWEEP FIXTURE_DIR WORKDIR
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, fresh_work  # noqa: E402

BIN, FIX, WORK = fresh_work()  # argv: BERTSWEEP FIXTURE_DIR WORKDIR; WORKDIR a fresh copy of the fixture
os.chdir(WORK)


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


for args in (["train", "tiny.json", "--save"], ["train", "tiny.json", "--metrics"], ["train", "tiny.json", "--bogus"],
             ["train"], ["sweep", "tiny.json", "--bogus"], ["sweep"], ["plan", "tiny.json", "--bogus"],
             ["bench", "tiny.json", "--bogus"], ["report", "x.h5", "--bogus"], ["check"], ["check", "--bogus"],
             ["check", "a.h5", "b.h5", "c.h5"], ["export"], ["export", "x.h5", "--bogus"], ["pretrain"],
             ["pretrain", "--corpus"], ["status"], ["status", "x.h5", "--bogus"]):
    r = run(*args)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    check(r.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"bertsweep: error: {args[0]}: ") and
          lines[0].endswith(f"see bertsweep {args[0]} --help"), f"{args}: exit {r.returncode}: {r.stderr!r}")
r = run("train", "tiny.json", "--save")
check("--save needs a directory" in r.stderr, f"train --save without a value: {r.stderr!r}")
for cmd in ("report", "status", "check"):
    r = run(cmd, "nosuch.h5")
    check(r.returncode == 1 and "nosuch.h5: no such file" in r.stderr and "H5FD" not in r.stderr,
          f"{cmd} of a missing file: {r.stderr!r}")
r = run("stop", "nosuch.h5")
check(r.returncode == 0 and "nothing to stop" in r.stdout and not r.stderr, f"stop with nothing to stop: {r.returncode} {r.stderr!r}")
r = run("--help")
check(all(f"{k} " in r.stdout for k in range(8)) and "silent" in r.stdout, f"global help's exit codes: {r.stdout[-600:]}")
r = run("inspect", "--help")
check(all(f in r.stdout for f in ("safetensors", "pytorch_model.bin", "ckpt.index")), f"inspect --help: {r.stdout}")
# a saved model's config.json holds the values as the model had them (no float widening noise)
import json  # noqa: E402
c = json.load(open("tiny.json"))
c["train"].update(max_steps=2)
json.dump(c, open("short.json", "w"))
r = run("train", "short.json", "--save", "saved")
src, got = json.load(open("model/config.json")), json.load(open("saved/config.json")) if r.returncode == 0 else {}
keys = ("layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range")
check(r.returncode == 0 and all(got.get(k) == src[k] for k in keys),
      f"saved config.json: {[(k, got.get(k), src[k]) for k in keys]} {r.stderr[-200:]}")
# tokenize's table lines up in terminal columns whatever the script (a CJK character is 2 wide)
import unicodedata  # noqa: E402
r = run("tokenize", "model", "上海 abc")
def id_column(line):  # noqa: E302
    """The terminal column where the id field starts: "pos " (7), the token, its padding."""
    tok = line.split()[1]
    rest = line[7 + len(tok):]
    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in tok)
    return 7 + width + len(rest) - len(rest.lstrip(" "))


rows = [ln for ln in r.stdout.splitlines() if ln[:1].isdigit()]
check(r.returncode == 0 and len(rows) >= 3 and len({id_column(ln) for ln in rows}) == 1,
      f"tokenize's columns: {[id_column(ln) for ln in rows]}\n{r.stdout}")
# early stopping says so
c = json.load(open("tiny.json"))
c["train"].update(epochs=40, eval_every=2, early_stopping_patience=1)
json.dump(c, open("early.json", "w"))
r = run("train", "early.json")
check(r.returncode == 0 and "# early stopping at step" in r.stdout and "no better dev accuracy in 1 evaluations" in r.stdout,
      f"early stopping: {r.stdout[-300:]}")
done()
