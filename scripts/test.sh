#!/usr/bin/env bash
# The test command: installs dependencies, builds with -Werror, runs the test suite, then
# builds with AddressSanitizer + UBSan and runs the suite again (slow tests excluded in both
# unless BERTSWEEP_SLOW=1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
JOBS=$(nproc)
slow="slow|"
[ "${BERTSWEEP_SLOW:-0}" = 1 ] && slow=""

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBERTSWEEP_WERROR=ON >/dev/null
cmake --build build -j"$JOBS"
(cd build && ctest --output-on-failure -LE "${slow}none")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBERTSWEEP_SANITIZE=ON -DBERTSWEEP_WERROR=ON >/dev/null
cmake --build build-asan -j"$JOBS"
# Open MPI and OpenBLAS keep allocations until exit; leaks in them are not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -LE "${slow}nosan")
