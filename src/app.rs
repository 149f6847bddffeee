//! The core every part of Spotter shares — handlers, background jobs and the CLI alike: the
//! database, the cipher, the outside clients, the event bus and the clock. It holds no web type;
//! the web layer adds its own keys in `http::state::AppState`. The built-in jobs are registered
//! here, so every `Core` knows them; `jobs::run_scheduler` runs them.

use std::sync::Arc;

use crate::clients::PROVIDER_TIMEOUT;
use crate::clients::lastfm::LastfmClient;
use crate::clients::listenbrainz::ListenbrainzClient;
use crate::clients::navidrome::NavidromeClient;
use crate::clients::spotify::SpotifyClient;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::FieldCipher;
use crate::db::Db;
use crate::events::EventBus;
use crate::jobs::Jobs;
use crate::services::navidrome::StatusCache;

/// The clients of the outside services, built once from the configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub navidrome: NavidromeClient,
    /// `None` when Spotify is not configured on this server.
    pub spotify: Option<SpotifyClient>,
    /// `None` when Last.fm is not configured on this server.
    pub lastfm: Option<LastfmClient>,
    pub listenbrainz: ListenbrainzClient,
}

impl Clients {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            navidrome: NavidromeClient::new(&config.navidrome_base_url, config.navidrome_timeout)?,
            spotify: config
                .spotify
                .as_ref()
                .map(|c| SpotifyClient::new(c, PROVIDER_TIMEOUT))
                .transpose()?,
            lastfm: config
                .lastfm
                .as_ref()
                .map(|c| LastfmClient::new(c, PROVIDER_TIMEOUT))
                .transpose()?,
            listenbrainz: ListenbrainzClient::new(&config.listenbrainz_api_url, PROVIDER_TIMEOUT)?,
        })
    }
}

#[derive(Clone)]
pub struct Core {
    pub config: Arc<Config>,
    pub db: Db,
    pub cipher: Arc<FieldCipher>,
    pub clients: Clients,
    pub events: EventBus,
    pub clock: Clock,
    /// One Spotify token refresh at a time, so a rotated refresh token is never lost to a race.
    pub spotify_refresh: Arc<tokio::sync::Mutex<()>>,
    /// The last Navidrome check, so page views don't each call Navidrome.
    pub navidrome_status: StatusCache,
    /// One playlist write-back at a time, so a click and the scheduled re-sync never both
    /// create a Navidrome playlist for the same playlist.
    pub writeback: Arc<tokio::sync::Mutex<()>>,
    /// The scheduler's handle: which jobs exist, which run, "run now".
    pub jobs: Jobs,
}

impl Core {
    pub fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        Self::with_clock(config, db, Clock::system())
    }

    pub fn with_clock(config: Config, db: Db, clock: Clock) -> anyhow::Result<Self> {
        let jobs = Jobs::default();
        crate::jobs::register_builtin(&jobs, &config);
        let cipher = FieldCipher::new(
            &config.security.encryption_key,
            config.security.encryption_key_previous.as_ref(),
        );
        Ok(Self {
            clients: Clients::new(&config)?,
            cipher: Arc::new(cipher),
            events: EventBus::new(256),
            clock,
            spotify_refresh: Arc::new(tokio::sync::Mutex::new(())),
            navidrome_status: StatusCache::default(),
            writeback: Arc::new(tokio::sync::Mutex::new(())),
            jobs,
            config: Arc::new(config),
            db,
        })
    }
}
