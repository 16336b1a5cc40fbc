#!/usr/bin/env bash
# Reply import benchmark (not part of the tests): N realistic messages (default 10,000) in a
# Dovecot mailbox on loopback; times `dispatch replies import` (first run, then a re-import with
# nothing new) against mbsync copying the same mailbox into a local Maildir.
# Starts its own mail stack (scripts/mailstack, ports from MS_*_PORT) and stops it at the end.
# usage: bench/import.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
runs=${RUNS:-5}
scripts/mailstack install
cargo build --release --quiet
bin=$PWD/target/release/dispatch
work=$(mktemp -d /tmp/dispatch-import-bench.XXXXXX)
chmod 755 "$work" # the servers run as their own users and must reach the stack inside
stack=$work/stack
finish() {
  scripts/mailstack stop "$stack" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap finish EXIT
scripts/mailstack start "$stack"
# shellcheck disable=SC1091
. "$stack/env"

editor=bench-editor@example.test
mail=$DISPATCH_TEST_MAILDIR/bench-editor
python3 bench/gen_replies.py "$mail" "$n" "$editor"
chown -R dovecot:dovecot "$mail"

now() { date +%s%N; }
seconds() { awk -v ns="$1" 'BEGIN {printf "%.3f", ns / 1e9}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Dovecot indexes a Maildir on first access: do that once so both clients find it indexed.
python3 - "$DISPATCH_TEST_IMAP_PORT" "$editor" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login(sys.argv[2], "secret")
m.select("INBOX", readonly=True)
m.uid("FETCH", "1:*", "(UID)")
m.logout()
PY

folder=$work/news
mkdir -p "$folder/issues"
cat >"$folder/config.yaml" <<CONF
newsletter:
  title: The Bench Dispatch
  url: https://bench.example.test/
  from: "Editor <$editor>"
imap:
  host: 127.0.0.1
  port: $DISPATCH_TEST_IMAP_PORT
  security: none
  username: $editor
  password_env: BENCH_IMAP_PASSWORD
  mailbox: INBOX
CONF
export BENCH_IMAP_PASSWORD=secret

start=$(now)
"$bin" --dir "$folder" replies import >"$work/first.txt"
first=$(($(now) - start))
cat "$work/first.txt"

for _ in $(seq "$runs"); do
  start=$(now)
  "$bin" --dir "$folder" replies import >/dev/null
  echo $(($(now) - start))
done | median >"$work/again"
again=$(cat "$work/again")

mkdir -p "$work/mbsync"
# FSync off: mbsync's default fsyncs every message, which would measure the disk, not IMAP.
cat >"$work/mbsyncrc" <<RC
FSync no

IMAPAccount bench
Host 127.0.0.1
Port $DISPATCH_TEST_IMAP_PORT
User $editor
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path $work/mbsync/
Inbox $work/mbsync/INBOX

Channel bench
Far :remote:INBOX
Near :local:INBOX
Sync Pull
Create Near
Expunge None
SyncState *
RC
start=$(now)
mbsync -q -c "$work/mbsyncrc" bench 2>>"$work/mbsync.log"
mbsync_first=$(($(now) - start))
copied=$(find "$work/mbsync/INBOX" -type f -path '*/cur/*' -o -type f -path '*/new/*' | wc -l)
for _ in $(seq "$runs"); do
  start=$(now)
  mbsync -q -c "$work/mbsyncrc" bench 2>>"$work/mbsync.log"
  echo $(($(now) - start))
done | median >"$work/mbsync_again"
mbsync_again=$(cat "$work/mbsync_again")

echo
echo "messages in the mailbox:          $n (mbsync copied $copied)"
echo "dispatch replies import, first:   $(seconds "$first") s"
echo "dispatch replies import, again:   $(seconds "$again") s (median of $runs; target <= 0.100 s)"
echo "mbsync, first:                    $(seconds "$mbsync_first") s"
echo "mbsync, again:                    $(seconds "$mbsync_again") s (median of $runs)"
echo "first import / mbsync:            $(awk -v a="$first" -v b="$mbsync_first" 'BEGIN {printf "%.2f", a / b}') (target <= 1)"
