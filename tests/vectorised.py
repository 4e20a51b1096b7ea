#!/usr/bin/python3
"""The element-wise kernels compiled for AVX2 and AVX-512 (src/simd.h) must really be vector
code: GCC falls back to scalar code without a word when it cannot if-convert a loop (until
-fno-trapping-math, the GELU and softmax exponentials were scalar in the AVX2 clone, 5x
slower on AVX2-only CPUs). Disassembles the binary and checks that every .avx2 clone uses
ymm registers and every .avx512f clone zmm registers, and that the kernels written with
intrinsics are there and use their ISA's registers. Release builds only (the sanitizer build
compiles no clones).

usage: vectorised.py BERTSWEEP [ISAS]   (ISAS: the clones the build makes, default avx2,avx512f)"""
import re
import subprocess
import sys

from testlib import check, done

# the kernels that must have clones (src/ops.c, src/optim.c, src/rng.c)
EXPECTED = {"gelu_erf_span", "gelu_erf_bwd_span", "bias_gelu_erf_row", "softmax_group", "softmax_bwd_group",
            "layernorm_row", "layernorm_bwd_row", "bias_dropout_residual_row", "hf_adamw_span", "torch_adamw_span",
            "bert_adam_span", "sumsq_span"}
REG = {"avx2": "%ymm", "avx512f": "%zmm"}
# kernels written with intrinsics for one ISA (src/rng.c's dropout masks), always compiled
HANDWRITTEN = {"keep_blocks16": "avx512f", "keep_blocks8": "avx2"}


def main():
    asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", sys.argv[1]], check=True,
                         capture_output=True, text=True).stdout
    clones, name = {}, None
    for line in asm.splitlines():
        m = re.match(r"^[0-9a-f]+ <([A-Za-z_0-9]+)\.(avx2|avx512f)>:$", line)
        h = re.match(r"^[0-9a-f]+ <([A-Za-z_0-9]+)>:$", line)
        if m:
            name = (m.group(1), m.group(2))
            clones[name] = False
        elif h and h.group(1) in HANDWRITTEN:
            name = (h.group(1), HANDWRITTEN[h.group(1)])
            clones[name] = False
        elif not line.strip():
            name = None
        elif name and REG[name[1]] in line:
            clones[name] = True
    isas = sys.argv[2].split(",") if len(sys.argv) > 2 else list(REG)
    for base in sorted(EXPECTED):
        for isa in isas:
            check((base, isa) in clones, f"no {isa} clone of {base} in the binary")
    for base, isa in sorted(HANDWRITTEN.items()):
        check((base, isa) in clones, f"no {base} ({isa} intrinsics) in the binary")
    for (base, isa), vector in sorted(clones.items()):
        check(vector, f"{base}.{isa} is scalar code: the loop did not vectorise")
    print(f"{len(clones)} clones checked")
    done()


if __name__ == "__main__":
    main()
