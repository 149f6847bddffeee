//! The outside services. `Service` is every service Spotter shows and checks; `Provider` is the
//! subset a user links from the providers page (Navidrome is the sign-in account, never linked).
//! Both are stored as lowercase TEXT and parsed from paths, so a typo cannot compile.

use std::str::FromStr;

/// A service Spotter talks to on the user's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Service {
    Navidrome,
    Spotify,
    Lastfm,
    Listenbrainz,
}

/// A service linked with its own credentials (a `provider_links` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Provider {
    Spotify,
    Lastfm,
    Listenbrainz,
}

impl Service {
    /// In the order the providers page lists them.
    pub const ALL: [Service; 4] = [
        Self::Spotify,
        Self::Lastfm,
        Self::Listenbrainz,
        Self::Navidrome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Navidrome => "navidrome",
            Self::Spotify => "spotify",
            Self::Lastfm => "lastfm",
            Self::Listenbrainz => "listenbrainz",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Navidrome => "Navidrome",
            Self::Spotify => "Spotify",
            Self::Lastfm => "Last.fm",
            Self::Listenbrainz => "ListenBrainz",
        }
    }

    /// The linkable provider this service is, if any.
    pub fn provider(self) -> Option<Provider> {
        match self {
            Self::Navidrome => None,
            Self::Spotify => Some(Provider::Spotify),
            Self::Lastfm => Some(Provider::Lastfm),
            Self::Listenbrainz => Some(Provider::Listenbrainz),
        }
    }
}

impl Provider {
    pub const ALL: [Provider; 3] = [Self::Spotify, Self::Lastfm, Self::Listenbrainz];

    pub fn service(self) -> Service {
        match self {
            Self::Spotify => Service::Spotify,
            Self::Lastfm => Service::Lastfm,
            Self::Listenbrainz => Service::Listenbrainz,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.service().as_str()
    }

    pub fn parse(s: &str) -> Option<Self> {
        Service::parse(s).and_then(Service::provider)
    }

    pub fn label(self) -> &'static str {
        self.service().label()
    }
}

impl From<Provider> for Service {
    fn from(p: Provider) -> Self {
        p.service()
    }
}

/// Not a known service name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownService;

impl FromStr for Service {
    type Err = UnknownService;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(UnknownService)
    }
}

impl FromStr for Provider {
    type Err = UnknownService;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(UnknownService)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_navidrome_is_not_linkable() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.as_str()), Some(s));
        }
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(Service::from(p).provider(), Some(p));
        }
        assert_eq!(Provider::parse("navidrome"), None);
        assert_eq!(Service::parse("Spotify"), None, "names are exact");
        assert!("nope".parse::<Service>().is_err());
    }
}
