//! Navidrome playlists through Subsonic: `getPlaylists` (the caller's playlists) and
//! `getPlaylist` (one with its entries, which carry Navidrome song ids); for write-back
//! `createPlaylist` (a new playlist, or with `playlistId` the songs of an existing one replaced),
//! `updatePlaylist` (`songIdToAdd`, for servers that only take parameters in the URL) and
//! `deletePlaylist`.

use serde::Deserialize;

use super::{Credentials, NavidromeClient, NavidromeError, parse_envelope};
use crate::domain::playlist::{
    PlaylistKind, RemotePlaylist, RemoteTrack, clean_isrc, clean_mbid, clean_text,
};

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(rename = "subsonic-response")]
    response: T,
}

#[derive(Deserialize)]
struct PlaylistsResponse {
    #[serde(default)]
    playlists: Option<PlaylistsJson>,
}

#[derive(Deserialize)]
struct PlaylistsJson {
    #[serde(default)]
    playlist: Vec<PlaylistJson>,
}

#[derive(Deserialize)]
struct PlaylistResponse {
    #[serde(default)]
    playlist: Option<PlaylistJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaylistJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    song_count: Option<u64>,
    #[serde(default)]
    changed: Option<String>,
    #[serde(default)]
    entry: Vec<EntryJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    artist: Option<String>,
    #[serde(default)]
    album: Option<String>,
    #[serde(default)]
    duration: Option<i64>,
    /// OpenSubsonic: a list; some servers give one string.
    #[serde(default)]
    isrc: Option<OneOrMany>,
    #[serde(default)]
    music_brainz_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn first_isrc(&self) -> Option<String> {
        match self {
            Self::One(s) => clean_isrc(s),
            Self::Many(v) => v.iter().find_map(|s| clean_isrc(s)),
        }
    }
}

impl PlaylistJson {
    fn summary(&self) -> Option<RemotePlaylist> {
        let id = clean_text(self.id.as_deref()?);
        if id.is_empty() {
            return None;
        }
        let count = self.song_count.map_or(String::new(), |c| c.to_string());
        let changed = self.changed.as_deref().unwrap_or("");
        Some(RemotePlaylist {
            remote_id: id,
            name: clean_text(self.name.as_deref().unwrap_or("")),
            description: clean_text(self.comment.as_deref().unwrap_or("")),
            owner_name: clean_text(self.owner.as_deref().unwrap_or("")),
            kind: PlaylistKind::Navidrome,
            snapshot: if changed.is_empty() {
                String::new()
            } else {
                clean_text(&format!("{changed}/{count}"))
            },
            track_count: self.song_count,
        })
    }
}

fn entries(list: Vec<EntryJson>) -> Vec<RemoteTrack> {
    list.into_iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let title = clean_text(e.title.as_deref().unwrap_or(""));
            let id = e.id.as_deref().map(clean_text).filter(|s| !s.is_empty());
            if title.is_empty() && id.is_none() {
                return None;
            }
            Some(RemoteTrack {
                position: u32::try_from(i).unwrap_or(u32::MAX),
                title,
                artist: clean_text(e.artist.as_deref().unwrap_or("")),
                album: clean_text(e.album.as_deref().unwrap_or("")),
                duration_secs: e.duration.filter(|d| *d > 0),
                isrc: e.isrc.as_ref().and_then(OneOrMany::first_isrc),
                recording_mbid: e.music_brainz_id.as_deref().and_then(clean_mbid),
                remote_track_id: id,
            })
        })
        .collect()
}

/// The `getOpenSubsonicExtensions` answer: only the names matter.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExtensionsResponse {
    #[serde(default)]
    open_subsonic_extensions: Vec<ExtensionJson>,
}

#[derive(Deserialize)]
struct ExtensionJson {
    #[serde(default)]
    name: String,
}

/// Song ids per call when the parameters must go in the URL: about 4 KB of query, under every
/// common proxy's and server's URL limit.
const SONGS_PER_URL: usize = 100;

/// How playlist writes send their (possibly thousands of) song ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteTransport {
    /// One POST with everything in a form body (the OpenSubsonic `formPost` extension).
    FormPost,
    /// GET calls: the first songs with `createPlaylist`, the rest added by `updatePlaylist`
    /// `songIdToAdd` in chunks.
    UrlChunks,
}

/// What replacing the songs of a stored playlist id found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    Done,
    /// The server has no playlist with that id (deleted in Navidrome).
    Gone,
}

fn parse<T: serde::de::DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, NavidromeError> {
    parse_envelope(status, body)?;
    serde_json::from_slice::<Envelope<T>>(body)
        .map(|e| e.response)
        .map_err(|_| NavidromeError::BadResponse { status })
}

/// The id of the playlist in a `createPlaylist` answer, when the server says (Subsonic before
/// 1.14 answers an empty "ok").
pub(super) fn created_playlist_id(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Envelope<PlaylistResponse>>(body)
        .ok()
        .and_then(|e| e.response.playlist)
        .and_then(|p| p.id)
        .filter(|id| !id.is_empty())
}

impl NavidromeClient {
    /// `getPlaylists`: the caller's playlists (without entries).
    pub async fn playlists(
        &self,
        creds: &Credentials<'_>,
    ) -> Result<Vec<RemotePlaylist>, NavidromeError> {
        let (status, body) = self.call("getPlaylists", creds, &[]).await?;
        let r: PlaylistsResponse = parse(status, &body)?;
        Ok(r.playlists
            .map(|p| {
                p.playlist
                    .iter()
                    .filter_map(PlaylistJson::summary)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `getPlaylist`: one playlist's entries, in order. `None` when the server has no such
    /// playlist (Subsonic error 70).
    pub async fn playlist_entries(
        &self,
        creds: &Credentials<'_>,
        id: &str,
    ) -> Result<Option<Vec<RemoteTrack>>, NavidromeError> {
        let (status, body) = self.call("getPlaylist", creds, &[("id", id)]).await?;
        match parse::<PlaylistResponse>(status, &body) {
            Ok(r) => Ok(Some(entries(
                r.playlist.map(|p| p.entry).unwrap_or_default(),
            ))),
            Err(NavidromeError::Api { code: 70 }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl NavidromeClient {
    /// How this server takes playlist writes: a form POST when it announces `formPost`, else
    /// URL parameters. A server that is not OpenSubsonic answers this call with an error: URL
    /// parameters then.
    pub async fn write_transport(
        &self,
        creds: &Credentials<'_>,
    ) -> Result<WriteTransport, NavidromeError> {
        let (status, body) = self.call("getOpenSubsonicExtensions", creds, &[]).await?;
        match parse::<ExtensionsResponse>(status, &body) {
            Ok(r)
                if r.open_subsonic_extensions
                    .iter()
                    .any(|e| e.name == "formPost") =>
            {
                Ok(WriteTransport::FormPost)
            }
            Ok(_) | Err(NavidromeError::Api { .. } | NavidromeError::BadResponse { .. }) => {
                Ok(WriteTransport::UrlChunks)
            }
            Err(e) => Err(e),
        }
    }

    /// `createPlaylist` with `name`: a new playlist holding `song_ids` in order; its id. `None`
    /// when the server does not say (older servers answer an empty "ok").
    pub async fn create_playlist(
        &self,
        creds: &Credentials<'_>,
        name: &str,
        song_ids: &[String],
        transport: WriteTransport,
    ) -> Result<Option<String>, NavidromeError> {
        let (first, rest) = split_for(transport, song_ids);
        let mut params: Vec<(&str, &str)> = vec![("name", name)];
        params.extend(first.iter().map(|id| ("songId", id.as_str())));
        let (status, body) = match transport {
            WriteTransport::FormPost => self.call_form("createPlaylist", creds, &params).await?,
            WriteTransport::UrlChunks => self.call("createPlaylist", creds, &params).await?,
        };
        let r: PlaylistResponse = parse(status, &body)?;
        let id = r
            .playlist
            .and_then(|p| p.id)
            .map(|id| clean_text(&id))
            .filter(|id| !id.is_empty());
        if !rest.is_empty() {
            // The rest cannot be added to a playlist whose id is unknown.
            let Some(id) = id.as_deref() else {
                return Err(NavidromeError::BadResponse { status });
            };
            self.add_in_chunks(creds, id, rest, SONGS_PER_URL).await?;
        }
        Ok(id)
    }

    /// `createPlaylist` with `playlistId`: the songs of playlist `id` become `song_ids`, in
    /// order (its name stays). `Gone` when the server has no such playlist.
    pub async fn replace_playlist_songs(
        &self,
        creds: &Credentials<'_>,
        id: &str,
        song_ids: &[String],
        transport: WriteTransport,
    ) -> Result<Replaced, NavidromeError> {
        let (first, rest) = split_for(transport, song_ids);
        let mut params: Vec<(&str, &str)> = vec![("playlistId", id)];
        params.extend(first.iter().map(|id| ("songId", id.as_str())));
        let (status, body) = match transport {
            WriteTransport::FormPost => self.call_form("createPlaylist", creds, &params).await?,
            WriteTransport::UrlChunks => self.call("createPlaylist", creds, &params).await?,
        };
        match parse_envelope(status, &body) {
            Ok(()) => {}
            Err(NavidromeError::Api { code: 70 }) => return Ok(Replaced::Gone),
            // Some Navidrome versions report a missing playlist as a generic error here:
            // ask whether it is still there.
            Err(e @ NavidromeError::Api { .. }) => {
                return match self.playlist_entries(creds, id).await? {
                    None => Ok(Replaced::Gone),
                    Some(_) => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
        self.add_in_chunks(creds, id, rest, SONGS_PER_URL).await?;
        Ok(Replaced::Done)
    }

    /// `updatePlaylist` `songIdToAdd`, `per_call` songs at a time.
    pub(super) async fn add_in_chunks(
        &self,
        creds: &Credentials<'_>,
        id: &str,
        song_ids: &[String],
        per_call: usize,
    ) -> Result<(), NavidromeError> {
        for chunk in song_ids.chunks(per_call) {
            let mut params: Vec<(&str, &str)> = vec![("playlistId", id)];
            params.extend(chunk.iter().map(|s| ("songIdToAdd", s.as_str())));
            let (status, body) = self.call("updatePlaylist", creds, &params).await?;
            parse_envelope(status, &body)?;
        }
        Ok(())
    }

    /// `deletePlaylist`. `false` when the server had no such playlist (already deleted).
    pub async fn delete_playlist(
        &self,
        creds: &Credentials<'_>,
        id: &str,
    ) -> Result<bool, NavidromeError> {
        let (status, body) = self.call("deletePlaylist", creds, &[("id", id)]).await?;
        match parse_envelope(status, &body) {
            Ok(()) => Ok(true),
            Err(NavidromeError::Api { code: 70 }) => Ok(false),
            Err(e @ NavidromeError::Api { .. }) => match self.playlist_entries(creds, id).await? {
                None => Ok(false),
                Some(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

/// The songs that go with the first call, and those added after it.
fn split_for(transport: WriteTransport, song_ids: &[String]) -> (&[String], &[String]) {
    match transport {
        WriteTransport::FormPost => (song_ids, &[]),
        WriteTransport::UrlChunks => song_ids.split_at(song_ids.len().min(SONGS_PER_URL)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_writes_go_in_chunks_and_form_writes_whole() {
        let ids: Vec<String> = (0..250).map(|i| format!("tr_{i}")).collect();
        let (first, rest) = split_for(WriteTransport::UrlChunks, &ids);
        assert_eq!((first.len(), rest.len()), (SONGS_PER_URL, 150));
        let (first, rest) = split_for(WriteTransport::FormPost, &ids);
        assert_eq!((first.len(), rest.len()), (250, 0));
        let (first, rest) = split_for(WriteTransport::UrlChunks, &ids[..3]);
        assert_eq!((first.len(), rest.len()), (3, 0));
    }

    #[test]
    fn form_post_is_read_from_the_extensions() {
        let body = br#"{"subsonic-response":{"status":"ok","openSubsonicExtensions":[
            {"name":"transcodeOffset","versions":[1]},{"name":"formPost","versions":[1]}]}}"#;
        let r: ExtensionsResponse = parse(200, body).unwrap();
        assert!(
            r.open_subsonic_extensions
                .iter()
                .any(|e| e.name == "formPost")
        );
        let none = br#"{"subsonic-response":{"status":"ok"}}"#;
        let r: ExtensionsResponse = parse(200, none).unwrap();
        assert!(r.open_subsonic_extensions.is_empty());
    }

    #[test]
    fn playlists_and_entries_are_read() {
        let body = br#"{"subsonic-response":{"status":"ok","playlists":{"playlist":[
            {"id":"pl_1","name":"Mix","owner":"demo","songCount":2,"changed":"2026-11-23T05:48:24Z"},
            {"name":"no id"}]}}}"#;
        let r: PlaylistsResponse = parse(200, body).unwrap();
        let list: Vec<_> = r
            .playlists
            .unwrap()
            .playlist
            .iter()
            .filter_map(PlaylistJson::summary)
            .collect();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].snapshot, "2026-11-23T05:48:24Z/2");
        let empty = br#"{"subsonic-response":{"status":"ok","playlists":{}}}"#;
        let r: PlaylistsResponse = parse(200, empty).unwrap();
        assert!(r.playlists.unwrap().playlist.is_empty());
        let one = br#"{"subsonic-response":{"status":"ok","playlist":{"id":"pl_1","entry":[
            {"id":"tr_1","title":"A","artist":"B","duration":61,"isrc":["USRC11234567"]},
            {"id":"tr_2","title":"C","isrc":"USRC17654321"}]}}}"#;
        let r: PlaylistResponse = parse(200, one).unwrap();
        let tracks = entries(r.playlist.unwrap().entry);
        assert_eq!(tracks[0].remote_track_id.as_deref(), Some("tr_1"));
        assert_eq!(tracks[0].isrc.as_deref(), Some("USRC11234567"));
        assert_eq!(tracks[1].isrc.as_deref(), Some("USRC17654321"));
        assert_eq!(tracks[1].position, 1);
    }
}
