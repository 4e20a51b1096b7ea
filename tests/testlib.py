"""Shared by the Python integration tests: counted checks and the summary line
("N passed, N failed") that ctest's output and CI read."""
import os
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


def skip(why):
    """Exit 77 (ctest: skipped), or, under CI=true, where the test command provides what the
    test needs (root, Debian's packages), a failure: a skip there would hide regressions."""
    if os.environ.get("CI") == "true":
        print(f"FAIL (CI=true: this machine should run it): {why}", flush=True)
        sys.exit(1)
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


# mpirun as the tests start it: as root where they run as root, more ranks than cores (2 here)
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]


def mpirun(n):
    return MPIRUN + ["-np", str(n)]


def fresh_work():
    """The common preamble of a test on the tiny fixture: BERTSWEEP, FIXTURE_DIR and WORKDIR
    from the command line, WORKDIR a fresh copy of the fixture (the fixture is never modified)."""
    import shutil
    binary, fixture, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(fixture, work)
    return binary, fixture, work


# The /runs columns a resumed or re-dispatched sweep must reproduce bit for bit (with every
# metric dataset of the schema: schema_metrics).
SAME_COLUMNS = ["status", "steps_done", "total_steps", "best_dev_accuracy", "best_step", "final_dev_accuracy",
                "final_train_loss", "majority_baseline"]


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


# ---- TensorFlow 1.x checkpoint bundles (a LevelDB-style table index + one data shard), written
#      following TF's format: tests/tf_checkpoint.py (faithful ones) and hostile_checkpoints.py

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _CRC_TABLE[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc_mask(c):
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n):
    n &= (1 << 64) - 1  # negative values as TF's int64: two's complement
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(num, wire, payload):
    import struct
    tag = _varint(num << 3 | wire)
    return tag + (_varint(payload) if wire == 0 else _varint(len(payload)) + payload if wire == 2 else payload)


def _block(entries):
    import struct
    body = b""
    for k, v in entries:
        body += _varint(0) + _varint(len(k)) + _varint(len(v)) + k + v
    body += struct.pack("<II", 0, 1)  # one restart point at 0
    return body, body + b"\0" + struct.pack("<I", crc_mask(crc32c(body + b"\0")))


def write_tf_index(prefix, entries, data):
    """entries: [(name, dtype, shape, offset, size, crc or None: that of data[offset:offset+size])]
    -> prefix.index, and data as prefix.data-00000-of-00001. Any value may lie (hostile tests)."""
    import struct
    rows = []
    for name, dtype, shape, offset, size, crc in entries:
        if crc is None:
            crc = crc_mask(crc32c(data[offset:offset + size]))
        sh = b"".join(_field(2, 2, _field(1, 0, d)) for d in shape)
        e = _field(1, 0, dtype) + _field(2, 2, sh) + (_field(4, 0, offset) if offset else b"") + _field(5, 0, size) + \
            _field(6, 5, struct.pack("<I", crc))  # proto3 omits zero fields: offset 0 absent, as TF writes it
        rows.append((name.encode(), e))
    header = _field(1, 0, 1) + _field(3, 2, _field(1, 0, 1))  # num_shards 1, version {producer 1}
    rows = [(b"", header)] + sorted(rows)
    body, blk = _block(rows)
    _, meta = _block([])
    index_body, index = _block([(rows[-1][0] + b"\xff", _varint(0) + _varint(len(body)))])
    footer = _varint(len(blk)) + _varint(len(meta) - 5) + _varint(len(blk) + len(meta)) + _varint(len(index_body))
    footer += bytes(40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    open(prefix + ".index", "wb").write(blk + meta + index + footer)
    open(prefix + ".data-00000-of-00001", "wb").write(data)


def write_tf_model(src, out, extra=False):
    """The HF model directory src (safetensors) as Google's TF 1.x release lays it out in out:
    bert_model.ckpt.index + .data-00000-of-00001 (TF names, kernels stored [in, out],
    LayerNorm gamma/beta, output_weights/output_bias for a classifier), bert_config.json and
    vocab.txt. extra: also a cls/ head, an Adam slot and global_step, which a reader must skip."""
    import os
    import shutil
    import numpy as np

    def tf_name(hf):
        if hf.startswith("classifier."):
            return "output_weights" if hf.endswith("weight") else "output_bias", False
        parts, out_, i = hf.split("."), [], 0
        while i < len(parts):
            if parts[i] == "layer" and i + 1 < len(parts) and parts[i + 1].isdigit():
                out_.append("layer_" + parts[i + 1])
                i += 2
                continue
            out_.append(parts[i])
            i += 1
        last = out_[-1]
        if "_embeddings" in out_[-2]:
            return "/".join(out_[:-1]), False
        if out_[-2] == "LayerNorm":
            return "/".join(out_[:-1] + ["gamma" if last == "weight" else "beta"]), False
        if last == "weight":
            return "/".join(out_[:-1] + ["kernel"]), True
        return "/".join(out_), False

    tensors = []
    for k, a in safetensors_arrays(os.path.join(src, "model.safetensors")).items():
        name, transpose = tf_name(k)
        tensors.append((name, 1, np.ascontiguousarray(a.T if transpose else a)))
    if extra:
        vocab = sum(1 for _ in open(os.path.join(src, "vocab.txt")))
        tensors += [("cls/predictions/output_bias", 1, np.ones(vocab, np.float32)),
                    ("bert/encoder/layer_0/attention/self/query/kernel/adam_m", 1,
                     np.ones(tensors[0][2].shape[-1:] * 2, np.float32)),
                    ("global_step", 9, np.array(1000, np.int64))]
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(src, "vocab.txt"), out)
    shutil.copy(os.path.join(src, "config.json"), os.path.join(out, "bert_config.json"))
    data, entries = b"", []
    for name, dtype, a in tensors:
        raw = a.tobytes()
        entries.append((name, dtype, list(a.shape), len(data), len(raw), None))
        data += raw
    write_tf_index(os.path.join(out, "bert_model.ckpt"), entries, data)
