-- Linked services (Spotify, Last.fm, ListenBrainz), their pending OAuth states, and the health
-- of every link (Navidrome included). Times are Unix seconds (UTC). See ADR 0005.

-- A pending Spotify authorization or Last.fm web-auth round trip (SPEC S5). The state / nonce
-- itself only travels in the redirect; the row keeps its SHA-256. Bound to the session that
-- started it (deleted with it), single-use (deleted when the callback consumes it), and dead
-- after `expires_at`.
CREATE TABLE oauth_states (
    state_hash   TEXT    PRIMARY KEY NOT NULL,
    provider     TEXT    NOT NULL CHECK (provider IN ('spotify', 'lastfm')),
    session_jti  TEXT    NOT NULL REFERENCES sessions (jti) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The PKCE code verifier (Spotify only), enc:v2 with row key = state_hash.
    verifier_enc TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_states_session ON oauth_states (session_jti, provider);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- One linked account per (user, provider). Credentials are enc:v2 with row key
-- "<user_id>:<provider>", so a value copied to another row or service does not decrypt.
CREATE TABLE provider_links (
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider          TEXT    NOT NULL CHECK (provider IN ('spotify', 'lastfm', 'listenbrainz')),
    -- What the service calls the account (Spotify display name, Last.fm / ListenBrainz user).
    account_name      TEXT    NOT NULL,
    -- The credential sent on every call: Spotify access token, Last.fm session key,
    -- ListenBrainz user token.
    access_token_enc  TEXT    NOT NULL,
    -- Spotify only.
    refresh_token_enc TEXT,
    -- Spotify only: when the access token stops working.
    token_expires_at  INTEGER,
    -- Space-separated scopes the service granted (Spotify), for display.
    scopes            TEXT    NOT NULL DEFAULT '',
    linked_at         INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, provider)
) STRICT;

-- Link health (SPEC F11), per (user, provider), from one error classification.
-- `last_error` is a fixed code from `domain::link_health::ErrorCode`, never provider text.
CREATE TABLE link_health (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT    NOT NULL CHECK (provider IN ('navidrome', 'spotify', 'lastfm', 'listenbrainz')),
    status          TEXT    NOT NULL CHECK (status IN ('ok', 'backoff', 'broken', 'misconfigured')),
    backoff_until   INTEGER,
    failure_count   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_checked_at INTEGER NOT NULL,
    last_ok_at      INTEGER,
    PRIMARY KEY (user_id, provider)
) STRICT;
