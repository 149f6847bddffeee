//! ListenBrainz playlists (JSPF): the user's own (`/1/user/{name}/playlists`), those created
//! for them (`/1/user/{name}/playlists/createdfor`: Weekly Jams, Weekly Exploration, Daily
//! Jams), and one playlist with its tracks (`/1/playlist/{mbid}`). A 429 carries
//! `X-RateLimit-Reset-In`, read by the shared classification.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ListenbrainzClient, ListenbrainzError};
use crate::clients::http::{CallFailure, PROVIDER_BODY_CAP, json_capped, send};
use crate::domain::playlist::{
    PlaylistKind, RemotePlaylist, RemoteTrack, clean_mbid, clean_text, ms_to_secs,
};

/// Playlists asked for per page (the API's maximum).
pub const LIST_PAGE: u32 = 100;
/// The JSPF extension key ListenBrainz puts its own playlist fields under.
const PLAYLIST_EXT: &str = "https://musicbrainz.org/doc/jspf#playlist";

/// One page of playlist summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistList {
    pub playlists: Vec<RemotePlaylist>,
    /// How many playlists there are in all, when given.
    pub total: Option<u64>,
}

#[derive(Deserialize)]
struct ListJson {
    #[serde(default)]
    playlists: Vec<Wrapped>,
    #[serde(default)]
    playlist_count: Option<u64>,
}

#[derive(Deserialize)]
struct Wrapped {
    #[serde(default)]
    playlist: Option<JspfPlaylist>,
}

#[derive(Deserialize)]
struct JspfPlaylist {
    #[serde(default)]
    identifier: Option<Identifier>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    creator: Option<String>,
    #[serde(default)]
    annotation: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    extension: HashMap<String, serde_json::Value>,
    #[serde(default)]
    track: Vec<JspfTrack>,
}

#[derive(Deserialize)]
struct JspfTrack {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    creator: Option<String>,
    #[serde(default)]
    album: Option<String>,
    #[serde(default)]
    identifier: Option<Identifier>,
    #[serde(default)]
    duration: Option<i64>,
}

/// JSPF allows one identifier or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Identifier {
    One(String),
    Many(Vec<String>),
}

impl Identifier {
    fn mbid(&self) -> Option<String> {
        match self {
            Self::One(s) => clean_mbid(s),
            Self::Many(v) => v.iter().find_map(|s| clean_mbid(s)),
        }
    }
}

impl JspfPlaylist {
    fn last_modified(&self) -> Option<String> {
        let ext = self.extension.get(PLAYLIST_EXT)?;
        ext.get("last_modified_at")?.as_str().map(clean_text)
    }

    fn summary(&self, kind: PlaylistKind) -> Option<RemotePlaylist> {
        let mbid = self.identifier.as_ref()?.mbid()?;
        Some(RemotePlaylist {
            remote_id: mbid,
            name: clean_text(self.title.as_deref().unwrap_or("")),
            description: clean_text(self.annotation.as_deref().unwrap_or("")),
            owner_name: clean_text(self.creator.as_deref().unwrap_or("")),
            kind,
            snapshot: self
                .last_modified()
                .or_else(|| self.date.as_deref().map(clean_text))
                .unwrap_or_default(),
            track_count: None,
        })
    }
}

/// Which list of playlists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// The user's own.
    Own,
    /// Made for the user by ListenBrainz.
    CreatedFor,
}

impl ListenbrainzClient {
    /// One page of the user's own playlists, or of those created for them.
    pub async fn playlists(
        &self,
        token: &SecretString,
        user_name: &str,
        list: ListKind,
        offset: u32,
    ) -> Result<PlaylistList, ListenbrainzError> {
        let user: String = url::form_urlencoded::byte_serialize(user_name.as_bytes()).collect();
        let path = match list {
            ListKind::Own => format!("1/user/{user}/playlists"),
            ListKind::CreatedFor => format!("1/user/{user}/playlists/createdfor"),
        };
        let kind = match list {
            ListKind::Own => PlaylistKind::User,
            ListKind::CreatedFor => PlaylistKind::CreatedFor,
        };
        let query = [("count", LIST_PAGE), ("offset", offset)];
        let json: ListJson = self.get_json(&path, &query, token).await?;
        Ok(PlaylistList {
            playlists: json
                .playlists
                .into_iter()
                .filter_map(|w| w.playlist?.summary(kind))
                .collect(),
            total: json.playlist_count,
        })
    }

    /// One playlist with its tracks, in order.
    pub async fn playlist(
        &self,
        token: &SecretString,
        mbid: &str,
    ) -> Result<Vec<RemoteTrack>, ListenbrainzError> {
        let id: String = url::form_urlencoded::byte_serialize(mbid.as_bytes()).collect();
        let json: Wrapped = self
            .get_json(&format!("1/playlist/{id}"), &[], token)
            .await?;
        let playlist = json.playlist.ok_or(ListenbrainzError::BadResponse)?;
        Ok(jspf_tracks(playlist.track))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, u32)],
        token: &SecretString,
    ) -> Result<T, ListenbrainzError> {
        let request = self
            .http
            .client()
            .get(self.http.url(path))
            .query(query)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", token.expose_secret()),
            );
        let resp = send(request).await?;
        let now = crate::clock::system_now();
        if let Some(failure) = CallFailure::from_status(resp.status(), resp.headers(), now) {
            return Err(match failure {
                CallFailure::Status(401) => ListenbrainzError::InvalidToken,
                other => other.into(),
            });
        }
        Ok(json_capped(resp, PROVIDER_BODY_CAP).await?)
    }
}

fn jspf_tracks(tracks: Vec<JspfTrack>) -> Vec<RemoteTrack> {
    tracks
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let title = clean_text(t.title.as_deref().unwrap_or(""));
            if title.is_empty() {
                return None;
            }
            let mbid = t.identifier.as_ref().and_then(Identifier::mbid);
            Some(RemoteTrack {
                position: u32::try_from(i).unwrap_or(u32::MAX),
                title,
                artist: clean_text(t.creator.as_deref().unwrap_or("")),
                album: clean_text(t.album.as_deref().unwrap_or("")),
                duration_secs: t.duration.and_then(ms_to_secs),
                isrc: None,
                recording_mbid: mbid.clone(),
                remote_track_id: mbid,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::http::parse_json;

    #[test]
    fn jspf_is_read_with_either_identifier_form() {
        let body = br#"{"playlist":{"title":"Weekly Jams","creator":"listenbrainz",
          "identifier":"https://listenbrainz.org/playlist/4a2e1b2c-0000-4000-8000-000000000001",
          "track":[
            {"title":"One","creator":"A","album":"X","duration":200400,
             "identifier":"https://musicbrainz.org/recording/8f3471b5-7e6a-48da-86a9-c1c07a0f47ae"},
            {"title":"Two","creator":"B",
             "identifier":["https://musicbrainz.org/recording/9f3471b5-7e6a-48da-86a9-c1c07a0f47ae"]},
            {"creator":"no title"}
          ]}}"#;
        let w: Wrapped = parse_json(body).unwrap();
        let p = w.playlist.unwrap();
        let s = p.summary(PlaylistKind::CreatedFor).unwrap();
        assert_eq!(s.remote_id, "4a2e1b2c-0000-4000-8000-000000000001");
        let tracks = jspf_tracks(p.track);
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].duration_secs, Some(200));
        assert_eq!(
            tracks[1].recording_mbid.as_deref(),
            Some("9f3471b5-7e6a-48da-86a9-c1c07a0f47ae")
        );
    }
}
