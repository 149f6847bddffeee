#!/usr/bin/env bash
# Load test (SPEC §6): the authenticated dashboard against a bare axum "hello" in the same run,
# 64 connections with wrk, on loopback. Also reports start-to-ready time and RSS.
# Needs: wrk (Debian package), the Subsonic peer running (scripts/test.sh or shared/peers/...).
# Usage: benches/load.sh [SECONDS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
command -v wrk >/dev/null || { echo "load: install wrk (apt-get install wrk)" >&2; exit 2; }
PEER_ENV=${SUBSONIC_DIR:-/tmp/spotter-subsonic}/run/peer.env
[ -r "$PEER_ENV" ] || { echo "load: start the Subsonic peer first (see README)" >&2; exit 2; }
set -a; . "$PEER_ENV"; set +a

export SQLX_OFFLINE=true
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-C target-feature=+crt-static"
cargo build --release --locked --target "$triple" --bin spotter --example hello >&2
BIN=target/$triple/release/spotter
HELLO=target/$triple/release/examples/hello

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SP=$(port); HP=$(port)
export SPOTTER_SECURITY_ENCRYPTION_KEY=$(openssl rand -hex 32)
export SPOTTER_SECURITY_JWT_SECRET=$(openssl rand -hex 32)
export SPOTTER_NAVIDROME_BASE_URL=$SUBSONIC_URL
export SPOTTER_SERVER_HOST=127.0.0.1 SPOTTER_SERVER_PORT=$SP SPOTTER_SERVER_BASE_URL=http://127.0.0.1:$SP
export SPOTTER_SECURITY_SECURE_COOKIES=false SPOTTER_DATABASE_SOURCE=$work/spotter.db
export SPOTTER_LOG_LEVEL=warn

# Migrate once, then measure start-to-ready on the already-migrated database.
"$BIN" backup "$work/first.db" >/dev/null
t0=$(date +%s%N)
"$BIN" >"$work/spotter.log" 2>&1 & pids+=($!)
until curl -fs "http://127.0.0.1:$SP/readyz" >/dev/null 2>&1; do :; done
t1=$(date +%s%N)
echo "start to /readyz: $(( (t1 - t0) / 1000000 )) ms"
echo "idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/${pids[0]}/status)"

"$HELLO" "$HP" & pids+=($!)
until curl -fs "http://127.0.0.1:$HP/" >/dev/null 2>&1; do :; done

jar=$work/jar
csrf=$(curl -fs -c "$jar" -b "$jar" "http://127.0.0.1:$SP/auth/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1)
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: http://127.0.0.1:$SP" \
  --data-urlencode "username=$SUBSONIC_USER" --data-urlencode "password=$SUBSONIC_PASSWORD" \
  --data-urlencode "csrf_token=$csrf" "http://127.0.0.1:$SP/login")
[ "$code" = 303 ] || { echo "load: login failed ($code)" >&2; exit 1; }
token=$(awk '$6 == "spotter_token" {print $7}' "$jar")
curl -fs -H "Cookie: spotter_token=$token" "http://127.0.0.1:$SP/" | grep -q "Welcome" || { echo "load: dashboard not served" >&2; exit 1; }

run() { wrk -t2 -c64 -d"${DURATION}s" --latency "$@"; }
echo "== hello =="
run "http://127.0.0.1:$HP/" | tee "$work/hello.txt"
echo "== dashboard (signed in) =="
run -H "Cookie: spotter_token=$token" "http://127.0.0.1:$SP/" | tee "$work/dash.txt"
echo "loaded RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/${pids[0]}/status)"

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ {print}' "$1"; }
h=$(rps "$work/hello.txt"); d=$(rps "$work/dash.txt")
echo "hello: $h req/s; dashboard: $d req/s; ratio: $(awk -v d="$d" -v h="$h" 'BEGIN {printf "%.1f%%", 100*d/h}')"
echo "dashboard p99: $(awk '/ 99%/ {print $2}' "$work/dash.txt")"
e=$(errors "$work/dash.txt"); [ -z "$e" ] && echo "dashboard errors: none" || echo "dashboard errors: $e"
