-- Sessions ended from another device ("Revoke", "Sign out all other sessions"). The session
-- row is deleted at once (the token stops working); this note of the `jti` is kept until the
-- token would have expired anyway, so that the revoked browser's next request can be told why
-- it was signed out. It holds no secret: a `jti` is only an identifier.
CREATE TABLE revoked_sessions (
    jti        TEXT    PRIMARY KEY NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
