#!/usr/bin/env bash
# HTML reply conversion benchmark (not part of the tests): `dispatch replies extract` of an
# HTML-only reply of hostile markup (bench/gen_html_reply.py: nested divs, spans, tables,
# formatting elements, a wide table row, and flat paragraphs for comparison) at each size:
# wall time and peak memory (GNU time -v). Bodies over 1 MB are cut there, so 10 MB costs about
# what 1 MB does.
# usage: bench/replies-html.sh [MB ...]    (default: 1 10)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/dispatch
work=$(mktemp -d /tmp/dispatch-html-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 10)
printf '%-11s %6s %9s %10s\n' shape MB seconds "peak MB"
for mb in "${sizes[@]}"; do
  for shape in divs spans tables formatting wide-row paragraphs; do
    python3 bench/gen_html_reply.py "$shape" $((mb * 1000000)) >"$work/reply.eml"
    /usr/bin/time -v "$bin" replies extract "$work/reply.eml" >/dev/null 2>"$work/time"
    seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$work/time")
    peak_mb=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/time")
    printf '%-11s %6s %9.2f %10s\n' "$shape" "$mb" "$seconds" "$peak_mb"
  done
done
