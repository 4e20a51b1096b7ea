#!/usr/bin/env bash
# The README's picture of a report page: the page of RESULTS.h5 (default results/demo.h5, after
# the demo) drawn by headless Chromium (Debian's chromium) into OUT.png.
#   scripts/report_screenshot.sh [RESULTS.h5] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-results/demo.h5}; out=$(readlink -f "${2:-docs/images/demo-report.png}")
bin=${BERTSWEEP:-build/bertsweep}
page=$(mktemp --suffix=.html)
trap 'rm -f "$page"' EXIT
"$bin" report "$in" --format html > "$page"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1300,1100 --screenshot="$out" \
  "file://$page" 2>/dev/null
echo "$out"
