//! Linked services: storing credentials (sealed with the row key `<user_id>:<provider>`),
//! recording link health from the one failure classification, and calling Spotify with a
//! working access token (refreshed before expiry, and once on a 401; a rotated refresh token is
//! persisted; a failed refresh never discards the stored one).
//!
//! A linked account is read once, as a value (`db::links::ProviderLink`), and passed down;
//! health is written once at the end. Used by handlers, jobs and the CLI alike. Secrets stay
//! `SecretString`s.

use secrecy::SecretString;

use crate::app::Core;
use crate::clients::spotify::{Profile, SpotifyClient, SpotifyError};
use crate::crypto::registry::{EncryptedColumn, PROVIDER_ACCESS_TOKEN, PROVIDER_REFRESH_TOKEN};
use crate::crypto::{CryptoError, FieldRef};
use crate::db;
use crate::db::links::ProviderLink;
use crate::domain::audit::AuditKind;
use crate::domain::ids::UserId;
use crate::domain::link_health::{ErrorCode, Failure, FailureClass, Health, LinkStatus};
use crate::domain::provider::{Provider, Service};
use crate::services::audit::{self, Actor, Entry};
use crate::services::navidrome::{self, NavidromeCheck};

/// Refresh a Spotify access token this long before it expires.
pub const REFRESH_MARGIN_SECS: i64 = 60;

/// Spotter's own storage failed (not the service).
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("sealing a credential failed: {0}")]
    Crypto(#[from] CryptoError),
}

/// A call made on the user's behalf failed: the service (classified, recorded in link health)
/// or Spotter's own storage (an internal error).
#[derive(Debug)]
pub enum CallError {
    Service(Failure),
    Storage(LinkError),
}

impl From<Failure> for CallError {
    fn from(f: Failure) -> Self {
        Self::Service(f)
    }
}

impl From<LinkError> for CallError {
    fn from(e: LinkError) -> Self {
        Self::Storage(e)
    }
}

impl From<sqlx::Error> for CallError {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(LinkError::Db(e))
    }
}

impl From<CryptoError> for CallError {
    fn from(e: CryptoError) -> Self {
        Self::Storage(LinkError::Crypto(e))
    }
}

/// The associated-data row key of a `provider_links` credential.
pub fn row_key(user_id: UserId, provider: Provider) -> String {
    format!("{user_id}:{}", provider.as_str())
}

fn field<'a>(column: &'a EncryptedColumn, row_key: &'a str) -> FieldRef<'a> {
    FieldRef { column, row_key }
}

/// Is this service usable on this server (its app credentials configured)?
pub fn configured(core: &Core, service: Service) -> bool {
    match service {
        Service::Spotify => core.clients.spotify.is_some(),
        Service::Lastfm => core.clients.lastfm.is_some(),
        Service::Listenbrainz | Service::Navidrome => true,
    }
}

/// What a successful link stores.
pub struct NewCredentials<'a> {
    pub account_name: &'a str,
    pub access: &'a SecretString,
    pub refresh: Option<&'a SecretString>,
    pub expires_at: Option<i64>,
    pub scopes: &'a str,
}

/// Store (or replace) a link: credentials sealed, health reset to ok, audit row. One transaction.
pub async fn save_link(
    core: &Core,
    actor: Actor<'_>,
    provider: Provider,
    creds: NewCredentials<'_>,
) -> Result<(), LinkError> {
    let key = row_key(actor.user_id, provider);
    let access_enc = core.cipher.seal(
        field(&PROVIDER_ACCESS_TOKEN, &key),
        crate::crypto::expose(creds.access),
    )?;
    let refresh_enc = creds
        .refresh
        .map(|r| {
            core.cipher.seal(
                field(&PROVIDER_REFRESH_TOKEN, &key),
                crate::crypto::expose(r),
            )
        })
        .transpose()?;
    let now = core.clock.now();
    let mut tx = crate::db::begin_write(&core.db).await?;
    db::links::upsert(
        &mut tx,
        db::links::NewLink {
            user_id: actor.user_id,
            provider,
            account_name: creds.account_name,
            access_token_enc: &access_enc,
            refresh_token_enc: refresh_enc.as_deref(),
            token_expires_at: creds.expires_at,
            scopes: creds.scopes,
        },
        now,
    )
    .await?;
    db::links::set_health(
        &mut *tx,
        actor.user_id,
        provider.service(),
        &Health::ok(),
        now,
    )
    .await?;
    let event = audit::record_in(
        &mut tx,
        now,
        Entry::by(actor, AuditKind::ServiceLinked, provider.label()),
    )
    .await?;
    tx.commit().await?;
    core.changes.bump();
    event.publish(&core.events);
    tracing::info!(provider = provider.as_str(), "service linked");
    Ok(())
}

/// Delete the link's stored credentials, health and pending states. Audited when a link existed.
pub async fn unlink(core: &Core, actor: Actor<'_>, provider: Provider) -> Result<bool, LinkError> {
    let mut tx = crate::db::begin_write(&core.db).await?;
    let existed = db::links::delete(&mut tx, actor.user_id, provider).await?;
    let event = if existed {
        Some(
            audit::record_in(
                &mut tx,
                core.clock.now(),
                Entry::by(actor, AuditKind::ServiceUnlinked, provider.label()),
            )
            .await?,
        )
    } else {
        None
    };
    tx.commit().await?;
    core.changes.bump();
    if let Some(event) = event {
        event.publish(&core.events);
        tracing::info!(provider = provider.as_str(), "service unlinked");
    }
    Ok(existed)
}

/// Record the outcome of a call in the service's health. Entering `broken` is audited once.
pub async fn record_health(
    core: &Core,
    actor: Actor<'_>,
    service: Service,
    outcome: Result<(), Failure>,
) -> Result<Health, LinkError> {
    let previous = db::links::health(&core.db, actor.user_id, service).await?;
    let (prev_status, prev_failures) = previous.as_ref().map_or((LinkStatus::Ok, 0), |p| {
        (p.health.status, p.health.failure_count)
    });
    let now = core.clock.now();
    let health = match outcome {
        Ok(()) => Health::ok(),
        Err(failure) if failure.code.class() == FailureClass::Limited => {
            Health::after_capability_loss(previous.as_ref().map(|p| &p.health), failure.code)
        }
        Err(failure) => {
            let jitter: f64 = rand::random();
            Health::after_failure(prev_failures, failure, now, jitter)
        }
    };
    db::links::set_health(&core.db, actor.user_id, service, &health, now).await?;
    core.changes.bump();
    if let Some(code) = health.last_error {
        tracing::warn!(
            service = service.as_str(),
            error = code.as_str(),
            status = health.status.as_str(),
            "service call failed"
        );
    }
    if health.status == LinkStatus::Broken && prev_status != LinkStatus::Broken {
        let detail = format!(
            "{}: {}",
            service.label(),
            health.last_error.map_or("unknown", ErrorCode::as_str)
        );
        audit::record(core, Entry::by(actor, AuditKind::ServiceBroken, &detail)).await?;
    }
    Ok(health)
}

/// Open a stored credential; a value that does not decrypt makes the link unusable (re-link),
/// it is never used as plaintext.
pub(crate) fn open(
    core: &Core,
    column: &EncryptedColumn,
    key: &str,
    stored: &str,
) -> Result<SecretString, Failure> {
    core.cipher.open_secret(field(column, key), stored).map_err(|e| {
        tracing::error!(table = column.table, column = column.column, error = %e, "stored credential does not decrypt");
        Failure::new(ErrorCode::NoCredentials)
    })
}

/// The linked account of `provider`, if any.
pub async fn find(
    core: &Core,
    user_id: UserId,
    provider: Provider,
) -> Result<Option<ProviderLink>, LinkError> {
    Ok(db::links::find(&core.db, user_id, provider).await?)
}

/// The stored primary credential of a link (Last.fm session key, ListenBrainz token, Spotify
/// access token without any refresh logic).
pub fn stored_credential(core: &Core, link: &ProviderLink) -> Result<SecretString, Failure> {
    let key = row_key(link.user_id, link.provider);
    open(core, &PROVIDER_ACCESS_TOKEN, &key, &link.access_token_enc)
}

/// A Spotify access token that is not about to expire (refreshing it first if it is).
pub async fn spotify_access(
    core: &Core,
    client: &SpotifyClient,
    link: &ProviderLink,
) -> Result<SecretString, CallError> {
    let due = link
        .token_expires_at
        .is_some_and(|at| at - REFRESH_MARGIN_SECS <= core.clock.now());
    if due {
        return spotify_refresh(core, client, link.user_id, None).await;
    }
    Ok(stored_credential(core, link)?)
}

/// Refresh the Spotify access token, one refresh at a time. `rejected` is the access token a
/// call just saw refused: if the stored one already differs, another task refreshed meanwhile
/// and its token is used. On success the new access token (and a rotated refresh token) is
/// stored; on any failure nothing stored changes.
pub async fn spotify_refresh(
    core: &Core,
    client: &SpotifyClient,
    user_id: UserId,
    rejected: Option<&SecretString>,
) -> Result<SecretString, CallError> {
    let _guard = core.spotify_refresh.lock().await;
    // Read again under the lock: another task may have refreshed while this one waited.
    let Some(link) = db::links::find(&core.db, user_id, Provider::Spotify).await? else {
        return Err(Failure::new(ErrorCode::NoCredentials).into());
    };
    let key = row_key(user_id, Provider::Spotify);
    let now = core.clock.now();
    let current = stored_credential(core, &link)?;
    let fresh = link
        .token_expires_at
        .is_none_or(|at| at - REFRESH_MARGIN_SECS > now);
    let already_refreshed = match rejected {
        Some(old) => !crate::crypto::ct_eq(
            crate::crypto::expose(old).as_bytes(),
            crate::crypto::expose(&current).as_bytes(),
        ),
        None => fresh,
    };
    if already_refreshed {
        return Ok(current);
    }
    let Some(refresh_enc) = link.refresh_token_enc.as_deref() else {
        return Err(Failure::new(ErrorCode::NoCredentials).into());
    };
    let refresh_token = open(core, &PROVIDER_REFRESH_TOKEN, &key, refresh_enc)?;
    let tokens = client.refresh(&refresh_token).await.map_err(|e| {
        tracing::warn!(error = %e, "renewing Spotify access failed; the stored refresh credential is kept");
        e.failure()
    })?;
    let access_enc = core.cipher.seal(
        field(&PROVIDER_ACCESS_TOKEN, &key),
        crate::crypto::expose(&tokens.access),
    )?;
    let rotated_enc = tokens
        .refresh
        .as_ref()
        .map(|r| {
            core.cipher.seal(
                field(&PROVIDER_REFRESH_TOKEN, &key),
                crate::crypto::expose(r),
            )
        })
        .transpose()?;
    let expires_at = tokens
        .expires_in
        .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    db::links::update_tokens(
        &core.db,
        user_id,
        Provider::Spotify,
        &access_enc,
        rotated_enc.as_deref(),
        expires_at,
        now,
    )
    .await?;
    tracing::info!(
        refresh_rotated = rotated_enc.is_some(),
        "renewed Spotify access"
    );
    Ok(tokens.access)
}

/// `GET /me` with a working token: refresh when due, and once more after a 401.
pub async fn spotify_me(
    core: &Core,
    client: &SpotifyClient,
    link: &ProviderLink,
) -> Result<Profile, CallError> {
    let access = spotify_access(core, client, link).await?;
    match client.me(&access).await {
        Ok(p) => Ok(p),
        Err(SpotifyError::Unauthorized) => {
            let access = spotify_refresh(core, client, link.user_id, Some(&access)).await?;
            Ok(client.me(&access).await.map_err(SpotifyError::failure)?)
        }
        Err(e) => Err(e.failure().into()),
    }
}

/// What "Test connection" found.
#[derive(Debug)]
pub enum TestOutcome {
    /// The service is not configured on this server, or not linked.
    NotLinked,
    Done(Health),
}

/// Run a cheap authenticated call against the service and record its health.
pub async fn test_connection(
    core: &Core,
    actor: Actor<'_>,
    service: Service,
) -> Result<TestOutcome, LinkError> {
    if !configured(core, service) {
        return Ok(TestOutcome::NotLinked);
    }
    let outcome = match service.provider() {
        None => match navidrome::check(core, actor.user_id, actor.username).await? {
            NavidromeCheck::NoPassword => return Ok(TestOutcome::NotLinked),
            NavidromeCheck::Connected => Ok(()),
            NavidromeCheck::Failed(f) => Err(f),
        },
        Some(provider) => {
            let Some(link) = find(core, actor.user_id, provider).await? else {
                return Ok(TestOutcome::NotLinked);
            };
            match authenticated_call(core, &link).await {
                Ok(()) => Ok(()),
                Err(CallError::Service(f)) => Err(f),
                Err(CallError::Storage(e)) => return Err(e),
            }
        }
    };
    Ok(TestOutcome::Done(
        record_health(core, actor, service, outcome).await?,
    ))
}

/// The cheapest call that proves the stored credential works.
async fn authenticated_call(core: &Core, link: &ProviderLink) -> Result<(), CallError> {
    match link.provider {
        Provider::Spotify => {
            let Some(client) = core.clients.spotify.as_ref() else {
                return Err(Failure::new(ErrorCode::ClientRejected).into());
            };
            spotify_me(core, client, link).await.map(|_| ())
        }
        Provider::Lastfm => {
            let Some(client) = core.clients.lastfm.as_ref() else {
                return Err(Failure::new(ErrorCode::ApiKeyInvalid).into());
            };
            let session_key = stored_credential(core, link)?;
            client
                .session_user(&session_key)
                .await
                .map(|_| ())
                .map_err(|e| e.failure().into())
        }
        Provider::Listenbrainz => {
            let token = stored_credential(core, link)?;
            core.clients
                .listenbrainz
                .validate_token(&token)
                .await
                .map(|_| ())
                .map_err(|e| e.failure().into())
        }
    }
}

/// Everything the providers page shows about the user's services, read once.
#[derive(Debug)]
pub struct Overview {
    pub links: Vec<ProviderLink>,
    pub health: Vec<db::links::HealthRow>,
    pub has_navidrome_password: bool,
}

pub async fn overview(core: &Core, user_id: UserId) -> Result<Overview, LinkError> {
    Ok(Overview {
        links: db::links::list(&core.db, user_id).await?,
        health: db::links::health_all(&core.db, user_id).await?,
        has_navidrome_password: db::credentials::has_navidrome_password(&core.db, user_id).await?,
    })
}

/// The providers linked for this user.
pub async fn linked(core: &Core, user_id: UserId) -> Result<Vec<Provider>, LinkError> {
    Ok(db::links::list(&core.db, user_id)
        .await?
        .into_iter()
        .map(|l| l.provider)
        .collect())
}
