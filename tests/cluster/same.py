#!/usr/bin/python3
"""same.py REF GOT [HOSTS]: exit 0 when results file GOT equals REF bit for bit in every metric
dataset and every /runs column except those that say where, when and how long (host, rank,
wall time, CPU, BLAS, libraries), every run is done, and (HOSTS given, comma-separated) the
runs ran on exactly those hosts. Prints what differs."""
import sys

import h5py
import numpy as np

WHERE = {"host", "rank", "wall_seconds", "started", "finished", "cpu", "blas", "libraries"}


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.setdefault(name, obj[()]) if isinstance(obj, h5py.Dataset) and
                 name.split("/")[0] in ("train", "eval") else None)
    return out


def main():
    ref, got = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
    bad = []
    a, b = datasets(ref), datasets(got)
    if sorted(a) != sorted(b):
        bad.append(f"datasets {sorted(a)} vs {sorted(b)}")
    bad += [k for k in a if k in b and (a[k].shape != b[k].shape or a[k].tobytes() != b[k].tobytes())]
    ra, rb = ref["runs"][:], got["runs"][:]
    bad += [f"/runs {c}" for c in ra.dtype.names if c not in WHERE and ra[c].tobytes() != rb[c].tobytes()]
    status = {s.decode() for s in rb["status"]}
    if status != {"done"}:
        bad.append(f"statuses {status}")
    hosts = sorted({h.decode() for h in rb["host"]})
    if len(sys.argv) > 3 and hosts != sorted(sys.argv[3].split(",")):
        bad.append(f"hosts {hosts}, expected {sys.argv[3]}")
    for x in bad:
        print(f"{sys.argv[2]}: differs from {sys.argv[1]}: {x}")
    sys.exit(1 if bad else 0)


main()
