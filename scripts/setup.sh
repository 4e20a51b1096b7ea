#!/usr/bin/env bash
# The first command: installs Debian's packages, builds bertsweep, runs the demo sweep (the
# seed's question, Adam's bias correction on/off with 10 seeds each, on the bundled Chinese
# program-message task and tiny pre-trained Chinese BERT), then prints its report and writes
# its plots. Rerunning it resumes or reuses the results.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
ranks=${RANKS:-2}
mkdir -p results
echo "== demo sweep: $(build/bertsweep plan configs/demo.json | tail -2 | head -1)"
mpirun -np "$ranks" build/bertsweep sweep configs/demo.json --progress 10
echo
build/bertsweep report results/demo.h5
/usr/bin/python3 scripts/plot_results.py results/demo.h5 results/demo-plots >/dev/null
cat <<MSG

The results are in results/demo.h5 (one HDF5 file: /runs, /train/loss, /eval/accuracy, ...).
  report again:   build/bertsweep report results/demo.h5 --format markdown
  plots:          results/demo-plots/optimizer_correct_bias.png
  more demos:     configs/demo-pooler.json, configs/demo-pretrained-vs-random.json, configs/demo-lr.json,
                  configs/demo-lr-nowarmup.json
                  (mpirun -np 2 build/bertsweep sweep CONFIG --progress 10; about 9 minutes each)
  in Python:      /usr/bin/python3 -c "import h5py, pandas; f = h5py.File('results/demo.h5'); print(pandas.DataFrame(f['runs'][:]))"
MSG
