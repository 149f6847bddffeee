//! Writing a mixtape to Navidrome through Subsonic: `createPlaylist` the first time, then
//! `updatePlaylist` in place (the old entries removed, the new ones added), so the playlist keeps
//! its id across refreshes. Songs go `SONGS_PER_CALL` at a time, so no URL grows past what
//! servers and proxies accept.

use super::playlists::created_playlist_id;
use super::{Credentials, NavidromeClient, NavidromeError, parse_envelope};

/// Song ids per Subsonic call (a Navidrome id is about 22 characters).
const SONGS_PER_CALL: usize = 50;

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
        let (first, rest) = song_ids.split_at(song_ids.len().min(SONGS_PER_CALL));
        let mut params: Vec<(&str, &str)> = vec![("name", name)];
        params.extend(first.iter().map(|id| ("songId", id.as_str())));
        let (status, body) = self.call("createPlaylist", creds, &params).await?;
        parse_envelope(status, &body)?;
        let id = match created_playlist_id(&body) {
            Some(id) => id,
            None => self
                .playlists(creds)
                .await?
                .into_iter()
                .rev()
                .find(|p| p.name == name)
                .map(|p| p.remote_id)
                .ok_or(NavidromeError::BadResponse { status })?,
        };
        self.add_in_chunks(creds, &id, rest, SONGS_PER_CALL).await?;
        Ok(id)
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
        // Remove from the end, so the indexes of a later call still point at the same songs.
        let indexes: Vec<String> = (0..current.len()).rev().map(|i| i.to_string()).collect();
        // The first call also renames; it is made even for an empty playlist.
        let mut chunks: Vec<&[String]> = indexes.chunks(SONGS_PER_CALL * 2).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for (n, chunk) in chunks.into_iter().enumerate() {
            let mut params: Vec<(&str, &str)> = vec![("playlistId", id)];
            if n == 0 {
                params.push(("name", name));
            }
            params.extend(chunk.iter().map(|i| ("songIndexToRemove", i.as_str())));
            let (status, body) = self.call("updatePlaylist", creds, &params).await?;
            parse_envelope(status, &body)?;
        }
        self.add_in_chunks(creds, id, song_ids, SONGS_PER_CALL)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const OK: &str = r#"{"subsonic-response":{"status":"ok","version":"1.16.1"}}"#;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("song-{i}")).collect()
    }

    async fn calls(server: &MockServer, method_name: &str) -> Vec<url::Url> {
        server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path().ends_with(method_name))
            .map(|r| r.url)
            .collect()
    }

    #[tokio::test]
    async fn long_mixtapes_are_written_in_chunks_and_replaced_in_place() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/rest/createPlaylist"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                r#"{"subsonic-response":{"status":"ok","playlist":{"id":"pl-9"}}}"#,
            ))
            .mount(&server)
            .await;
        let entries: Vec<String> = (0..130)
            .map(|i| format!(r#"{{"id":"old-{i}","title":"t"}}"#))
            .collect();
        Mock::given(method("GET"))
            .and(path("/rest/getPlaylist"))
            .respond_with(ResponseTemplate::new(200).set_body_string(format!(
                r#"{{"subsonic-response":{{"status":"ok","playlist":{{"id":"pl-9","entry":[{}]}}}}}}"#,
                entries.join(",")
            )))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/updatePlaylist"))
            .respond_with(ResponseTemplate::new(200).set_body_string(OK))
            .mount(&server)
            .await;
        let client = NavidromeClient::new(
            &url::Url::parse(&server.uri()).unwrap(),
            Duration::from_secs(5),
        )
        .unwrap();
        let password = SecretString::from("pw");
        let creds = Credentials {
            username: "u",
            password: &password,
        };
        let id = client
            .create_mixtape_playlist(&creds, "Mix", &ids(120))
            .await
            .unwrap();
        assert_eq!(id, "pl-9");
        let created = calls(&server, "createPlaylist").await;
        assert_eq!(created.len(), 1);
        assert_eq!(
            created[0]
                .query_pairs()
                .filter(|(k, _)| k == "songId")
                .count(),
            50
        );
        let added = calls(&server, "updatePlaylist").await;
        assert_eq!(added.len(), 2, "70 more songs in two calls");
        for u in &added {
            assert!(u.as_str().len() < 4_000, "{}", u.as_str().len());
        }

        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/rest/getPlaylist"))
            .respond_with(ResponseTemplate::new(200).set_body_string(format!(
                r#"{{"subsonic-response":{{"status":"ok","playlist":{{"id":"pl-9","entry":[{}]}}}}}}"#,
                entries.join(",")
            )))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/updatePlaylist"))
            .respond_with(ResponseTemplate::new(200).set_body_string(OK))
            .mount(&server)
            .await;
        client
            .replace_mixtape_playlist(&creds, "pl-9", "Mix", &ids(60))
            .await
            .unwrap();
        let updates = calls(&server, "updatePlaylist").await;
        // 130 removals (100 + 30), then 60 additions (50 + 10).
        assert_eq!(updates.len(), 4);
        let removed: Vec<String> = updates
            .iter()
            .flat_map(|u| {
                u.query_pairs()
                    .filter(|(k, _)| k == "songIndexToRemove")
                    .map(|(_, v)| v.into_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(removed.len(), 130);
        assert_eq!(
            removed.first().map(String::as_str),
            Some("129"),
            "from the end"
        );
        let added: usize = updates
            .iter()
            .map(|u| u.query_pairs().filter(|(k, _)| k == "songIdToAdd").count())
            .sum();
        assert_eq!(added, 60);

        // A playlist gone from the server is reported as such.
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/rest/getPlaylist"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                r#"{"subsonic-response":{"status":"failed","error":{"code":70,"message":"not found"}}}"#,
            ))
            .mount(&server)
            .await;
        let gone = client
            .replace_mixtape_playlist(&creds, "pl-9", "Mix", &ids(3))
            .await
            .unwrap_err();
        assert!(gone.is_not_found());
    }
}
