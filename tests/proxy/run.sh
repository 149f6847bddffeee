#!/usr/bin/env bash
# Real-proxy tests: the release binary behind Debian's caddy and nginx, configured with the
# files users copy from docker/ (Caddyfile unchanged, only environment variables; nginx.conf
# with its listen ports, certificate directory and upstream address rewritten), checked with
# curl over verified HTTPS. Everything listens on loopback; clients use other loopback source
# addresses (127.0.0.2, .3, ...) so the proxy (connecting from 127.0.0.1, Spotter's default
# trusted proxy) and the client differ.
#
#   tests/proxy/run.sh        (run by scripts/test.sh; needs caddy, nginx, openssl, curl)
#
# Environment: SUBSONIC_URL/SUBSONIC_USER/SUBSONIC_PASSWORD (the Navidrome stand-in; started
# from ../shared when unset), PROXY_TEST_KEEP=1 keeps the work directory for inspection.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/proxy/lib.sh

for tool in caddy nginx openssl curl; do
  command -v "$tool" >/dev/null || { echo "proxy tests: $tool is not installed (.ci/run installs it)" >&2; exit 1; }
done

if [ -z "${SUBSONIC_URL:-}" ]; then
  peer_dir=${SUBSONIC_DIR:-/tmp/spotter-subsonic}
  log "starting the Subsonic peer (left running)"
  bash "${SPOTTER_SHARED_DIR:-$ROOT/../shared}/peers/subsonic/start.sh" "$peer_dir" >/dev/null
  set -a; . "$peer_dir/run/peer.env"; set +a
fi
NAV_USER=${SUBSONIC_USER:-demo}
NAV_PASS=${SUBSONIC_PASSWORD:?}
NAV_HOSTPORT=$(sed -E 's#^https?://([^/]+).*#\1#' <<<"$SUBSONIC_URL")

WORK=$(mktemp -d /tmp/spotter-proxy.XXXXXX)
trap cleanup EXIT

# --- the binary, built exactly as the Dockerfile builds it -----------------------------------
log "release build (docker/build-release.sh)"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/proxy-test/spotter
docker/build-release.sh "$BIN"

# --- throwaway secrets (with the quick-start script) and certificates ------------------------
docker/gen-secrets.sh "$WORK/secrets.env" 2>/dev/null
gen_certs "$WORK/certs" spotter.example.com

# --- Spotter instances ------------------------------------------------------------------------
for v in CADDY_HTTPS CADDY_HTTP NGINX_HTTPS NGINX_HTTP SP_CADDY SP_NGINX SP_DIRECT SP_WARN; do
  alloc_port "$v"
done
CADDY_BASE=https://spotter.localhost:$CADDY_HTTPS
NGINX_BASE=https://spotter.example.com:$NGINX_HTTPS
DIRECT_BASE=http://127.0.0.1:$SP_DIRECT

# Behind each proxy: default trusted proxies (loopback), secure cookies, an https base URL.
start_spotter caddy "$SP_CADDY" SPOTTER_SERVER_BASE_URL="$CADDY_BASE" SPOTTER_SECURITY_AUTH_RATE_LIMIT=5
start_spotter nginx "$SP_NGINX" SPOTTER_SERVER_BASE_URL="$NGINX_BASE" SPOTTER_SECURITY_AUTH_RATE_LIMIT=5
# Reached directly (no proxy), the way a client bypassing the proxy would; run inside a chroot
# that holds nothing but the binary, like the distroless image, when we are root.
start_spotter_image_like direct "$SP_DIRECT" SPOTTER_SERVER_BASE_URL="$DIRECT_BASE" \
  SPOTTER_SECURITY_SECURE_COOKIES=false SPOTTER_SECURITY_AUTH_RATE_LIMIT=5
# Only for the start-up warning: secure cookies with a plain-http, non-local base URL.
start_spotter warn "$SP_WARN" SPOTTER_SERVER_BASE_URL=http://spotter.example.test
for name in caddy nginx direct warn; do wait_spotter "$name"; done

# --- proxies ----------------------------------------------------------------------------------
start_caddy
start_nginx

# --- checks -----------------------------------------------------------------------------------
section "release binary and start-up"
if [ "${SPOTTER_STATIC:-1}" = 1 ]; then
  check "release binary is statically linked, $(du -h "$BIN" | cut -f1) (runs on distroless/static)" is_static "$BIN"
fi
check "start-up warns: secure cookies with an http base URL" \
  grep -q 'SECURE_COOKIES is true but SPOTTER_SERVER_BASE_URL is plain http' "$WORK/spotter-warn.log"

for proxy in caddy nginx; do
  use_proxy "$proxy"
  section "through $proxy ($P_BASE)"
  check "rendered config equals docker/'s file except ports/certs/upstream" config_is_shipped "$proxy"
  check "TLS verified, /readyz answers ready" body_contains ready "$P_BASE/readyz"
  check "plain http redirects to https" http_redirects_to_https
  check "login page renders with a CSRF token" login_page_ok
  check "login works, cookie is Secure; HttpOnly" login_secure_cookie 127.0.0.2
  check "HSTS is sent (https base URL)" has_hsts "$P_BASE/healthz"
  check "signed-in page loads through the proxy" signed_in_ok 127.0.0.2
  check "audit log shows the forwarded client IP 127.0.0.2, not the spoofed 203.0.113.7" \
    audit_shows login_ok 127.0.0.2 203.0.113.7
  check "limiter keys on the forwarded IP: 127.0.0.3 gets 429 after 5 tries" limiter_blocks 127.0.0.3
  check "  ... while 127.0.0.4 through the same proxy still gets 401" attempt_is 401 127.0.0.4
  check "audit log shows 127.0.0.3 for the failed sign-ins" audit_shows login_failed 127.0.0.3 127.0.0.1
  check "SSE event published by the server arrives in under 1 s" sse_latency_under 1.0
  check "oversized request body (2 MB) refused with 413" oversize_refused
  if [ "$proxy" = caddy ]; then
    check "Navidrome site proxies the Subsonic API" navidrome_via_caddy
  fi
done

section "straight to Spotter from an untrusted address (no proxy)"
use_direct
if [ "$DIRECT_CHROOT" = 1 ]; then
  check "runs as 10001 in a root holding only the binary, CA certs, /etc/hosts and /data" \
    http_status_is 200 "$DIRECT_BASE/readyz"
  check "  ... reaches Navidrome by hostname (navidrome.test) without libc on disk" attempt_is 401 127.0.0.9
  check "  ... its healthcheck subcommand exits 0" chroot_healthcheck
fi
check "no HSTS when the base URL is http" no_hsts "$DIRECT_BASE/healthz"
check "spoofed X-Forwarded-For from 127.0.0.7 is ignored in the audit log" direct_spoof_ignored
check "rotating X-Forwarded-For does not bypass the limiter (429 after 5 tries)" direct_limiter_not_bypassed

summary
