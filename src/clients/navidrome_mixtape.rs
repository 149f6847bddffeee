//! Writing a mixtape to Navidrome through Subsonic: `createPlaylist` the first time, then
//! `updatePlaylist` in place (every old entry removed and the new ones added in one call), so
//! the playlist keeps its id across refreshes.

use serde::Deserialize;

use super::{Credentials, NavidromeClient, NavidromeError, parse_envelope};

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "subsonic-response")]
    response: CreatedResponse,
}

#[derive(Deserialize)]
struct CreatedResponse {
    #[serde(default)]
    playlist: Option<CreatedPlaylist>,
}

#[derive(Deserialize)]
struct CreatedPlaylist {
    #[serde(default)]
    id: Option<String>,
}

impl NavidromeError {
    /// Subsonic error 70: the requested item (a playlist) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { code: 70 })
    }
}

impl NavidromeClient {
    /// `createPlaylist` with `name` and the songs in order; the new playlist's id. A server
    /// that does not return the playlist (Subsonic before 1.14) is asked for its list, and the
    /// newest playlist of that name is taken.
    pub async fn create_mixtape_playlist(
        &self,
        creds: &Credentials<'_>,
        name: &str,
        song_ids: &[String],
    ) -> Result<String, NavidromeError> {
        let mut params: Vec<(&str, &str)> = vec![("name", name)];
        params.extend(song_ids.iter().map(|id| ("songId", id.as_str())));
        let (status, body) = self.call("createPlaylist", creds, &params).await?;
        parse_envelope(status, &body)?;
        let created = serde_json::from_slice::<Envelope>(&body)
            .ok()
            .and_then(|e| e.response.playlist)
            .and_then(|p| p.id)
            .filter(|id| !id.is_empty());
        if let Some(id) = created {
            return Ok(id);
        }
        self.playlists(creds)
            .await?
            .into_iter()
            .rev()
            .find(|p| p.name == name)
            .map(|p| p.remote_id)
            .ok_or(NavidromeError::BadResponse { status })
    }

    /// Replace the songs of playlist `id` (and its name) in place. `Api { code: 70 }` when
    /// the playlist no longer exists.
    pub async fn replace_mixtape_playlist(
        &self,
        creds: &Credentials<'_>,
        id: &str,
        name: &str,
        song_ids: &[String],
    ) -> Result<(), NavidromeError> {
        let Some(current) = self.playlist_entries(creds, id).await? else {
            return Err(NavidromeError::Api { code: 70 });
        };
        let indexes: Vec<String> = (0..current.len()).map(|i| i.to_string()).collect();
        let mut params: Vec<(&str, &str)> = vec![("playlistId", id), ("name", name)];
        params.extend(indexes.iter().map(|i| ("songIndexToRemove", i.as_str())));
        params.extend(song_ids.iter().map(|s| ("songIdToAdd", s.as_str())));
        let (status, body) = self.call("updatePlaylist", creds, &params).await?;
        parse_envelope(status, &body)
    }
}
