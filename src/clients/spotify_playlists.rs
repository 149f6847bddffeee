//! Spotify playlists and Liked Songs, in the Web API shapes of February 2026:
//! `GET /me/playlists`, `GET /playlists/{id}/items` (each entry's track under `item`; the older
//! `track` is read too) and `GET /me/tracks`. Every field is optional: what is missing is empty.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{SpotifyClient, SpotifyError};
use crate::clients::http::{CallFailure, PROVIDER_BODY_CAP, parse_json, read_body_capped, send};
use crate::domain::playlist::{
    PlaylistKind, RemotePlaylist, RemoteTrack, clean_isrc, clean_text, ms_to_secs,
};

/// Page sizes the API allows at most.
pub const PLAYLISTS_PAGE: u32 = 50;
pub const ITEMS_PAGE: u32 = 100;
pub const LIKED_PAGE: u32 = 50;

/// One page of a paged list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// What the service says the whole list holds.
    pub total: Option<u64>,
    /// Whether the service announces a next page.
    pub has_next: bool,
    /// How many entries the service sent, with those skipped (no track): the next offset
    /// moves by this.
    pub raw_len: u32,
}

#[derive(Deserialize)]
struct Paging<T> {
    #[serde(default = "Vec::new")]
    items: Vec<Option<T>>,
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct PlaylistJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    owner: Option<OwnerJson>,
    #[serde(default)]
    snapshot_id: Option<String>,
    /// 2026: `items: {total}`; before: `tracks: {total}`.
    #[serde(default)]
    items: Option<TotalJson>,
    #[serde(default)]
    tracks: Option<TotalJson>,
}

#[derive(Deserialize)]
struct OwnerJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct TotalJson {
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct EntryJson {
    #[serde(default)]
    item: Option<TrackJson>,
    #[serde(default)]
    track: Option<TrackJson>,
}

#[derive(Deserialize)]
struct TrackJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    duration_ms: Option<i64>,
    #[serde(default)]
    artists: Vec<NameJson>,
    #[serde(default)]
    album: Option<NameJson>,
    #[serde(default)]
    external_ids: Option<ExternalIds>,
}

#[derive(Deserialize)]
struct NameJson {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ExternalIds {
    #[serde(default)]
    isrc: Option<String>,
}

impl PlaylistJson {
    fn into_remote(self) -> Option<RemotePlaylist> {
        let id = self.id.filter(|i| !i.trim().is_empty())?;
        let owner = self
            .owner
            .and_then(|o| o.display_name.filter(|n| !n.trim().is_empty()).or(o.id))
            .unwrap_or_default();
        Some(RemotePlaylist {
            remote_id: clean_text(&id),
            name: clean_text(self.name.as_deref().unwrap_or("")),
            description: clean_text(self.description.as_deref().unwrap_or("")),
            owner_name: clean_text(&owner),
            kind: PlaylistKind::User,
            snapshot: clean_text(self.snapshot_id.as_deref().unwrap_or("")),
            track_count: self.items.or(self.tracks).and_then(|t| t.total),
        })
    }
}

impl TrackJson {
    fn into_remote(self, position: u32) -> Option<RemoteTrack> {
        let title = clean_text(self.name.as_deref().unwrap_or(""));
        if title.is_empty() {
            return None;
        }
        let artist = self
            .artists
            .iter()
            .filter_map(|a| a.name.as_deref().map(str::trim))
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        Some(RemoteTrack {
            position,
            title,
            artist: clean_text(&artist),
            album: clean_text(self.album.and_then(|a| a.name).as_deref().unwrap_or("")),
            duration_secs: self.duration_ms.and_then(ms_to_secs),
            isrc: self
                .external_ids
                .and_then(|e| e.isrc)
                .as_deref()
                .and_then(clean_isrc),
            recording_mbid: None,
            remote_track_id: self.id.map(|i| clean_text(&i)).filter(|i| !i.is_empty()),
        })
    }
}

fn tracks_page(p: Paging<EntryJson>, offset: u32) -> Page<RemoteTrack> {
    let raw_len = u32::try_from(p.items.len()).unwrap_or(u32::MAX);
    let items = p
        .items
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let e = e?;
            let position = offset.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
            e.item.or(e.track)?.into_remote(position)
        })
        .collect();
    Page {
        items,
        total: p.total,
        has_next: p.next.is_some_and(|n| !n.is_empty()),
        raw_len,
    }
}

impl SpotifyClient {
    /// `GET /me/playlists`: one page of the account's playlists (own and followed).
    pub async fn playlists(
        &self,
        access: &SecretString,
        offset: u32,
    ) -> Result<Page<RemotePlaylist>, SpotifyError> {
        let query = [("limit", PLAYLISTS_PAGE), ("offset", offset)];
        let p: Paging<PlaylistJson> = self
            .get_list("me/playlists", &query, access, Removed::Capability)
            .await?;
        let raw_len = u32::try_from(p.items.len()).unwrap_or(u32::MAX);
        Ok(Page {
            raw_len,
            items: p
                .items
                .into_iter()
                .flatten()
                .filter_map(PlaylistJson::into_remote)
                .collect(),
            total: p.total,
            has_next: p.next.is_some_and(|n| !n.is_empty()),
        })
    }

    /// `GET /playlists/{id}/items`: one page of a playlist's entries. A 404 is `NotFound`
    /// (the playlist went away, or Spotify no longer serves it to apps).
    pub async fn playlist_items(
        &self,
        access: &SecretString,
        playlist_id: &str,
        offset: u32,
    ) -> Result<Page<RemoteTrack>, SpotifyError> {
        let id: String = url::form_urlencoded::byte_serialize(playlist_id.as_bytes()).collect();
        let query = [("limit", ITEMS_PAGE), ("offset", offset)];
        let p: Paging<EntryJson> = self
            .get_list(
                &format!("playlists/{id}/items"),
                &query,
                access,
                Removed::NotFound,
            )
            .await?;
        Ok(tracks_page(p, offset))
    }

    /// `GET /me/tracks`: one page of Liked Songs (newest first).
    pub async fn liked_tracks(
        &self,
        access: &SecretString,
        offset: u32,
    ) -> Result<Page<RemoteTrack>, SpotifyError> {
        let query = [("limit", LIKED_PAGE), ("offset", offset)];
        let p: Paging<EntryJson> = self
            .get_list("me/tracks", &query, access, Removed::Capability)
            .await?;
        Ok(tracks_page(p, offset))
    }

    async fn get_list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, u32)],
        access: &SecretString,
        on_404: Removed,
    ) -> Result<T, SpotifyError> {
        let request = self
            .api
            .client()
            .get(self.api.url(path))
            .query(query)
            .bearer_auth(access.expose_secret());
        let resp = send(request).await?;
        let now = crate::clock::system_now();
        match CallFailure::from_status(resp.status(), resp.headers(), now) {
            None => {
                let body = read_body_capped(resp, PROVIDER_BODY_CAP).await?;
                Ok(parse_json(&body)?)
            }
            Some(CallFailure::Status(401)) => Err(SpotifyError::Unauthorized),
            Some(CallFailure::Status(403)) => {
                // Read (capped) only to tell "Premium required" from a refused account.
                let body = read_body_capped(resp, PROVIDER_BODY_CAP)
                    .await
                    .unwrap_or_default();
                Err(forbidden(&body))
            }
            Some(CallFailure::Status(404)) => Err(match on_404 {
                Removed::Capability => SpotifyError::CapabilityLost,
                Removed::NotFound => SpotifyError::NotFound,
            }),
            Some(CallFailure::Status(410)) => Err(SpotifyError::CapabilityLost),
            Some(other) => Err(other.into()),
        }
    }
}

/// What a 404 means for an endpoint.
#[derive(Clone, Copy)]
enum Removed {
    /// The endpoint itself is gone for this app.
    Capability,
    /// The one resource is gone.
    NotFound,
}

/// A 403 body saying Premium is required is a lost capability; any other 403 is a refused
/// account (development mode without this user allow-listed).
fn forbidden(body: &[u8]) -> SpotifyError {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    if text.contains("premium") {
        SpotifyError::CapabilityLost
    } else {
        SpotifyError::Forbidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_item_or_track_and_keep_positions() {
        let body = br#"{"items":[
            {"added_at":"x","item":{"id":"t1","name":"One","duration_ms":201000,
              "artists":[{"name":"A"},{"name":"B"}],"album":{"name":"Al"},
              "external_ids":{"isrc":"usrc11234567"}}},
            null,
            {"track":{"id":"t3","name":"Three"}},
            {"item":null},
            {"item":{"name":""}}
        ],"total":305,"next":"https://api/next"}"#;
        let p: Paging<EntryJson> = parse_json(body).unwrap();
        let page = tracks_page(p, 100);
        assert_eq!(page.total, Some(305));
        assert!(page.has_next);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].position, 100);
        assert_eq!(page.items[0].artist, "A, B");
        assert_eq!(page.items[0].isrc.as_deref(), Some("USRC11234567"));
        assert_eq!(page.items[0].duration_secs, Some(201));
        assert_eq!(page.items[1].position, 102);
        assert_eq!(page.items[1].remote_track_id.as_deref(), Some("t3"));
    }

    #[test]
    fn playlists_tolerate_missing_fields() {
        let body = br#"{"items":[{"id":"p1"},{"name":"no id"},
            {"id":"p2","name":"N","owner":{"id":"ann"},"snapshot_id":"s","items":{"total":3}}]}"#;
        let p: Paging<PlaylistJson> = parse_json(body).unwrap();
        let list: Vec<_> = p
            .items
            .into_iter()
            .flatten()
            .filter_map(PlaylistJson::into_remote)
            .collect();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].owner_name, "ann");
        assert_eq!(list[1].track_count, Some(3));
    }

    #[test]
    fn premium_required_is_a_lost_capability() {
        assert_eq!(
            forbidden(br#"{"error":{"status":403,"message":"Active premium subscription required for the owner of the app"}}"#),
            SpotifyError::CapabilityLost
        );
        assert_eq!(forbidden(b"{}"), SpotifyError::Forbidden);
    }
}
