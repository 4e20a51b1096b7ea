#!/usr/bin/python3
"""Writes slurm/exit-codes.sh, the shell's copy of src/err.h's exit codes (the one place they are
defined): `scripts/gen_exit_codes.py` after changing them; tests/source_rules.py checks that the
file is what this script writes.

usage: gen_exit_codes.py [SOURCE_DIR]   (default: the project root)
"""
import os
import re
import sys


def exit_codes(root):
    text = open(os.path.join(root, "src", "err.h"), encoding="utf-8").read()
    body = re.search(r"enum\s*\{([^}]*EXIT_OK[^}]*)\}", text).group(1)
    return [(name, int(value)) for name, value in re.findall(r"(EXIT_[A-Z_]+)\s*=\s*(\d+)", body)]


def shell_text(root):
    lines = ["# bertsweep's exit codes for the Slurm wrappers, generated from src/err.h by",
             "# scripts/gen_exit_codes.py (tests/source_rules.py checks it): edit src/err.h, then run it."]
    lines += [f"{name}={value}" for name, value in exit_codes(root)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    with open(os.path.join(root, "slurm", "exit-codes.sh"), "w", encoding="utf-8") as f:
        f.write(shell_text(root))
