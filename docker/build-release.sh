#!/usr/bin/env bash
# The release build, shared by the Dockerfile's builder stage and CI (tests/proxy/run.sh), so
# the binary the proxy tests exercise is built exactly like the one the image ships.
#
#   docker/build-release.sh [OUT]          build, then copy the binary to OUT (default dist/spotter)
#   docker/build-release.sh --deps RECIPE  Docker only: build just the dependencies from a
#                                          cargo-chef recipe, with the same flags (layer cache)
#
# SPOTTER_STATIC=1 (the default) links glibc statically (`crt-static`), so the binary runs on a
# distroless/static or scratch image with no libc; SPOTTER_STATIC=0 builds a normal dynamic
# binary. Always `--release --locked` with SQLX_OFFLINE=true (queries checked against .sqlx/).
set -euo pipefail
cd "$(dirname "$0")/.."

export SQLX_OFFLINE=true
static=${SPOTTER_STATIC:-1}
args=(--release --locked)
target_dir=${CARGO_TARGET_DIR:-target}
bin_dir=$target_dir/release
if [ "$static" = 1 ]; then
  # An explicit --target keeps crt-static away from build scripts and proc macros.
  triple=${SPOTTER_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
  case "$triple" in
    *-linux-gnu) ;;
    *) echo "build-release: SPOTTER_STATIC=1 needs a *-linux-gnu target, got $triple" >&2; exit 2 ;;
  esac
  export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static"
  args+=(--target "$triple")
  bin_dir=$target_dir/$triple/release
fi

if [ "${1:-}" = "--deps" ]; then
  recipe=${2:?usage: build-release.sh --deps RECIPE}
  exec cargo chef cook "${args[@]}" --recipe-path "$recipe"
fi

out=${1:-dist/spotter}
cargo build "${args[@]}" --bin spotter
mkdir -p "$(dirname "$out")"
cp "$bin_dir/spotter" "$out"
"$out" --version >&2
echo "build-release: $out ($(du -h "$out" | cut -f1), static=$static)" >&2
