#!/usr/bin/env bash
# The test command: starts the real Subsonic peer (the Navidrome stand-in from ../shared),
# runs every test target, then the real-proxy tests, and stops the peer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${SPOTTER_SHARED_DIR:-$ROOT/../shared}
export SQLX_OFFLINE=true

log() { printf '[test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

PEER_DIR=${SUBSONIC_DIR:-/tmp/spotter-subsonic}
log "starting the Subsonic peer"
SUBSONIC_URL=$(bash "$SHARED/peers/subsonic/start.sh" "$PEER_DIR" | tail -n 1)
stop_peer() { bash "$SHARED/peers/subsonic/stop.sh" "$PEER_DIR" >/dev/null 2>&1 || true; }
trap stop_peer EXIT
set -a; . "$PEER_DIR/run/peer.env"; set +a
export SPOTTER_TEST_SUBSONIC_URL=$SUBSONIC_URL

log "cargo test"
cargo test --locked --all-targets

if [ -x tests/proxy/run.sh ]; then
  log "real-proxy tests"
  tests/proxy/run.sh
fi
log "all tests passed"
