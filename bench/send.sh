#!/usr/bin/env bash
# Send throughput benchmark (outside `cargo test` and CI).
#
# For each audience size it builds a newsletter folder with that many subscribers and a ~20 KB
# issue, runs `dispatch send --yes` (connections: 8, security: none, rate: 0) against Postfix's
# smtp-sink on loopback under /usr/bin/time, then lets smtp-source push as many messages of the
# same size through the same sink: that is the ceiling an SMTP client reaches on this machine.
# Prints messages/s of both, their ratio and dispatch's peak RSS.
#
# usage: bench/send.sh [SIZE...]          default sizes: 10000 100000
# environment:
#   BENCH_PORT=2526          where smtp-sink listens (127.0.0.1)
#   BENCH_CONNECTIONS=8      smtp.connections, and smtp-source's parallel sessions
#   BENCH_KEEP=1             keep the work directory (folders, logs)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${BENCH_PORT:-2526}
connections=${BENCH_CONNECTIONS:-8}
if (($#)); then sizes=("$@"); else sizes=(10000 100000); fi

say() { echo "bench: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# smtp-sink and smtp-source come with postfix, /usr/bin/time with the package time.
if [ ! -x /usr/sbin/smtp-sink ] || [ ! -x /usr/sbin/smtp-source ] || [ ! -x /usr/bin/time ]; then
  "$root/scripts/mailstack" install time
fi
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
  die "port $port on 127.0.0.1 is in use; choose another with BENCH_PORT"

say "building the release binary"
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/dispatch

work=$(mktemp -d "${TMPDIR:-/tmp}/dispatch-bench.XXXXXX")
sink=""
cleanup() {
  [ -z "$sink" ] || kill "$sink" 2>/dev/null || true
  [ -z "$sink" ] || wait "$sink" 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

/usr/sbin/smtp-sink -u nobody "127.0.0.1:$port" 1000 >"$work/smtp-sink.log" 2>&1 &
sink=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done
kill -0 "$sink" 2>/dev/null || die "smtp-sink did not start: $(cat "$work/smtp-sink.log")"

# An issue of about 20 KB as mailed (plain text and HTML, quoted-printable).
write_issue() {
  local file=$1 i
  {
    printf -- '---\nvolume: 1\nnumber: 1\ntitle: Notes from a long week\ndate: 2030-01-07\n'
    printf -- 'preheader: A benchmark issue of realistic size.\nquestion: What slowed you down this week?\n---\n'
    printf 'Hi friend,\n\n'
    for i in $(seq 1 7); do
      printf '## Part %d: what we measured\n\n' "$i"
      printf 'We spent part %d of the week looking at where time goes when a small team ships a ' "$i"
      printf 'change: review, tests, deploys and the waiting in between. The numbers were not what '
      printf 'anybody expected, and the [write-up](https://example.org/notes/%d) has the details.\n\n' "$i"
      printf -- '- Reviews waited longer than they took.\n- Flaky tests cost a day a month.\n'
      printf -- '- Deploys were fast; *deciding* to deploy was not.\n\n'
      printf '> The queue is the product. Nobody owns the queue.\n\n'
    done
    printf 'Until next time,\nthe editor\n'
  } >"$file"
}

make_folder() { # DIR SIZE
  local dir=$1 size=$2
  mkdir -p "$dir/issues"
  cat >"$dir/config.yaml" <<CONF
newsletter:
  title: The Benchmark Dispatch
  url: https://bench.example.org/
  from: "Bench Editor <editor@bench.example.org>"
  unsubscribe_url: https://bench.example.org/unsubscribe
smtp:
  host: 127.0.0.1
  port: $port
  security: none
  connections: $connections
  rate: 0
CONF
  write_issue "$dir/issues/v1n1-notes.md"
  awk -v n="$size" 'BEGIN { print "email,name"; for (i = 1; i <= n; i++) printf "reader%d@bench.example.org,Reader %d\n", i, i }' \
    >"$dir/subscribers.csv"
  "$bin" --dir "$dir" subscribers import "$dir/subscribers.csv" >/dev/null
}

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# Seconds from /usr/bin/time's "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.34".
wall_seconds() {
  sed -n 's/.*(h:mm:ss or m:ss): //p' "$1" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.3f", s }'
}

results=()
for size in "${sizes[@]}"; do
  dir=$work/news-$size
  say "preparing $size subscribers"
  make_folder "$dir" "$size"
  "$bin" --dir "$dir" build v1n1 >/dev/null
  bytes=$(wc -c <"$dir/build/email/v1n1.eml")

  say "dispatch send: $size messages of $bytes bytes over $connections connections"
  /usr/bin/time -v -o "$dir/time.txt" "$bin" --dir "$dir" send v1n1 --yes \
    >"$dir/send.out" 2>"$dir/send.err" || die "dispatch send failed: $(cat "$dir/send.err")"
  wall=$(wall_seconds "$dir/time.txt")
  rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
  dispatch_rate=$(awk -v n="$size" -v s="$wall" 'BEGIN { printf "%.0f", n / s }')

  say "smtp-source: $size messages of $bytes bytes, $connections sessions, a new connection per message"
  t0=$(now)
  /usr/sbin/smtp-source -s "$connections" -m "$size" -l "$bytes" -f editor@bench.example.org \
    -t reader@bench.example.org "127.0.0.1:$port"
  t1=$(now)
  source_rate=$(rate "$size" "$t0" "$t1")

  say "smtp-source -d: the same, reusing each connection"
  t0=$(now)
  /usr/sbin/smtp-source -d -s "$connections" -m "$size" -l "$bytes" -f editor@bench.example.org \
    -t reader@bench.example.org "127.0.0.1:$port"
  t1=$(now)
  reuse_rate=$(rate "$size" "$t0" "$t1")

  results+=("$(awk -v n="$size" -v b="$bytes" -v w="$wall" -v d="$dispatch_rate" -v s="$source_rate" \
    -v r="$reuse_rate" -v kb="$rss_kb" 'BEGIN {
      printf "%9d %7d %8.1f %10d %12d %8.0f%% %14d %8.0f%% %9.1f",
        n, b, w, d, s, 100 * d / s, r, 100 * d / r, kb / 1024 }')")
  say "dispatch: $(head -n 1 "$dir/send.out")"
done

echo
echo "dispatch send vs smtp-source on 127.0.0.1 ($(nproc) cores, $connections connections, smtp-sink)"
printf "%9s %7s %8s %10s %12s %9s %14s %9s %9s\n" \
  messages bytes wall_s dispatch/s smtp-source/s ratio smtp-source-d/s ratio-d rss_MiB
printf "%s\n" "${results[@]}"
