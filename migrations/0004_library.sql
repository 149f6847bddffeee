-- The Navidrome catalogue, the merged listening history and imported playlists.
-- Catalogue ids are Navidrome's own (TEXT). `*_norm` columns hold `domain::text::normalize`
-- of the shown text, for exact identity and as the matcher's index keys. Times are Unix
-- seconds (UTC).

-- The catalogue is the server's, shared by whoever signs in. `seen_pass` is the import pass
-- that last saw a row: a full pass deletes what it did not see.
CREATE TABLE artists (
    id          TEXT    PRIMARY KEY NOT NULL,
    name        TEXT    NOT NULL,
    name_norm   TEXT    NOT NULL,
    mbid        TEXT,
    album_count INTEGER NOT NULL DEFAULT 0,
    seen_pass   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX artists_name_norm ON artists (name_norm);

CREATE TABLE albums (
    id          TEXT    PRIMARY KEY NOT NULL,
    name        TEXT    NOT NULL,
    name_norm   TEXT    NOT NULL,
    artist_id   TEXT,
    artist      TEXT    NOT NULL DEFAULT '',
    year        INTEGER,
    genre       TEXT    NOT NULL DEFAULT '',
    mbid        TEXT,
    song_count  INTEGER NOT NULL DEFAULT 0,
    duration_secs INTEGER,
    -- Navidrome's own change stamp of the album (`changed`, else `created`), for cheap re-scans.
    changed     TEXT    NOT NULL DEFAULT '',
    seen_pass   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX albums_artist ON albums (artist_id);

CREATE TABLE tracks (
    id            TEXT    PRIMARY KEY NOT NULL,
    title         TEXT    NOT NULL,
    title_norm    TEXT    NOT NULL,
    album_id      TEXT,
    album         TEXT    NOT NULL DEFAULT '',
    artist_id     TEXT,
    artist        TEXT    NOT NULL DEFAULT '',
    artist_norm   TEXT    NOT NULL,
    track_no      INTEGER,
    disc_no       INTEGER,
    year          INTEGER,
    duration_secs INTEGER,
    -- Genres as a JSON array of strings.
    genres        TEXT    NOT NULL DEFAULT '[]',
    isrc          TEXT,
    -- MusicBrainz recording id.
    mbid          TEXT,
    play_count    INTEGER NOT NULL DEFAULT 0,
    -- When Navidrome last saw it played (OpenSubsonic `played`), if the server says.
    last_played   INTEGER,
    seen_pass     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX tracks_isrc ON tracks (isrc) WHERE isrc IS NOT NULL;
CREATE INDEX tracks_mbid ON tracks (mbid) WHERE mbid IS NOT NULL;
CREATE INDEX tracks_identity ON tracks (artist_norm, title_norm);
CREATE INDEX tracks_album ON tracks (album_id, disc_no, track_no);
CREATE INDEX tracks_seen ON tracks (seen_pass);

-- One row: the state of the catalogue import.
CREATE TABLE library_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    -- The pass number of the last complete import.
    pass          INTEGER NOT NULL DEFAULT 0,
    -- What the cheap change check compares (the server's last scan time, or a fingerprint of
    -- the album list); empty before the first import.
    fingerprint   TEXT    NOT NULL DEFAULT '',
    completed_at  INTEGER
) STRICT;

INSERT INTO library_state (id) VALUES (1);

-- The merged listening history of a user. One row per play, whichever services reported it.
CREATE TABLE listens (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    played_at      INTEGER NOT NULL,
    title          TEXT    NOT NULL,
    artist         TEXT    NOT NULL,
    album          TEXT    NOT NULL DEFAULT '',
    title_norm     TEXT    NOT NULL,
    artist_norm    TEXT    NOT NULL,
    duration_secs  INTEGER,
    isrc           TEXT,
    recording_mbid TEXT,
    -- The catalogue track this play was of; NULL when not (yet) known, or when the song left
    -- the library (the listen stays).
    track_id       TEXT    REFERENCES tracks (id) ON DELETE SET NULL
) STRICT;

CREATE INDEX listens_user_played ON listens (user_id, played_at DESC);
CREATE INDEX listens_identity ON listens (user_id, artist_norm, title_norm, played_at);
CREATE INDEX listens_track ON listens (track_id) WHERE track_id IS NOT NULL;

-- Which service reported a listen, under which key (the provider's id, or track+artist+time
-- where it has none). The primary key makes a second sync of the same play a no-op.
CREATE TABLE listen_sources (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service    TEXT    NOT NULL CHECK (service IN ('navidrome', 'spotify', 'lastfm', 'listenbrainz')),
    remote_key TEXT    NOT NULL,
    listen_id  INTEGER NOT NULL REFERENCES listens (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, service, remote_key)
) STRICT;

CREATE INDEX listen_sources_listen ON listen_sources (listen_id);

-- Per user and source, how far a sync has read (a watermark or cursor the source defines).
CREATE TABLE sync_state (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source     TEXT    NOT NULL,
    cursor     TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, source)
) STRICT;

-- Playlists imported from a service (and Navidrome's own), one row per remote playlist.
CREATE TABLE playlists (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service     TEXT    NOT NULL CHECK (service IN ('navidrome', 'spotify', 'lastfm', 'listenbrainz')),
    remote_id   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    owner_name  TEXT    NOT NULL DEFAULT '',
    -- user: the account's own; liked: Spotify Liked Songs; created_for: ListenBrainz
    -- recommendations (Weekly Jams, Weekly Exploration); navidrome: a Navidrome playlist.
    kind        TEXT    NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'liked', 'created_for', 'navidrome')),
    track_count INTEGER NOT NULL DEFAULT 0,
    -- The service's version stamp (Spotify snapshot_id...), to skip unchanged playlists.
    snapshot    TEXT    NOT NULL DEFAULT '',
    -- 0 once the playlist vanished from the service (kept, shown as inactive).
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    imported_at INTEGER NOT NULL,
    UNIQUE (user_id, service, remote_id)
) STRICT;

CREATE TABLE playlist_tracks (
    playlist_id     INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    title           TEXT    NOT NULL,
    artist          TEXT    NOT NULL,
    album           TEXT    NOT NULL DEFAULT '',
    title_norm      TEXT    NOT NULL,
    artist_norm     TEXT    NOT NULL,
    duration_secs   INTEGER,
    isrc            TEXT,
    recording_mbid  TEXT,
    remote_track_id TEXT,
    track_id        TEXT    REFERENCES tracks (id) ON DELETE SET NULL,
    PRIMARY KEY (playlist_id, position)
) STRICT;

CREATE INDEX playlist_tracks_track ON playlist_tracks (track_id) WHERE track_id IS NOT NULL;
