//! The Navidrome catalogue through the Subsonic API: the album list (`getAlbumList2`, paged
//! A-Z), one album with its songs (`getAlbum`), the artist index (`getArtists`) and the scan
//! status (`getScanStatus`). Every field beyond the id is optional: servers differ (see
//! `docs/adr/0006-catalogue-import.md`).

use serde::Deserialize;

use super::navidrome::{Credentials, NavidromeClient, NavidromeError, parse_envelope};

/// The most albums `getAlbumList2` returns per call.
pub const ALBUM_PAGE: usize = 500;

/// A value the servers send either as one string or as a list of strings (OpenSubsonic `isrc`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn first(&self) -> Option<&str> {
        match self {
            Self::One(s) => Some(s.as_str()),
            Self::Many(v) => v.first().map(String::as_str),
        }
        .filter(|s| !s.trim().is_empty())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Genre {
    #[serde(default)]
    pub name: String,
}

/// One album as listed by `getAlbumList2` (and the head of `getAlbum`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AlbumSummary {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub artist: Option<String>,
    #[serde(default)]
    pub artist_id: Option<String>,
    #[serde(default)]
    pub song_count: Option<i64>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub year: Option<i64>,
    #[serde(default)]
    pub genre: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub changed: Option<String>,
    #[serde(default)]
    pub music_brainz_id: Option<String>,
    #[serde(default)]
    pub play_count: Option<i64>,
    #[serde(default)]
    pub played: Option<String>,
}

impl AlbumSummary {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().or(self.title.as_deref()).unwrap_or("")
    }

    /// What changes when the album's songs or their plays change: its change stamp (else
    /// creation time), song count, and the album's play count and last play where the server
    /// reports them (Navidrome does; then a play shows here without reading every album).
    pub fn stamp(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.changed
                .as_deref()
                .or(self.created.as_deref())
                .unwrap_or(""),
            self.song_count.unwrap_or(-1),
            self.duration.unwrap_or(-1),
            self.play_count.unwrap_or(-1),
            self.played.as_deref().unwrap_or("")
        )
    }
}

/// One song of an album.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Song {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub album: Option<String>,
    #[serde(default)]
    pub artist: Option<String>,
    #[serde(default)]
    pub album_id: Option<String>,
    #[serde(default)]
    pub artist_id: Option<String>,
    #[serde(default)]
    pub track: Option<i64>,
    #[serde(default)]
    pub disc_number: Option<i64>,
    #[serde(default)]
    pub year: Option<i64>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub genre: Option<String>,
    #[serde(default)]
    pub genres: Option<Vec<Genre>>,
    #[serde(default)]
    pub isrc: Option<OneOrMany>,
    #[serde(default)]
    pub music_brainz_id: Option<String>,
    #[serde(default)]
    pub play_count: Option<i64>,
    #[serde(default)]
    pub played: Option<String>,
}

impl Song {
    /// Genre names: the OpenSubsonic list, else the single `genre`.
    pub fn genre_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .genres
            .iter()
            .flatten()
            .map(|g| g.name.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty()
            && let Some(g) = self
                .genre
                .as_deref()
                .map(str::trim)
                .filter(|g| !g.is_empty())
        {
            names.push(g.to_owned());
        }
        names
    }
}

/// `getAlbum`: the album and its songs.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Album {
    #[serde(flatten)]
    pub summary: AlbumSummary,
    #[serde(default)]
    pub song: Vec<Song>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Artist {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub album_count: Option<i64>,
    #[serde(default)]
    pub music_brainz_id: Option<String>,
}

/// `getScanStatus`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ScanStatus {
    #[serde(default)]
    pub scanning: Option<bool>,
    #[serde(default)]
    pub count: Option<i64>,
    #[serde(default)]
    pub last_scan: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(rename = "subsonic-response")]
    response: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlbumListBody {
    #[serde(default)]
    album_list2: Option<AlbumList>,
}

#[derive(Deserialize)]
struct AlbumList {
    #[serde(default)]
    album: Vec<AlbumSummary>,
}

#[derive(Deserialize)]
struct AlbumBody {
    album: Option<Album>,
}

#[derive(Deserialize)]
struct ArtistsBody {
    #[serde(default)]
    artists: Option<ArtistIndexes>,
}

#[derive(Deserialize)]
struct ArtistIndexes {
    #[serde(default)]
    index: Vec<ArtistIndex>,
}

#[derive(Deserialize)]
struct ArtistIndex {
    #[serde(default)]
    artist: Vec<Artist>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScanStatusBody {
    #[serde(default)]
    scan_status: Option<ScanStatus>,
}

/// Check the envelope, then read the typed body; a body that is not what the method returns
/// is a bad response.
fn parse<T: serde::de::DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, NavidromeError> {
    parse_envelope(status, body)?;
    serde_json::from_slice::<Envelope<T>>(body)
        .map(|e| e.response)
        .map_err(|_| NavidromeError::BadResponse { status })
}

impl NavidromeClient {
    /// One page of the album list, A-Z by name.
    pub async fn album_page(
        &self,
        creds: &Credentials<'_>,
        offset: usize,
        size: usize,
    ) -> Result<Vec<AlbumSummary>, NavidromeError> {
        let offset = offset.to_string();
        let size = size.clamp(1, ALBUM_PAGE).to_string();
        let (status, body) = self
            .call(
                "getAlbumList2",
                creds,
                &[
                    ("type", "alphabeticalByName"),
                    ("size", &size),
                    ("offset", &offset),
                ],
            )
            .await?;
        let body: AlbumListBody = parse(status, &body)?;
        Ok(body.album_list2.map(|l| l.album).unwrap_or_default())
    }

    /// One album with its songs.
    pub async fn album(&self, creds: &Credentials<'_>, id: &str) -> Result<Album, NavidromeError> {
        let (status, body) = self.call("getAlbum", creds, &[("id", id)]).await?;
        let body: AlbumBody = parse(status, &body)?;
        body.album.ok_or(NavidromeError::BadResponse { status })
    }

    /// Every artist of the index.
    pub async fn artists(&self, creds: &Credentials<'_>) -> Result<Vec<Artist>, NavidromeError> {
        let (status, body) = self.call("getArtists", creds, &[]).await?;
        let body: ArtistsBody = parse(status, &body)?;
        Ok(body
            .artists
            .map(|a| a.index.into_iter().flat_map(|i| i.artist).collect())
            .unwrap_or_default())
    }

    /// The scan status, when the server gives it (`None` when it refuses, e.g. to non-admins).
    pub async fn scan_status(
        &self,
        creds: &Credentials<'_>,
    ) -> Result<Option<ScanStatus>, NavidromeError> {
        let (status, body) = self.call("getScanStatus", creds, &[]).await?;
        match parse::<ScanStatusBody>(status, &body) {
            Ok(b) => Ok(b.scan_status),
            Err(NavidromeError::Api { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn songs_parse_with_missing_and_open_subsonic_fields() {
        let body = br#"{"subsonic-response":{"status":"ok","album":{"id":"al_1","name":"4",
            "song":[{"id":"tr_1","title":"1+1","track":1,"genres":[{"name":"R&B"}]},
                    {"id":"tr_2","isrc":["USX1"],"playCount":3,"played":"2026-01-02T03:04:05Z","genre":"Pop"},
                    {"id":"tr_3","isrc":"USX2","musicBrainzId":"m"}]}}}"#;
        let album: AlbumBody = parse(200, body).unwrap();
        let album = album.album.unwrap();
        assert_eq!(album.summary.display_name(), "4");
        assert_eq!(album.song.len(), 3);
        assert_eq!(album.song[0].genre_names(), vec!["R&B"]);
        assert_eq!(album.song[1].genre_names(), vec!["Pop"]);
        assert_eq!(album.song[1].isrc.as_ref().unwrap().first(), Some("USX1"));
        assert_eq!(album.song[2].isrc.as_ref().unwrap().first(), Some("USX2"));
        assert_eq!(album.song[1].play_count, Some(3));
    }

    #[test]
    fn missing_lists_read_as_empty_and_bad_bodies_are_classified() {
        let empty = br#"{"subsonic-response":{"status":"ok","albumList2":{}}}"#;
        let l: AlbumListBody = parse(200, empty).unwrap();
        assert!(l.album_list2.unwrap().album.is_empty());
        let wrong_type =
            br#"{"subsonic-response":{"status":"ok","albumList2":{"album":[{"id":5}]}}}"#;
        assert!(matches!(
            parse::<AlbumListBody>(200, wrong_type),
            Err(NavidromeError::BadResponse { status: 200 })
        ));
        assert!(matches!(
            parse::<AlbumListBody>(200, b"{not json"),
            Err(NavidromeError::BadResponse { status: 200 })
        ));
        let artists = br#"{"subsonic-response":{"status":"ok","artists":{"index":[{"artist":[{"id":"a","name":"B","albumCount":2}]},{"name":"C"}]}}}"#;
        let a: ArtistsBody = parse(200, artists).unwrap();
        assert_eq!(a.artists.unwrap().index.len(), 2);
    }
}
