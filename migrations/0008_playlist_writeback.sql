-- Playlist write-back to Navidrome: one row per imported playlist the user has written (or
-- tried to write) to Navidrome. The Navidrome playlist id is kept so every later write updates
-- that same playlist in place; what was last written (the track ids in order, and their
-- fingerprint) lets a re-sync skip writes that would change nothing.
CREATE TABLE playlist_writeback (
    playlist_id           INTEGER PRIMARY KEY NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    -- 1 while scheduled re-syncs keep the Navidrome copy up to date.
    enabled               INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    -- The paired Navidrome playlist; NULL before the first write and after "stop".
    navidrome_playlist_id TEXT,
    -- The name the Navidrome copy was created or paired under.
    navidrome_name        TEXT    NOT NULL DEFAULT '',
    -- A Navidrome playlist with the same name that the user has not yet chosen to pair with
    -- or to avoid (by a new name); NULL when no choice is pending.
    conflict_playlist_id  TEXT,
    -- The catalogue track ids last written, in order (a JSON array), and their fingerprint.
    written_tracks        TEXT    NOT NULL DEFAULT '[]',
    written_fingerprint   TEXT    NOT NULL DEFAULT '',
    last_written_at       INTEGER,
    -- Why the last attempt failed (a fixed code), cleared by the next successful one.
    last_error            TEXT CHECK (last_error IN ('unreachable', 'server_error', 'bad_response',
                                  'wrong_password', 'no_password', 'refused')),
    last_error_at         INTEGER,
    updated_at            INTEGER NOT NULL
) STRICT;

-- One Spotter playlist per Navidrome playlist: two can never write into the same copy.
CREATE UNIQUE INDEX playlist_writeback_navidrome ON playlist_writeback (navidrome_playlist_id)
    WHERE navidrome_playlist_id IS NOT NULL;
CREATE INDEX playlist_writeback_enabled ON playlist_writeback (enabled) WHERE enabled = 1;
