"""Shared by the Python integration tests: counted checks and the summary line
("N passed, N failed") that ctest's output and CI read."""
import sys

_counts = {"passed": 0, "failed": 0}


def check(cond, msg):
    if cond:
        _counts["passed"] += 1
    else:
        _counts["failed"] += 1
        print("FAIL", msg, flush=True)


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, session, ...),
    or None when pid is gone or a zombie."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields if fields and fields[0] != "Z" else None


def done():
    print(f"{_counts['passed']} passed, {_counts['failed']} failed")
    sys.exit(1 if _counts["failed"] else 0)


def schema_metrics(binary):
    """The results file's per-run metric datasets, as `bertsweep schema --format json` lists
    them (the one table the program itself builds, writes and checks the file from)."""
    import json
    import subprocess
    schema = json.loads(subprocess.run([binary, "schema", "--format", "json"], capture_output=True, text=True,
                                       check=True).stdout)
    return [d["path"] for d in schema["datasets"] if d["role"] == "metric"]


def read_results(path, datasets, columns):
    """Named datasets and /runs columns of a results file, as numpy arrays by name."""
    import h5py
    with h5py.File(path, "r") as f:
        d = {k: f[k][:] for k in datasets}
        runs = f["runs"][:]
        d.update({c: runs[c] for c in columns})
        d["_slots"] = len(f["checkpoints"]) if "checkpoints" in f else 0
    return d


def same_results(ref, got, what):
    """Checks every array of ref equals got's bit for bit."""
    bad = [k for k in ref if not k.startswith("_") and
           (got[k].shape != ref[k].shape or got[k].tobytes() != ref[k].tobytes())]
    check(not bad, f"{what}: differs from the uninterrupted sweep in {bad}")


def train_with_model(binary, work, model, name, epochs=2):
    """`bertsweep train` of the tiny fixture's config (work/tiny.json) with model.path = model
    (relative to work) and its epochs; returns the process and its --metrics TSV text ("" on
    failure), the thing the checkpoint-format tests compare bit for bit."""
    import json
    import os
    import subprocess
    c = json.load(open(os.path.join(work, "tiny.json")))
    c["train"]["epochs"] = epochs
    c["model"]["path"] = model
    p, tsv = os.path.join(work, name + ".json"), os.path.join(work, name + ".tsv")
    json.dump(c, open(p, "w"))
    r = subprocess.run([binary, "train", p, "--metrics", tsv], capture_output=True, text=True)
    return r, (open(tsv).read() if r.returncode == 0 else "")


def safetensors_read(path):
    """A safetensors file as (header, raw bytes, offset of its data): header maps tensor names
    to {dtype, shape, data_offsets} (relative to the offset), "__metadata__" left out."""
    import json
    import struct
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = {k: v for k, v in json.loads(raw[8:8 + n]).items() if k != "__metadata__"}
    return hdr, raw, 8 + n


def safetensors_arrays(path):
    """A float32 safetensors file's tensors as numpy arrays (copies, of their shapes) by name."""
    import numpy as np
    hdr, raw, base = safetensors_read(path)
    return {k: np.frombuffer(raw[base + v["data_offsets"][0]: base + v["data_offsets"][1]], np.float32)
            .reshape(v["shape"]).copy() for k, v in hdr.items()}


def safetensors_write_subset(path, src, keys):
    """Writes the tensors keys of src (safetensors_read's triple) into a new safetensors file."""
    import json
    import struct
    hdr, raw, base = src
    body, out = b"", {}
    for k in keys:
        a, b = hdr[k]["data_offsets"]
        out[k] = dict(hdr[k], data_offsets=[len(body), len(body) + b - a])
        body += raw[base + a: base + b]
    h = json.dumps(out).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)
