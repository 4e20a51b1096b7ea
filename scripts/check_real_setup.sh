#!/usr/bin/env bash
# Checks a downloaded model and a TNEWS-format data folder end to end in about a minute, before
# a sweep is queued: the model loads (TF 1.x checkpoint as Google and HFL release it, or an HF
# directory), its vocabulary tokenizes the data without many [UNK], and one training step and
# one evaluation on 64 examples run. Prints what to fix; exit 0 when ready.
#
#   scripts/check_real_setup.sh models/chinese_L-12_H-768_A-12 data/tnews
#
# DATA_DIR holds CLUE's TNEWS files as unpacked: train.json, dev.json (JSON lines: label,
# label_desc, sentence, keywords) and labels.json. BERTSWEEP names the binary (default:
# bertsweep on PATH, else build/bertsweep).
set -u
model=${1:?usage: check_real_setup.sh MODEL_DIR DATA_DIR}
data=${2:?usage: check_real_setup.sh MODEL_DIR DATA_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BERTSWEEP:-$(command -v bertsweep || echo "$here/build/bertsweep")}
fail=0
fix() { echo "FIX: $*"; fail=1; }
ok() { echo "ok:  $*"; }

[ -x "$bin" ] || { echo "FIX: no bertsweep binary at $bin (build it, or set BERTSWEEP)"; exit 1; }
model=$(readlink -f "$model"); data=$(readlink -f "$data")
[ -d "$model" ] || { echo "FIX: $model is not a directory"; exit 1; }

# 1. the model's files
[ -f "$model/vocab.txt" ] || fix "$model has no vocab.txt (Google's zip and the HF hub both ship one: copy it in)"
[ -f "$model/config.json" ] || [ -f "$model/bert_config.json" ] ||
  fix "$model has neither config.json (HF) nor bert_config.json (Google's TF release)"
if out=$("$bin" inspect "$model" 2>&1); then
  ok "model: $(echo "$out" | grep -m1 -i "format" | sed 's/^ *//'); $(echo "$out" | grep -m1 -i "parameters" | sed 's/^ *//')"
else
  fix "the model does not load: $(echo "$out" | tail -1)"
fi

# 2. the data's files
for f in train.json dev.json labels.json; do
  [ -s "$data/$f" ] || fix "$data has no $f (CLUE's tnews_public.zip unpacks train.json, dev.json, test.json, labels.json)"
done
[ "$fail" = 0 ] || exit 1
first=$(head -1 "$data/dev.json" | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["sentence"])' 2>/dev/null) ||
  { fix "$data/dev.json:1 is not a TNEWS line (a JSON object with \"sentence\" and \"label\")"; exit 1; }
ok "data: $(wc -l < "$data/train.json") train, $(wc -l < "$data/dev.json") dev lines, $(wc -l < "$data/labels.json") labels"
echo "     dev line 1 as the model reads it: $("$bin" tokenize "$model" "$first" 2>&1 | awk '$1 ~ /^[0-9]+$/ {print $2}' | paste -sd' ' | head -c 300)"

# 3. one step and one evaluation on 64 examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$model" "$data" "$work/check.json" <<'PY'
import json, sys
model, data, out = sys.argv[1:]
cfg = {}
for name in ("config.json", "bert_config.json"):
    try:
        cfg = json.load(open(f"{model}/{name}"))
        break
    except OSError:
        pass
seq = min(128, int(cfg.get("max_position_embeddings", 512)))
json.dump({"model": {"path": model},
           "data": {"train": f"{data}/train.json", "dev": f"{data}/dev.json", "labels": f"{data}/labels.json",
                    "format": "clue", "train_size": 64, "dev_size": 64, "max_seq_length": seq},
           "train": {"batch_size": 16, "eval_batch_size": 64, "max_steps": 1, "eval_every": 1, "threads": 0}},
          open(out, "w"))
PY
t0=$(date +%s)
if out=$("$bin" train "$work/check.json" 2>&1); then
  ok "one step and one evaluation on 64 examples in $(($(date +%s) - t0)) s: $(echo "$out" | grep -m1 '^# run:' | sed 's/^# run: //')"
  echo "$out" | grep "warning" | sed 's/^bertsweep: /     /'
  echo "$out" | grep -q "\[UNK\]" && fix "too many [UNK]: see the warning above"
else
  fix "training does not run: $(echo "$out" | grep -m1 "error" || echo "$out" | tail -1)"
fi
if [ "$fail" = 0 ]; then
  echo "ready: set model.path and the data paths in your config (configs/tnews-bias-correction.json expects"
  echo "models/bert-base-chinese and data/tnews), then: bertsweep plan CONFIG --ranks N"
fi
exit "$fail"
