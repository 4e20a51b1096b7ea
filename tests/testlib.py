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


def done():
    print(f"{_counts['passed']} passed, {_counts['failed']} failed")
    sys.exit(1 if _counts["failed"] else 0)
