# Helpers for tests/proxy/run.sh (sourced). Globals: ROOT, WORK, BIN, the *_HTTPS/_HTTP/SP_*
# ports and bases set by run.sh; P_* describe the proxy (or direct connection) under test.

PIDS=()
PASSED=0
FAILED=0
NOTE=
USED_PORTS=" "
DIRECT_CHROOT=0
declare -A SP_PORT=()
declare -A LATENCY=()

log() { printf '[proxy %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
section() { printf '\n== %s\n' "$*"; }
note() { NOTE="${NOTE:+$NOTE; }$*"; }

check() {
  local name=$1
  shift
  NOTE=
  if "$@"; then
    PASSED=$((PASSED + 1))
    printf 'PASS  %s%s\n' "$name" "${NOTE:+  [$NOTE]}"
  else
    FAILED=$((FAILED + 1))
    printf 'FAIL  %s%s\n' "$name" "${NOTE:+  [$NOTE]}"
  fi
}

summary() {
  [ "$FAILED" -eq 0 ] || show_logs
  echo
  for p in "${!LATENCY[@]}"; do echo "SSE latency through $p: ${LATENCY[$p]} ms"; done
  SUMMARY_DONE=1
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

show_logs() {
  local f
  for f in "$WORK"/*.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f"
    tail -n 15 "$f"
  done
}

cleanup() {
  local rc=$? pid i
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # A set-up failure (before the summary) shows the logs here; failed checks showed them already.
  if [ "$rc" -ne 0 ] && [ "${SUMMARY_DONE:-0}" = 0 ]; then
    show_logs
    echo "proxy tests aborted during set-up"
  fi
  if [ "${PROXY_TEST_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}

# wait_until TRIES CMD... : run CMD every 0.1 s until it succeeds (bounded).
wait_until() {
  local tries=$1 i
  shift
  for i in $(seq 1 "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# alloc_port VAR: a free loopback port, different from every port handed out before.
alloc_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    [[ $USED_PORTS == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  echo "no free port" >&2
  return 1
}

gen_certs() {
  local d=$1 name=$2
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=Spotter proxy-test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$d/privkey.pem" -out "$d/leaf.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$name" >"$d/leaf.ext"
  openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/leaf.ext" -out "$d/fullchain.pem" 2>/dev/null
}

# The environment every Spotter instance gets: the throwaway secrets and nothing else SPOTTER_*.
spotter_env() {
  local v
  for v in $(compgen -e); do
    case $v in SPOTTER_*) unset "$v" ;; esac
  done
  set -a
  . "$WORK/secrets.env"
  set +a
  export SPOTTER_LOG_LEVEL=info SPOTTER_SERVER_HOST=127.0.0.1
}

# start_spotter NAME PORT [VAR=value...]
start_spotter() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$WORK/spotter-$name"
  (
    spotter_env
    cd "$WORK/spotter-$name"
    exec env SPOTTER_SERVER_PORT="$port" SPOTTER_DATABASE_SOURCE="$WORK/spotter-$name/spotter.db" \
      SPOTTER_NAVIDROME_BASE_URL="$SUBSONIC_URL" "$@" "$BIN" serve
  ) >"$WORK/spotter-$name.log" 2>&1 &
  PIDS+=("$!")
  SP_PORT[$name]=$port
}

# Like the image: a root holding only the static binary, CA certificates, /etc/hosts, a
# /data owned by 10001 and the /dev nodes every container has, run as 10001:10001. Navidrome is reached by a hostname (as in compose),
# so a login proves name resolution works without any libc or NSS module on disk.
# Falls back to start_spotter when not root or the binary is not static.
start_spotter_image_like() {
  local name=$1 port=$2
  shift 2
  if [ "$(id -u)" != 0 ] || ! command -v chroot >/dev/null || ! is_static "$BIN"; then
    log "$name: plain process (chroot needs root and a static binary)"
    start_spotter "$name" "$port" "$@"
    return
  fi
  local r=$WORK/spotter-$name-root
  mkdir -p "$r/usr/local/bin" "$r/etc/ssl/certs" "$r/data" "$r/tmp" "$r/dev"
  # A container always has these; the static binary reads /dev/urandom (no getrandom via dlsym).
  if ! { mknod -m 666 "$r/dev/null" c 1 3 && mknod -m 666 "$r/dev/urandom" c 1 9 &&
    mknod -m 666 "$r/dev/random" c 1 8; } 2>/dev/null; then
    log "$name: plain process (cannot create device nodes for a chroot here)"
    start_spotter "$name" "$port" "$@"
    return
  fi
  cp "$BIN" "$r/usr/local/bin/spotter"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
  printf '127.0.0.1 localhost navidrome.test\n' >"$r/etc/hosts"
  chown 10001:10001 "$r/data"
  chmod 1777 "$r/tmp"
  local nav_url
  nav_url=$(sed -E 's#^(https?://)[^:/]+#\1navidrome.test#' <<<"$SUBSONIC_URL")
  (
    spotter_env
    exec env SPOTTER_SERVER_PORT="$port" SPOTTER_DATABASE_SOURCE=/data/spotter.db \
      SPOTTER_NAVIDROME_BASE_URL="$nav_url" "$@" \
      chroot --userspec=10001:10001 "$r" /usr/local/bin/spotter serve
  ) >"$WORK/spotter-$name.log" 2>&1 &
  PIDS+=("$!")
  SP_PORT[$name]=$port
  DIRECT_CHROOT=1
  CHROOT_DIR=$r
}

chroot_healthcheck() {
  env -i SPOTTER_SERVER_HOST=127.0.0.1 SPOTTER_SERVER_PORT="${SP_PORT[direct]}" \
    "$(command -v chroot)" --userspec=10001:10001 "$CHROOT_DIR" /usr/local/bin/spotter healthcheck
}

spotter_ready() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$1/readyz")" = ready ]; }

wait_spotter() {
  if ! wait_until 150 spotter_ready "${SP_PORT[$1]}"; then
    echo "spotter '$1' did not become ready:" >&2
    tail -n 30 "$WORK/spotter-$1.log" >&2
    return 1
  fi
}

is_static() { LC_ALL=C ldd "$1" 2>&1 | grep -Eq 'not a dynamic executable|statically linked'; }

caddy_env() {
  local d=$WORK/caddy
  mkdir -p "$d/data" "$d/config"
  export HOME=$d XDG_DATA_HOME=$d/data XDG_CONFIG_HOME=$d/config
}

start_caddy() {
  log "starting caddy on 127.0.0.1:$CADDY_HTTPS (docker/Caddyfile, unchanged)"
  (
    caddy_env
    exec env SPOTTER_DOMAIN="spotter.localhost:$CADDY_HTTPS" NAVIDROME_DOMAIN="music.localhost:$CADDY_HTTPS" \
      SPOTTER_UPSTREAM="127.0.0.1:$SP_CADDY" NAVIDROME_UPSTREAM="$NAV_HOSTPORT" \
      CADDY_BIND=127.0.0.1 CADDY_HTTP_PORT="$CADDY_HTTP" CADDY_HTTPS_PORT="$CADDY_HTTPS" CADDY_ADMIN=off \
      caddy run --config "$ROOT/docker/Caddyfile" --adapter caddyfile
  ) >"$WORK/caddy.log" 2>&1 &
  PIDS+=("$!")
  CADDY_CA=$WORK/caddy/data/caddy/pki/authorities/local/root.crt
  if ! wait_until 300 caddy_ready; then
    echo "caddy did not start serving https:" >&2
    tail -n 30 "$WORK/caddy.log" >&2
    return 1
  fi
}

caddy_ready() {
  [ -s "$CADDY_CA" ] && curl -sf --max-time 2 --cacert "$CADDY_CA" \
    --resolve "spotter.localhost:$CADDY_HTTPS:127.0.0.1" "https://spotter.localhost:$CADDY_HTTPS/healthz"
}

render_nginx() {
  local d=$WORK/nginx
  sed -e "s#listen 443 #listen 127.0.0.1:$NGINX_HTTPS #" \
    -e "s#listen 80;#listen 127.0.0.1:$NGINX_HTTP;#" \
    -e "s#/etc/nginx/certs/#$d/certs/#g" \
    -e "s#server spotter:8080;#server 127.0.0.1:$SP_NGINX;#" \
    "$ROOT/docker/nginx.conf" >"$d/nginx.conf"
}

start_nginx() {
  local d=$WORK/nginx
  mkdir -p "$d/certs" "$d/logs"
  cp "$WORK/certs/fullchain.pem" "$WORK/certs/privkey.pem" "$d/certs/"
  render_nginx
  log "starting nginx on 127.0.0.1:$NGINX_HTTPS (docker/nginx.conf, ports/certs/upstream rendered)"
  nginx -t -q -p "$d" -e stderr -c "$d/nginx.conf" -g "pid $d/nginx.pid;"
  nginx -p "$d" -e stderr -c "$d/nginx.conf" -g "daemon off; pid $d/nginx.pid;" >"$WORK/nginx.log" 2>&1 &
  PIDS+=("$!")
  if ! wait_until 100 curl -sf --max-time 2 --cacert "$WORK/certs/ca.pem" \
    --resolve "spotter.example.com:$NGINX_HTTPS:127.0.0.1" "https://spotter.example.com:$NGINX_HTTPS/healthz"; then
    echo "nginx did not start serving https:" >&2
    tail -n 30 "$WORK/nginx.log" >&2
    return 1
  fi
}

# --- the client side ---------------------------------------------------------------------------

use_proxy() {
  case $1 in
    caddy) P_HOST=spotter.localhost P_PORT=$CADDY_HTTPS P_HTTP_PORT=$CADDY_HTTP P_CA=$CADDY_CA ;;
    nginx) P_HOST=spotter.example.com P_PORT=$NGINX_HTTPS P_HTTP_PORT=$NGINX_HTTP P_CA=$WORK/certs/ca.pem ;;
  esac
  P_NAME=$1
  P_BASE=https://$P_HOST:$P_PORT
  P_CURL=(curl -sS --max-time 10 --cacert "$P_CA"
    --resolve "$P_HOST:$P_PORT:127.0.0.1" --resolve "$P_HOST:$P_HTTP_PORT:127.0.0.1"
    --resolve "music.localhost:$P_PORT:127.0.0.1")
  VIEWER=127.0.0.2
}

use_direct() {
  P_NAME=direct
  P_BASE=$DIRECT_BASE
  P_CURL=(curl -sS --max-time 10)
  VIEWER=127.0.0.7
}

# pcurl SOURCE_IP curl-args... : curl from a given loopback source address.
pcurl() {
  local ip=$1
  shift
  "${P_CURL[@]}" --interface "$ip" "$@"
}

jar() { echo "$WORK/jar.$P_NAME.$1"; }

http_status_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2")" = "$1" ]; }

body_contains() { pcurl 127.0.0.2 "$2" | grep -q "$1"; }

# prepare_login IP JAR: open the login page (pre-session cookie) and keep its CSRF token.
prepare_login() {
  local page
  page=$(pcurl "$1" -c "$2" -b "$2" "$P_BASE/auth/login") || return 1
  TOKEN=$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$page" | head -n 1 | sed 's/.*value="//; s/"$//')
  [ -n "$TOKEN" ]
}

# submit_login IP USER PASSWORD JAR [curl-args...]: prints the status; headers in $WORK/last.h.
submit_login() {
  local ip=$1 user=$2 pass=$3 jar=$4
  shift 4
  pcurl "$ip" -c "$jar" -b "$jar" -o "$WORK/last.body" -D "$WORK/last.h" -w '%{http_code}' \
    -H "Origin: $P_BASE" --data-urlencode "username=$user" --data-urlencode "password=$pass" \
    --data-urlencode "csrf_token=$TOKEN" "$@" "$P_BASE/login" || echo " curl-error"
}

attempt() {
  prepare_login "$1" "$4" || { echo "no-login-page"; return; }
  submit_login "$@"
}

attempt_is() {
  local code
  code=$(attempt "$2" "$NAV_USER" "wrong-password" "$(jar "$2")")
  note "status $code"
  [ "$code" = "$1" ]
}

login_page_ok() {
  local jar
  jar=$(jar 127.0.0.9)
  prepare_login 127.0.0.9 "$jar" && grep -q 'spotter_pre' "$jar"
}

login_secure_cookie() {
  local ip=$1 jar code sc
  jar=$(jar "$ip")
  code=$(attempt "$ip" "$NAV_USER" "$NAV_PASS" "$jar" -H 'X-Forwarded-For: 203.0.113.7')
  [ "$code" = 303 ] || { note "status $code"; return 1; }
  sc=$(grep -i '^set-cookie: spotter_token=' "$WORK/last.h") || { note "no spotter_token cookie"; return 1; }
  note "$(sed -E 's/=[^;]*/=.../; s/\r//' <<<"$sc")"
  grep -Eqi ';[[:space:]]*secure([;[:space:]]|$)' <<<"$sc" && grep -qi ';[[:space:]]*httponly' <<<"$sc"
}

has_hsts() { pcurl 127.0.0.2 -o /dev/null -D - "$1" | grep -qi '^strict-transport-security: max-age='; }
no_hsts() { ! curl -s --max-time 5 -o /dev/null -D - "$1" | grep -qi '^strict-transport-security'; }

signed_in_ok() {
  local body code
  code=$(pcurl "$1" -b "$(jar "$1")" -o "$WORK/page.html" -w '%{http_code}' "$P_BASE/")
  note "GET / -> $code"
  [ "$code" = 200 ] && ! grep -q 'name="password"' "$WORK/page.html"
}

# audit_ips KIND: client IPs of the audit rows of one kind, as the signed-in viewer sees them.
audit_ips() {
  pcurl "$VIEWER" -b "$(jar "$VIEWER")" "$P_BASE/preferences/security" |
    sed -n '/id="audit-log"/,/<\/table>/p' | tr -d '\n' | sed 's/<tr/\n<tr/g' |
    grep "audit-$1\"" | sed -n 's/.*<code>\([^<]*\)<\/code>.*/\1/p'
}

audit_shows() {
  local kind=$1 want=$2 bad=$3 ips
  ips=$(audit_ips "$kind")
  note "$kind rows: $(sort -u <<<"$ips" | tr '\n' ' ')"
  grep -qx "$want" <<<"$ips" && ! grep -qx "$bad" <<<"$ips"
}

limiter_blocks() {
  local ip=$1 jar codes=() i
  jar=$(jar "$ip")
  for i in 1 2 3 4 5 6; do codes+=("$(attempt "$ip" "$NAV_USER" "wrong-$i" "$jar")"); done
  note "statuses: ${codes[*]}"
  [ "${codes[*]}" = "401 401 401 401 401 429" ]
}

sse_latency_under() {
  local max=$1 out=$WORK/sse.$P_NAME hdr=$WORK/sse.$P_NAME.h jar pid apid t0 t1= i ms
  jar=$(jar 127.0.0.2)
  : >"$out"
  pcurl 127.0.0.2 -N --max-time 60 -b "$jar" -H 'Accept: text/event-stream' -D "$hdr" \
    "$P_BASE/events" >"$out" 2>/dev/null &
  pid=$!
  PIDS+=("$pid")
  if ! wait_until 50 grep -q '^: *connected' "$out"; then
    note "stream did not open"
    kill "$pid" 2>/dev/null
    return 1
  fi
  prepare_login 127.0.0.5 "$(jar 127.0.0.5)" || { note "no login page"; return 1; }
  t0=$EPOCHREALTIME
  submit_login 127.0.0.5 "$NAV_USER" wrong-for-sse "$(jar 127.0.0.5)" >/dev/null &
  apid=$!
  for i in $(seq 1 300); do
    if grep -q 'login_failed' "$out"; then t1=$EPOCHREALTIME; break; fi
    sleep 0.005
  done
  wait "$apid" || true
  kill "$pid" 2>/dev/null || true
  [ -n "$t1" ] || { note "no event within the time limit"; return 1; }
  ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
  LATENCY[$P_NAME]=$ms
  note "$ms ms from sending the request to receiving the event"
  grep -qi '^content-type: text/event-stream' "$hdr" || { note "not text/event-stream"; return 1; }
  grep -q '^event: audit' "$out" || { note "no 'event: audit' line"; return 1; }
  awk -v m="$ms" -v max="$max" 'BEGIN { exit !(m < max * 1000) }'
}

http_redirects_to_https() {
  local r
  r=$(pcurl 127.0.0.2 -o /dev/null -w '%{http_code} %{redirect_url}' "http://$P_HOST:$P_HTTP_PORT/")
  note "$r"
  [[ $r =~ ^30[178]\ https://$P_HOST[:/] ]]
}

# A 2 MB body gets 413 and never reaches a handler. nginx answers itself
# (client_max_body_size, checked against Content-Length); Caddy streams the body on, so
# Spotter's own 64 KiB limit answers first (Caddy's max_size caps what it would forward).
# Spotter's pages carry its Content-Security-Policy, the proxies' don't: that tells who answered.
oversize_refused() {
  # Both shipped configurations refuse a body declared larger than their limit at the edge,
  # before proxying it. The proxy may answer 413 and close while the client is still
  # uploading; curl then sees a reset (000). That is a refusal too, but only a 413 proves the
  # limit, so try up to ten times: one 413 from the proxy itself is needed and nothing but
  # 413/000 is accepted (Caddy's 502, when the body reaches Spotter before its own limit
  # trips, is what the Content-Length rule in docker/Caddyfile prevents).
  local code who codes="" got413=1 i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    rm -f "$WORK/big.h"
    code=$(head -c 2000000 /dev/zero | tr '\0' 'a' | pcurl 127.0.0.6 -o /dev/null -D "$WORK/big.h" \
      -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @- \
      "$P_BASE/login" 2>/dev/null || true)
    codes="$codes $code"
    case $code in
      413) got413=0; break ;;
      000) ;;
      *) note "unexpected answer:$codes"; return 1 ;;
    esac
  done
  if grep -qi '^content-security-policy' "$WORK/big.h" 2>/dev/null; then who=Spotter; else who=$P_NAME; fi
  note "answers:$codes (413 from $who)"
  [ "$got413" = 0 ] && [ "$who" = "$P_NAME" ]
}

navidrome_via_caddy() {
  local path
  path=$(sed -E 's#^https?://[^/]+##' <<<"$SUBSONIC_URL")
  pcurl 127.0.0.2 "https://music.localhost:$P_PORT$path/rest/ping?f=json" | grep -q 'subsonic-response'
}

config_is_shipped() {
  case $1 in
    caddy)
      # As compose runs it (default environment): a valid configuration.
      (caddy_env && cd "$WORK/caddy" && caddy validate --config "$ROOT/docker/Caddyfile" --adapter caddyfile) \
        >"$WORK/caddy-validate.log" 2>&1 || { note "caddy validate failed"; return 1; }
      note "docker/Caddyfile used as is; with compose's defaults it validates"
      ;;
    nginx)
      diff <(grep -v -e 'listen ' -e '/etc/nginx/certs/' -e 'server spotter:8080;' "$ROOT/docker/nginx.conf") \
        <(grep -v -e 'listen 127.0.0.1:' -e "$WORK/nginx/certs/" -e 'server 127.0.0.1:' "$WORK/nginx/nginx.conf") \
        >/dev/null || { note "rendered file differs in other lines"; return 1; }
      note "$(diff "$ROOT/docker/nginx.conf" "$WORK/nginx/nginx.conf" | grep -c '^>') lines rendered"
      ;;
  esac
}

direct_spoof_ignored() {
  local jar code
  jar=$(jar 127.0.0.7)
  code=$(attempt 127.0.0.7 "$NAV_USER" "$NAV_PASS" "$jar" -H 'X-Forwarded-For: 203.0.113.7' \
    -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: evil.example')
  [ "$code" = 303 ] || { note "login status $code"; return 1; }
  audit_shows login_ok 127.0.0.7 203.0.113.7
}

direct_limiter_not_bypassed() {
  local jar codes=() i
  jar=$(jar 127.0.0.8)
  for i in 1 2 3 4 5 6; do
    codes+=("$(attempt 127.0.0.8 "$NAV_USER" "wrong-$i" "$jar" -H "X-Forwarded-For: 198.51.100.$i")")
  done
  note "statuses: ${codes[*]}"
  [ "${codes[*]}" = "401 401 401 401 401 429" ]
}
