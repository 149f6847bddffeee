#!/usr/bin/env bash
# Load test: the signed-in dashboard and /healthz against a bare axum "hello"
# (same axum and tokio), all servers up in one run, wrk with 64 connections on loopback. A second
# baseline, "headers", is the same hello sending the response headers every Spotter response
# carries (examples/hello_headers.rs): what those headers cost on their own.
# Two variants: HTTP/1.1 keep-alive, and a new connection per request ("Connection: close").
# The targets are measured in turn, in rounds, so a change in the load of a shared host
# falls on all of them: each round gives its own ratios to hello, and the summary shows the
# median round (by ratio) with its req/s, p50/p99 and errors, the range of the ratios, and the
# errors of all rounds. Also start-to-ready time, idle RSS and RSS under load (current, peak).
#
# Needs: wrk (Debian package), the Subsonic peer running (scripts/test.sh or shared/peers/...).
# Usage: benches/load.sh [SECONDS]   (default 10 per measurement)
# Env:   LOAD_ROUNDS (3), LOAD_CONNECTIONS (64), LOAD_THREADS (2), LOAD_SKIP_BUILD=1 (use the last build),
#        LOAD_PERF=<dir> (also record `perf` profiles of /healthz and the dashboard there;
#        build with CARGO_PROFILE_RELEASE_STRIP=false to keep symbols).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
ROUNDS=${LOAD_ROUNDS:-3}
CONNS=${LOAD_CONNECTIONS:-64}
THREADS=${LOAD_THREADS:-2}
command -v wrk >/dev/null || { echo "load: install wrk (apt-get install wrk)" >&2; exit 2; }
PEER_ENV=${SUBSONIC_DIR:-/tmp/spotter-subsonic}/run/peer.env
[ -r "$PEER_ENV" ] || { echo "load: start the Subsonic peer first (see README)" >&2; exit 2; }
set -a; . "$PEER_ENV"; set +a

export SQLX_OFFLINE=true
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-C target-feature=+crt-static"
if [ -z "${LOAD_SKIP_BUILD:-}" ]; then
  cargo build --release --locked --target "$triple" --bin spotter --example hello --example hello_headers >&2
fi
BIN=target/$triple/release/spotter
HELLO=target/$triple/release/examples/hello
HEADERS=target/$triple/release/examples/hello_headers

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SP=$(port); HP=$(port); XP=$(port)
export SPOTTER_SECURITY_ENCRYPTION_KEY=$(openssl rand -hex 32)
export SPOTTER_SECURITY_JWT_SECRET=$(openssl rand -hex 32)
export SPOTTER_NAVIDROME_BASE_URL=$SUBSONIC_URL
export SPOTTER_SERVER_HOST=127.0.0.1 SPOTTER_SERVER_PORT=$SP SPOTTER_SERVER_BASE_URL=http://127.0.0.1:$SP
export SPOTTER_SECURITY_SECURE_COOKIES=false SPOTTER_DATABASE_SOURCE=$work/spotter.db
export SPOTTER_LOG_LEVEL=${SPOTTER_LOG_LEVEL:-info}  # as shipped

rss() { awk '/VmRSS/ {print $2, $3}' "/proc/$1/status"; }
peak() { awk '/VmHWM/ {print $2, $3}' "/proc/$1/status"; }

# Migrate once, then measure start-to-ready on the already-migrated database.
"$BIN" backup "$work/first.db" >/dev/null
t0=$(date +%s%N)
"$BIN" >"$work/spotter.log" 2>&1 & pids+=($!)
SPID=${pids[0]}
until curl -fs "http://127.0.0.1:$SP/readyz" >/dev/null 2>&1; do :; done
t1=$(date +%s%N)
echo "start to /readyz: $(( (t1 - t0) / 1000000 )) ms"
echo "idle RSS (ready): $(rss "$SPID")"

"$HELLO" "$HP" & pids+=($!)
HPID=${pids[1]}
until curl -fs "http://127.0.0.1:$HP/" >/dev/null 2>&1; do :; done
"$HEADERS" "$XP" & pids+=($!)
until curl -fs "http://127.0.0.1:$XP/" >/dev/null 2>&1; do :; done

jar=$work/jar
csrf=$(curl -fs -c "$jar" -b "$jar" "http://127.0.0.1:$SP/auth/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1)
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: http://127.0.0.1:$SP" \
  --data-urlencode "username=$SUBSONIC_USER" --data-urlencode "password=$SUBSONIC_PASSWORD" \
  --data-urlencode "csrf_token=$csrf" "http://127.0.0.1:$SP/login")
[ "$code" = 303 ] || { echo "load: login failed ($code)" >&2; exit 1; }
token=$(awk '$6 == "spotter_token" {print $7}' "$jar")
curl -fs -H "Cookie: spotter_token=$token" "http://127.0.0.1:$SP/" | grep -q "Welcome" || { echo "load: dashboard not served" >&2; exit 1; }
# Let the first-sign-in library import finish, so the measurement sees a quiet server.
for _ in $(seq 1 100); do
  curl -fs -H "Cookie: spotter_token=$token" "http://127.0.0.1:$SP/api/v1/jobs" | grep -q '"running":true' || break
  sleep 0.1
done
sleep 1
echo "idle RSS (signed in, import done): $(rss "$SPID")"

run() { # name, variant, round, url, extra wrk args...
  local name=$1 variant=$2 round=$3 url=$4; shift 4
  local out="$work/$variant-$name-$round.txt"
  local extra=()
  [ "$variant" = close ] && extra=(-H "Connection: close")
  if [ -n "${LOAD_PERF:-}" ] && [ "$round" = 1 ] && [ "$name" != hello ] && [ "$name" != headers ] && command -v perf >/dev/null; then
    mkdir -p "$LOAD_PERF"
    perf record -F 499 -o "$LOAD_PERF/$variant-$name.data" -p "$SPID" -- sleep "$DURATION" >/dev/null 2>&1 &
    local perf_pid=$!
  fi
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${extra[@]}" "$@" "$url" >"$out"
  [ -n "${perf_pid:-}" ] && wait "$perf_pid" || true
}
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }
errs() { # non-2xx/3xx responses plus socket errors
  awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$1"
}
ratio() { awk -v r="$(rps "$1")" -v h="$(rps "$2")" 'BEGIN {printf "%.2f", r/h}'; }

for variant in keepalive close; do
  for round in $(seq 1 "$ROUNDS"); do
    run hello "$variant" "$round" "http://127.0.0.1:$HP/"
    run headers "$variant" "$round" "http://127.0.0.1:$XP/"
    run healthz "$variant" "$round" "http://127.0.0.1:$SP/healthz"
    run dashboard "$variant" "$round" "http://127.0.0.1:$SP/" -H "Cookie: spotter_token=$token"
  done
  echo "RSS under load ($variant): $(rss "$SPID") now, $(peak "$SPID") peak; hello $(rss "$HPID")"
done

echo
echo "each round (req/s, ratio to hello in that round):"
for variant in keepalive close; do
  for round in $(seq 1 "$ROUNDS"); do
    h="$work/$variant-hello-$round.txt"
    line=$(printf '  %-10s round %s: hello %9s' "$variant" "$round" "$(rps "$h")")
    for name in headers healthz dashboard; do
      f="$work/$variant-$name-$round.txt"
      line+=$(printf '  %s %9s %5s' "$name" "$(rps "$f")" "$(ratio "$f" "$h")")
    done
    echo "$line"
  done
done

echo
echo "median round of $ROUNDS:"
printf '%-10s %-10s %10s %8s %8s %8s %7s %11s\n' variant target req/s p50 p99 errors ratio "ratio range"
for variant in keepalive close; do
  for name in hello headers healthz dashboard; do
    # The rounds sorted by this target's ratio (hello: by req/s); the middle one is reported.
    sorted=$(for round in $(seq 1 "$ROUNDS"); do
      if [ "$name" = hello ]; then key=$(rps "$work/$variant-hello-$round.txt")
      else key=$(ratio "$work/$variant-$name-$round.txt" "$work/$variant-hello-$round.txt"); fi
      echo "$key $round"
    done | sort -g)
    mid=$(echo "$sorted" | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) {print $2}')
    range=$(echo "$sorted" | awk -v h="$name" 'NR == 1 {lo = $1} {hi = $1} END {print (h == "hello" ? "-" : lo "-" hi)}')
    total_errors=0
    for round in $(seq 1 "$ROUNDS"); do
      total_errors=$((total_errors + $(errs "$work/$variant-$name-$round.txt")))
    done
    f="$work/$variant-$name-$mid.txt"
    printf '%-10s %-10s %10s %8s %8s %8s %7s %11s\n' "$variant" "$name" "$(rps "$f")" "$(pct "$f" 50%)" \
      "$(pct "$f" 99%)" "$total_errors" "$(ratio "$f" "$work/$variant-hello-$mid.txt")" "$range"
  done
done
echo "(errors: all rounds; headers = hello sending Spotter's response headers)"
echo
echo "targets: dashboard >= 0.50 x hello, /healthz >= 0.80 x hello, 0 errors, idle RSS <= 25 MB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
if grep -q ERROR "$work/spotter.log"; then echo "server log has errors:"; grep ERROR "$work/spotter.log" | head -5; fi
