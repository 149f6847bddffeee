#!/usr/bin/env bash
# Catalogue import of a large library, end to end with the release binary: a fake Subsonic
# server (benches/fake_subsonic.py) serves TRACKS generated songs; we sign in, wait for the
# first import, then ask for a re-scan of the unchanged library. Prints the import time, the
# server's peak RSS (VmHWM) and the no-change re-scan time.
# Usage: benches/import.sh [TRACKS]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
TRACKS=${1:-100000}

export SQLX_OFFLINE=true
cargo build --release --locked --bin spotter >&2
BIN=target/release/spotter

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FP=$(port); SP=$(port)
python3 benches/fake_subsonic.py "$FP" "$TRACKS" & pids+=($!)
until curl -fs "http://127.0.0.1:$FP/rest/ping" >/dev/null 2>&1; do :; done

export SPOTTER_SECURITY_ENCRYPTION_KEY=$(openssl rand -hex 32)
export SPOTTER_SECURITY_JWT_SECRET=$(openssl rand -hex 32)
export SPOTTER_NAVIDROME_BASE_URL=http://127.0.0.1:$FP
export SPOTTER_SERVER_HOST=127.0.0.1 SPOTTER_SERVER_PORT=$SP SPOTTER_SERVER_BASE_URL=http://127.0.0.1:$SP
export SPOTTER_SECURITY_SECURE_COOKIES=false SPOTTER_DATABASE_SOURCE=$work/spotter.db
export SPOTTER_LOG_LEVEL=warn
"$BIN" >"$work/spotter.log" 2>&1 & spid=$!; pids+=($spid)
until curl -fs "http://127.0.0.1:$SP/readyz" >/dev/null 2>&1; do :; done
base=http://127.0.0.1:$SP
jar=$work/jar

csrf_of() { curl -fs -c "$jar" -b "$jar" "$base$1" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1; }
# The newest library_import run: "<id> <outcome>".
last_import() {
  curl -fs -b "$jar" "$base/api/v1/jobs" | python3 -c '
import json, sys
for j in json.load(sys.stdin):
    if j["name"] == "library_import":
        r = j["last_run"] or {}
        print(1 if j["running"] else 0, r.get("started") or "-", r.get("outcome") or "-", json.dumps(r.get("counts") or {}, separators=(",", ":")))'
}
# Sign-in and "Sync now" answer once the run is claimed, so the first poll that finds no run
# going sees the one asked for finished.
wait_import_done() {
  while :; do
    read -r running _ outcome counts < <(last_import)
    if [ "$running" = 0 ]; then echo "$outcome $counts"; return; fi
    sleep 0.05
  done
}

csrf=$(csrf_of /auth/login)
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: $base" \
  --data-urlencode username=owner --data-urlencode password=pw --data-urlencode "csrf_token=$csrf" "$base/login")
[ "$code" = 303 ] || { echo "import: sign-in failed ($code)" >&2; exit 1; }
result=$(wait_import_done)
t1=$(date +%s%N)
echo "first import of $TRACKS tracks: $(( (t1 - t0) / 1000000 )) ms ($result)"
echo "peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$spid/status)"

csrf=$(csrf_of /library)
t0=$(date +%s%N)
curl -fs -o /dev/null -b "$jar" -H "Origin: $base" --data-urlencode "csrf_token=$csrf" "$base/library/sync"
result=$(wait_import_done)
t1=$(date +%s%N)
echo "no-change re-scan: $(( (t1 - t0) / 1000000 )) ms ($result)"
echo "peak RSS after the re-scan: $(awk '/VmHWM/ {print $2, $3}' /proc/$spid/status)"
