#!/usr/bin/env bash
# Regenerate the compile-time query cache in .sqlx/ (commit the result).
# Needs only sqlite3 and cargo: the sqlx macros write their cache when SQLX_OFFLINE_DIR is set.
set -euo pipefail
cd "$(dirname "$0")/.."
db=target/sqlx-prepare.db
mkdir -p target
rm -f "$db" "$db"-wal "$db"-shm
for f in migrations/*.sql; do sqlite3 "$db" < "$f"; done
sqlite3 "$db" "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
  installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
  checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);"
rm -rf .sqlx && mkdir -p .sqlx
# Force the crate's own code to recompile so every query macro runs again.
touch src/lib.rs
cargo clean -p spotter >/dev/null 2>&1 || true
DATABASE_URL="sqlite:$PWD/$db" SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx" \
  cargo build --all-targets --quiet
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
