-- How each listen and playlist track was matched to the catalogue, the cases the matcher sent
-- to review, and the user's own decisions.
--
-- `match_method` is NULL until the matcher has looked at a row (a row may already carry a
-- `track_id` from the exact link made at import; the matcher confirms or replaces it).
-- `manual` means the user's decision applied; `none` with rule `user_not_in_library` likewise.
-- `navidrome` rows name the catalogue track by Navidrome's own id (its plays and playlists):
-- the matcher leaves them alone.
-- A remote track's identity is its (artist_norm, title_norm).

ALTER TABLE listens ADD COLUMN match_method TEXT
    CHECK (match_method IN ('navidrome', 'isrc', 'mbid', 'exact', 'fuzzy', 'review', 'none', 'manual'));
ALTER TABLE listens ADD COLUMN match_score REAL;
ALTER TABLE listens ADD COLUMN match_rule TEXT;
ALTER TABLE listens ADD COLUMN runner_up_id TEXT;
ALTER TABLE listens ADD COLUMN runner_up_score REAL;

ALTER TABLE playlist_tracks ADD COLUMN match_method TEXT
    CHECK (match_method IN ('navidrome', 'isrc', 'mbid', 'exact', 'fuzzy', 'review', 'none', 'manual'));
ALTER TABLE playlist_tracks ADD COLUMN match_score REAL;
ALTER TABLE playlist_tracks ADD COLUMN match_rule TEXT;
ALTER TABLE playlist_tracks ADD COLUMN runner_up_id TEXT;
ALTER TABLE playlist_tracks ADD COLUMN runner_up_score REAL;

CREATE INDEX listens_unmatched ON listens (user_id, artist_norm, title_norm)
    WHERE match_method IS NULL;
CREATE INDEX playlist_tracks_identity ON playlist_tracks (artist_norm, title_norm);
CREATE INDEX listens_review ON listens (user_id, artist_norm, title_norm)
    WHERE match_method = 'review';

-- Remote tracks the matcher could not decide, one row per user and identity, until the user
-- decides (the row then goes) or a re-match decides it.
CREATE TABLE match_reviews (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    artist_norm   TEXT    NOT NULL,
    title_norm    TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    artist        TEXT    NOT NULL,
    album         TEXT    NOT NULL DEFAULT '',
    duration_secs INTEGER,
    rule          TEXT    NOT NULL,
    -- JSON array of {"track_id": text, "score": real}, best first.
    candidates    TEXT    NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    UNIQUE (user_id, artist_norm, title_norm)
) STRICT;

-- The user's decisions, applied on every later sync: this identity is that track, or (NULL
-- track) is not in the library. A decision for a track that leaves the library goes with it.
CREATE TABLE match_decisions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    artist_norm TEXT   NOT NULL,
    title_norm TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    artist     TEXT    NOT NULL,
    track_id   TEXT    REFERENCES tracks (id) ON DELETE CASCADE,
    decided_at INTEGER NOT NULL,
    UNIQUE (user_id, artist_norm, title_norm)
) STRICT;

-- Every import stamps each track it sees with its pass, and keeping this index current cost a
-- third of an unchanged re-import; the one reader (deleting what a complete pass did not see)
-- scans the table once per pass instead.
DROP INDEX tracks_seen;
