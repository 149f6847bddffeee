-- Foundation: the owner account, server-side sessions, the encrypted Navidrome password,
-- and the audit log. Times are Unix seconds (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    is_owner      INTEGER NOT NULL DEFAULT 0 CHECK (is_owner IN (0, 1)),
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT;

-- At most one owner (single-user instance, SPEC S7).
CREATE UNIQUE INDEX users_one_owner ON users (is_owner) WHERE is_owner = 1;

-- One row per issued JWT `jti`; deleting the row revokes the token at once.
CREATE TABLE sessions (
    jti          TEXT    PRIMARY KEY NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    client_ip    TEXT    NOT NULL,
    user_agent   TEXT    NOT NULL
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);

-- The Navidrome password, kept (encrypted, enc:v2) for background Subsonic calls.
CREATE TABLE navidrome_credentials (
    user_id      INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_enc TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- Security events (SPEC S13). `detail` never holds a secret.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    kind       TEXT    NOT NULL,
    username   TEXT    NOT NULL DEFAULT '',
    client_ip  TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX audit_events_created ON audit_events (created_at);
