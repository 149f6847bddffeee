-- The AI DJ ("Vibes"): the AI provider settings entered in the UI, token use per day, DJ
-- personas, mixtapes and their tracks. Times are Unix seconds (UTC).

-- AI provider settings from the settings page. The environment wins over every column here.
-- `api_key_enc` is enc:v2 with row key = user_id (crypto::registry::AI_API_KEY).
CREATE TABLE ai_settings (
    user_id            INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- '' = the server's default endpoint / model.
    base_url           TEXT    NOT NULL DEFAULT '',
    model              TEXT    NOT NULL DEFAULT '',
    api_key_enc        TEXT,
    -- NULL = the server's daily budget; 0 = no limit.
    daily_token_budget INTEGER,
    updated_at         INTEGER NOT NULL
) STRICT;

-- Tokens spent per user and UTC day (day = Unix seconds / 86400), for the daily budget.
CREATE TABLE llm_usage (
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day               INTEGER NOT NULL,
    calls             INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
) STRICT;

-- DJ personas. The lists are kept as the user typed them (comma-separated).
CREATE TABLE dj_personas (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    personality     TEXT    NOT NULL DEFAULT '',
    genres_include  TEXT    NOT NULL DEFAULT '',
    genres_exclude  TEXT    NOT NULL DEFAULT '',
    artists_include TEXT    NOT NULL DEFAULT '',
    artists_exclude TEXT    NOT NULL DEFAULT '',
    vibes           TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (user_id, name)
) STRICT;

-- The starter personas are seeded once per user, even if the user later deletes them.
CREATE TABLE vibes_seeded (
    user_id   INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seeded_at INTEGER NOT NULL
) STRICT;

CREATE TABLE mixtapes (
    id                    INTEGER PRIMARY KEY,
    user_id               INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                  TEXT    NOT NULL,
    dj_id                 INTEGER NOT NULL REFERENCES dj_personas (id) ON DELETE RESTRICT,
    max_tracks            INTEGER NOT NULL,
    seed_type             TEXT    CHECK (seed_type IN ('artist', 'album', 'tracks')),
    -- An artist id, an album id, or comma-separated track ids (catalogue ids).
    seed_id               TEXT,
    schedule              TEXT    NOT NULL DEFAULT 'none'
                                  CHECK (schedule IN ('none', 'daily', 'weekly', 'monthly')),
    -- new: never generated; queued: waiting for the Vibes job; running; ready; failed.
    status                TEXT    NOT NULL DEFAULT 'new'
                                  CHECK (status IN ('new', 'queued', 'running', 'ready', 'failed')),
    -- A fixed, user-facing sentence (never provider text with a key in it).
    error                 TEXT    NOT NULL DEFAULT '',
    intro                 TEXT    NOT NULL DEFAULT '',
    outro                 TEXT    NOT NULL DEFAULT '',
    model                 TEXT    NOT NULL DEFAULT '',
    prompt_tokens         INTEGER NOT NULL DEFAULT 0,
    completion_tokens     INTEGER NOT NULL DEFAULT 0,
    generated_at          INTEGER,
    generation_ms         INTEGER,
    -- The prompt as sent (it holds the user's listening history; shown on request only).
    prompt                TEXT    NOT NULL DEFAULT '',
    -- The Navidrome playlist this mixtape is written to, once saved; updated in place. For an
    -- enhancement written back in place, the enhanced playlist's own id from the start.
    navidrome_playlist_id TEXT,
    -- An enhancement of an imported playlist: its songs reordered and `enhance_add` added.
    source_playlist_id    INTEGER REFERENCES playlists (id) ON DELETE SET NULL,
    enhance_add           INTEGER,
    saved_at              INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;

CREATE INDEX mixtapes_user ON mixtapes (user_id, id);
CREATE INDEX mixtapes_due ON mixtapes (status, schedule);

CREATE TABLE mixtape_tracks (
    mixtape_id INTEGER NOT NULL REFERENCES mixtapes (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    -- NULL once the song left the library (the row keeps its names).
    track_id   TEXT    REFERENCES tracks (id) ON DELETE SET NULL,
    title      TEXT    NOT NULL,
    artist     TEXT    NOT NULL,
    album      TEXT    NOT NULL DEFAULT '',
    reason     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (mixtape_id, position)
) STRICT;
