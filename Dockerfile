# syntax=docker/dockerfile:1
# Spotter: a static binary on distroless/static (no shell, no libc), numeric non-root user,
# state in the /data volume, health checked by the binary itself.
#
# The build steps are docker/build-release.sh, the script CI runs natively before the
# real-proxy tests, so the tested binary and the shipped one are built the same way.
# No secret is ever passed to the build: they arrive at run time (env file or *_FILE).
# For reproducible releases, pin the three base images below by digest (@sha256:...).

ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /src

# The dependency recipe changes only when Cargo.toml/Cargo.lock do.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ENV SQLX_OFFLINE=true \
    SPOTTER_STATIC=1
COPY docker/build-release.sh docker/build-release.sh
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only, with the same flags as the final build: this layer stays cached.
RUN docker/build-release.sh --deps recipe.json
COPY . .
RUN docker/build-release.sh /out/spotter && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12 AS runtime
# distroless/static ships CA certificates (outbound TLS to Spotify, Last.fm, ...) and tzdata.
COPY --from=builder /out/spotter /usr/local/bin/spotter
COPY --from=builder --chown=10001:10001 /out/data /data
ENV SPOTTER_DATABASE_SOURCE=/data/spotter.db \
    SPOTTER_SERVER_HOST=0.0.0.0 \
    SPOTTER_SERVER_PORT=8080
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/spotter", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/spotter"]
CMD ["serve"]
