#!/usr/bin/env bash
# Render an `ntkgap demo` report in headless Chromium (Debian package `chromium`): take a
# full-page screenshot, then dump the DOM after load. The page's own image-check script marks
# <html data-images-total=N data-images-broken=M>; this script fails when M > 0 or N = 0.
#
# Usage (from the repository root):  bash scripts/check_report.sh [REPORT_DIR] [SCREENSHOT.png]
# Defaults: report/ and report-screenshot.png. Exit 0: rendered, every image loaded;
# 1: missing images or no images; 3: no chromium on PATH (apt-get install chromium).
set -euo pipefail
REPORT="${1:-report}"
SHOT="${2:-report-screenshot.png}"
BROWSER="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [[ -z "$BROWSER" ]]; then
    echo "check_report: no chromium on PATH (apt-get install chromium)" >&2
    exit 3
fi
if [[ ! -f "$REPORT/index.html" ]]; then
    echo "check_report: $REPORT/index.html not found; run ntkgap demo --quick --out $REPORT first" >&2
    exit 1
fi
URL="file://$(cd "$REPORT" && pwd)/index.html"
FLAGS=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --virtual-time-budget=10000)
PROFILE="$(mktemp -d)"
trap 'rm -rf "$PROFILE"' EXIT
"$BROWSER" "${FLAGS[@]}" --user-data-dir="$PROFILE" --window-size=1100,6000 --screenshot="$SHOT" "$URL" >/dev/null 2>&1
DOM="$("$BROWSER" "${FLAGS[@]}" --user-data-dir="$PROFILE" --dump-dom "$URL" 2>/dev/null)"
total="$(grep -o 'data-images-total="[0-9]*"' <<<"$DOM" | grep -o '[0-9]\+' || true)"
broken="$(grep -o 'data-images-broken="[0-9]*"' <<<"$DOM" | grep -o '[0-9]\+' || true)"
if [[ -z "$total" || -z "$broken" ]]; then
    echo "check_report: the page's image check did not run (no data-images-* attributes after load)" >&2
    exit 1
fi
if [[ ! -s "$SHOT" ]]; then
    echo "check_report: chromium wrote no screenshot to $SHOT" >&2
    exit 1
fi
if [[ "$broken" != "0" || "$total" == "0" ]]; then
    echo "check_report: $broken of $total images failed to load: $(grep -o 'data-images-broken-src="[^"]*"' <<<"$DOM")" >&2
    exit 1
fi
echo "check_report: $total images, 0 missing; screenshot $SHOT"
