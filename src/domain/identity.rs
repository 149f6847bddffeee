//! The identity of a remote track for matching decisions: its normalised artist and title.
//! A user's decision ("this is that library track", "not in my library") is keyed by it, so it
//! applies to every listen and playlist entry of the same song, now and on later syncs.

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteIdentity {
    pub artist_norm: String,
    pub title_norm: String,
}

impl RemoteIdentity {
    pub fn new(artist_norm: impl Into<String>, title_norm: impl Into<String>) -> Self {
        Self {
            artist_norm: artist_norm.into(),
            title_norm: title_norm.into(),
        }
    }
}
