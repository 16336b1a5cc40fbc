#!/usr/bin/env bash
# Build benchmark: a full build of N issues (default 1,000, ~12 KB of Markdown each) and a
# one-issue rebuild, with wall time and peak memory. Not part of the tests.
# usage: bench/build.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
runs=${RUNS:-5}
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/dispatch
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_archive.py "$work/news" "$n"
md_bytes=$(cat "$work"/news/issues/*.md | wc -c)
echo "archive: $n issues, $((md_bytes / n)) bytes of Markdown per issue on average"

# Prints "seconds peak_kib" of one run of the command.
measure() {
  local start end
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
  end=$(date +%s%N)
  printf '%s %s\n' "$(awk -v ns=$((end - start)) 'BEGIN {printf "%.3f", ns / 1e9}')" "$(tail -1 "$work/time")"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# A full build starts from an empty output folder; the previous one is moved aside (and deleted
# after the timings), so that deleting 4,000 files is not counted as building them.
full() {
  for i in $(seq "$runs"); do
    [ -d "$work/news/build" ] && mv "$work/news/build" "$work/old-build-$i"
    measure "$bin" --dir "$work/news" build
  done
}
one() {
  last=$(ls "$work"/news/issues | tail -1 | sed -E 's/issue-0*([0-9]+)\.md/\1/')
  [ -n "$last" ] || last=0
  name="$((last / 26 + 1)).$((last % 26 + 1))"
  for _ in $(seq "$runs"); do
    measure "$bin" --dir "$work/news" build "$name"
  done
}
full > "$work/full"
one > "$work/one"
rm -rf "$work"/old-build-*
# The same full build in memory (tmpfs): what the build costs without the disk's latency.
shm=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm=$(mktemp -d /dev/shm/dispatch-bench.XXXXXX)
  cp -r "$work/news/issues" "$work/news/config.yaml" "$shm/"
  work_disk=$work
  work=$shm
  trap 'rm -rf "$work_disk" "$shm"' EXIT
  mkdir -p "$shm/news" && mv "$shm/issues" "$shm/config.yaml" "$shm/news/"
  full > "$work_disk/full-shm"
  work=$work_disk
fi
printf 'full build (%s issues): median %s s, peak RSS %s MiB  (target: <= 0.4 s for 1,000)\n' "$n" \
  "$(cut -d' ' -f1 "$work/full" | median)" "$(( $(cut -d' ' -f2 "$work/full" | median) / 1024 ))"
[ -n "$shm" ] && printf 'full build in tmpfs:       median %s s, peak RSS %s MiB  (the same build without disk latency)\n' \
  "$(cut -d' ' -f1 "$work/full-shm" | median)" "$(( $(cut -d' ' -f2 "$work/full-shm" | median) / 1024 ))"
printf 'one-issue rebuild:        median %s s, peak RSS %s MiB  (target: <= 0.05 s)\n' \
  "$(cut -d' ' -f1 "$work/one" | median)" "$(( $(cut -d' ' -f2 "$work/one" | median) / 1024 ))"
