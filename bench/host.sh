#!/usr/bin/env bash
# `dispatch host` under load (outside `cargo test` and CI).
#
# Builds the example newsletter of this repository (config.yaml, issues/) with a host: section,
# then, on loopback:
#   1. archive pages (the index and every issue page, in turn): `dispatch host` and nginx
#      serving the same build/web, each with wrk, 64 connections;
#   2. POST /subscribe to `dispatch host`, every request a new address, from 50,000 client
#      addresses spread over 127.0.0.0/8 (X-Forwarded-For; 127.0.0.1 is the trusted proxy), so
#      that the limits never refuse one; confirmation mails go to Postfix's smtp-sink, a discard
#      server, so the queue drains.
# Prints requests/s, p99 latency and peak RSS (VmHWM; nginx: master and workers summed) of
# each, checks that every accepted signup is a row of the database (plus at most the requests
# in flight when wrk stopped) and that the mail queue drains, and compares with the targets: pages >= 0.5x nginx's rate with p99 <= 20 ms, >= 500
# signups/s.
#
# usage: bench/host.sh
# environment:
#   BENCH_SHORT=1            5 s per wrk run instead of 30 s
#   BENCH_KEEP=1             keep the work directory (folder, logs)
# Needs wrk, nginx and smtp-sink (postfix): installed with apt-get when missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=30s
[ -z "${BENCH_SHORT:-}" ] || duration=5s
connections=64
threads=$(($(nproc) < 4 ? $(nproc) : 4))

say() { echo "bench: $*" >&2; }
die() {
  say "$*"
  exit 1
}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

say "building the release binary"
(cd "$root" && cargo build --release --locked --quiet)
bin=$root/target/release/dispatch

work=$(mktemp -d "${TMPDIR:-/tmp}/dispatch-bench-host.XXXXXX")
chmod 755 "$work" # nginx's workers (user nobody) read build/web below it
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${BENCH_KEEP:-}" ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Free ports on 127.0.0.1, chosen by the kernel.
read -r host_port nginx_port sink_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

# Waits until something accepts connections on 127.0.0.1:PORT (at most 10 s).
wait_port() {
  local port=$1 what=$2 pid=$3
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || die "$what exited: see $work"
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  die "$what did not listen on 127.0.0.1:$port within 10 s"
}

# The peak resident memory of processes, in KiB, summed.
peak_kib() {
  local total=0 pid kib
  for pid in "$@"; do
    kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

/usr/sbin/smtp-sink -u nobody "127.0.0.1:$sink_port" 1000 >"$work/smtp-sink.log" 2>&1 &
pids+=($!)
wait_port "$sink_port" smtp-sink "$!"

news=$work/news
mkdir -p "$news"
cp -r "$root/issues" "$news/"
[ ! -d "$root/templates" ] || cp -r "$root/templates" "$news/"
cat "$root/config.yaml" - >"$news/config.yaml" <<CONF
smtp:
  host: 127.0.0.1
  port: $sink_port
  security: none
host:
  url: http://127.0.0.1:$host_port/
  listen: 127.0.0.1:$host_port
  trusted_proxies: [127.0.0.1]
CONF
"$bin" --dir "$news" build >/dev/null
"$bin" --dir "$news" subscribers count >/dev/null # creates the database before the host starts
chmod -R a+rX "$news/build"

paths=(/)
for page in "$news"/build/web/*/index.html; do
  paths+=("/$(basename "$(dirname "$page")")/")
done

"$bin" --dir "$news" host >"$work/host.log" 2>&1 &
host_pid=$!
pids+=("$host_pid")
wait_port "$host_port" "dispatch host" "$host_pid"

cat >"$work/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  fastcgi_temp_path $work/nginx-fastcgi;
  uwsgi_temp_path $work/nginx-uwsgi;
  scgi_temp_path $work/nginx-scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $news/build/web;
    index index.html;
  }
}
CONF
/usr/sbin/nginx -c "$work/nginx.conf" 2>>"$work/nginx-error.log" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_port "$nginx_port" nginx "$nginx_pid"

# Both serve the same bytes for every page.
for path in "${paths[@]}"; do
  for port in "$host_port" "$nginx_port"; do
    status=$(curl -s -o "$work/page-$port" -w '%{http_code}' "http://127.0.0.1:$port$path")
    [ "$status" = 200 ] || die "GET $path on port $port answered $status"
  done
  cmp -s "$work/page-$host_port" "$work/page-$nginx_port" || die "GET $path differs between dispatch host and nginx"
done

# wrk's summary: "rate p99_ms non2xx" (p99 converted to milliseconds).
run_wrk() {
  local out=$1
  shift
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
  awk '
    /^Requests\/sec:/ { rate = $2 }
    /^ +99%/ {
      v = $2; unit = v; sub(/^[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
      p99 = v * (unit == "us" ? 0.001 : unit == "s" ? 1000 : unit == "m" ? 60000 : 1)
    }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { errors = $0 }
    END { printf "%.0f %.2f %d\n", rate, p99, bad + 0 }
  ' "$out"
}

say "archive pages (${#paths[@]}), $connections connections, $duration each"
read -r host_rate host_p99 host_bad < <(run_wrk "$work/wrk-pages-host.txt" -s "$root/bench/host-pages.lua" "http://127.0.0.1:$host_port" -- "${paths[@]}")
read -r nginx_rate nginx_p99 nginx_bad < <(run_wrk "$work/wrk-pages-nginx.txt" -s "$root/bench/host-pages.lua" "http://127.0.0.1:$nginx_port" -- "${paths[@]}")
nginx_workers=$(cat "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null || true)
# shellcheck disable=SC2086 # one pid per word
nginx_kib=$(peak_kib "$nginx_pid" $nginx_workers)
host_pages_kib=$(peak_kib "$host_pid")

say "POST /subscribe, $connections connections, $duration"
before=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from subscribers").fetchone()[0])' "$news/subscribers.db")
read -r sub_rate sub_p99 sub_bad < <(run_wrk "$work/wrk-subscribe.txt" -s "$root/bench/host-subscribe.lua" "http://127.0.0.1:$host_port")
accepted=$(awk '/^accepted / {print $2}' "$work/wrk-subscribe.txt")
refused=$(awk '/^refused / {print $2}' "$work/wrk-subscribe.txt")
host_kib=$(peak_kib "$host_pid")

count() {
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$news/subscribers.db" "$1"
}
rows=$(($(count "select count(*) from subscribers where email like 'bench-%'")))
pending=$(count "select count(*) from subscribers where status = 'pending' and email like 'bench-%'")

# The confirmation mails drain into smtp-sink; waiting at most 600 s.
queued=0
for _ in $(seq 1 1200); do
  queued=$(count "select count(*) from mail_queue where state = 'queued'")
  [ "$queued" -eq 0 ] && break
  sleep 0.5
done
sent=$(count "select count(*) from mail_queue where state = 'sent'")

echo
echo "dispatch host vs nginx on 127.0.0.1 ($(nproc) cores, wrk $threads threads, $connections connections, $duration per run)"
printf '%-28s %12s %10s %12s\n' "" "requests/s" "p99 ms" "peak RSS"
printf '%-28s %12s %10s %9s MiB\n' "pages: dispatch host" "$host_rate" "$host_p99" "$((host_pages_kib / 1024))"
printf '%-28s %12s %10s %9s MiB\n' "pages: nginx" "$nginx_rate" "$nginx_p99" "$((nginx_kib / 1024))"
printf '%-28s %12s %10s %9s MiB\n' "POST /subscribe: host" "$sub_rate" "$sub_p99" "$((host_kib / 1024))"
echo
ratio=$(awk -v a="$host_rate" -v b="$nginx_rate" 'BEGIN { printf "%.2f", a / b }')
echo "pages: dispatch host at ${ratio}x nginx's rate (target >= 0.5), p99 ${host_p99} ms (target <= 20)"
echo "signups: $sub_rate/s (target >= 500); $accepted accepted, $refused refused; $rows rows (of them $pending pending; $before rows before); mail queue: $sent sent, $queued still queued"
[ "$host_bad" -eq 0 ] && [ "$nginx_bad" -eq 0 ] || echo "FAIL: non-2xx page answers: host $host_bad, nginx $nginx_bad"
verdict=0
# Every accepted signup is a row. wrk stops with up to one request in flight per connection,
# committed but never counted: at most that many rows more than accepted answers.
if [ "$rows" -lt "$accepted" ] || [ "$rows" -gt $((accepted + connections)) ]; then
  echo "FAIL: $accepted signups accepted but $rows rows in the database"
  verdict=1
fi
if [ "$queued" -ne 0 ]; then
  echo "FAIL: the mail queue did not drain: $queued queued"
  verdict=1
fi
awk -v r="$ratio" -v p="$host_p99" -v s="$sub_rate" 'BEGIN {
  if (r < 0.5) print "MISS: page rate below 0.5x nginx"
  if (p > 20) print "MISS: page p99 above 20 ms"
  if (s < 500) print "MISS: signups below 500/s"
}'
exit "$verdict"
