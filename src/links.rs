//! Linked services: storing credentials (sealed with the row key `<user_id>:<provider>`),
//! recording link health from the one failure classification (F11), and calling Spotify with a
//! working access token (refreshed before expiry, and once on a 401; a rotated refresh token is
//! persisted; a failed refresh never discards the stored one).
//!
//! Used by the HTTP handlers now and by the sync jobs later. Secrets stay `SecretString`s.

use secrecy::SecretString;

use crate::clients::navidrome::{Credentials, NavidromeError};
use crate::clients::spotify::{Profile, SpotifyClient, SpotifyError};
use crate::crypto::registry::{
    EncryptedColumn, NAVIDROME_PASSWORD, PROVIDER_ACCESS_TOKEN, PROVIDER_REFRESH_TOKEN,
};
use crate::crypto::{CryptoError, FieldRef};
use crate::db::{self, audit::NewAuditEvent};
use crate::domain::audit::AuditKind;
use crate::domain::ids::UserId;
use crate::domain::link_health::{ErrorCode, Failure, Health, LinkStatus, Provider};
use crate::error::AppError;
use crate::state::AppState;

/// Refresh a Spotify access token this long before it expires.
pub const REFRESH_MARGIN_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("sealing a credential failed: {0}")]
    Crypto(#[from] CryptoError),
}

impl From<LinkError> for AppError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Db(e) => AppError::Db(e),
            LinkError::Crypto(e) => {
                AppError::Internal(anyhow::anyhow!("credential encryption: {e}"))
            }
        }
    }
}

/// Who acts, for audit rows.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user_id: UserId,
    pub username: &'a str,
    pub client_ip: &'a str,
}

/// The associated-data row key of a `provider_links` credential.
pub fn row_key(user_id: UserId, provider: Provider) -> String {
    format!("{user_id}:{}", provider.as_str())
}

fn field<'a>(column: &'a EncryptedColumn, row_key: &'a str) -> FieldRef<'a> {
    FieldRef { column, row_key }
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
    state: &AppState,
    actor: Actor<'_>,
    provider: Provider,
    creds: NewCredentials<'_>,
) -> Result<(), LinkError> {
    let key = row_key(actor.user_id, provider);
    let access_enc = state.cipher.seal(
        field(&PROVIDER_ACCESS_TOKEN, &key),
        crate::crypto::expose(creds.access),
    )?;
    let refresh_enc = creds
        .refresh
        .map(|r| {
            state.cipher.seal(
                field(&PROVIDER_REFRESH_TOKEN, &key),
                crate::crypto::expose(r),
            )
        })
        .transpose()?;
    let mut tx = state.db.begin().await?;
    db::links::upsert(
        &mut tx,
        db::links::NewLink {
            user_id: actor.user_id,
            provider: provider.as_str(),
            account_name: creds.account_name,
            access_token_enc: &access_enc,
            refresh_token_enc: refresh_enc.as_deref(),
            token_expires_at: creds.expires_at,
            scopes: creds.scopes,
        },
    )
    .await?;
    db::links::set_health(&mut *tx, actor.user_id, provider.as_str(), &Health::ok()).await?;
    db::audit::record(
        &mut *tx,
        NewAuditEvent {
            user_id: Some(actor.user_id),
            kind: AuditKind::ServiceLinked,
            username: actor.username,
            client_ip: actor.client_ip,
            detail: provider.label(),
        },
    )
    .await?;
    tx.commit().await?;
    state.events.publish_audit(AuditKind::ServiceLinked);
    tracing::info!(provider = provider.as_str(), "service linked");
    Ok(())
}

/// Delete the link's stored credentials, health and pending states. Audited when a link existed.
pub async fn unlink(
    state: &AppState,
    actor: Actor<'_>,
    provider: Provider,
) -> Result<bool, LinkError> {
    let mut tx = state.db.begin().await?;
    let existed = db::links::delete(&mut tx, actor.user_id, provider.as_str()).await?;
    if existed {
        db::audit::record(
            &mut *tx,
            NewAuditEvent {
                user_id: Some(actor.user_id),
                kind: AuditKind::ServiceUnlinked,
                username: actor.username,
                client_ip: actor.client_ip,
                detail: provider.label(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    if existed {
        state.events.publish_audit(AuditKind::ServiceUnlinked);
        tracing::info!(provider = provider.as_str(), "service unlinked");
    }
    Ok(existed)
}

/// Record the outcome of a call in the link's health. Entering `broken` is audited once.
pub async fn record(
    state: &AppState,
    actor: Actor<'_>,
    provider: Provider,
    outcome: Result<(), Failure>,
) -> Result<Health, LinkError> {
    let previous = db::links::health(&state.db, actor.user_id, provider.as_str()).await?;
    let (prev_status, prev_failures) = previous.as_ref().map_or((LinkStatus::Ok, 0), |p| {
        (p.health.status, p.health.failure_count)
    });
    let health = match outcome {
        Ok(()) => Health::ok(),
        Err(failure) => {
            let jitter: f64 = rand::random();
            Health::after_failure(prev_failures, failure, db::now(), jitter)
        }
    };
    db::links::set_health(&state.db, actor.user_id, provider.as_str(), &health).await?;
    if let Some(code) = health.last_error {
        tracing::warn!(
            provider = provider.as_str(),
            error = code.as_str(),
            status = health.status.as_str(),
            "service call failed"
        );
    }
    if health.status == LinkStatus::Broken && prev_status != LinkStatus::Broken {
        let detail = format!(
            "{}: {}",
            provider.label(),
            health.last_error.map_or("unknown", ErrorCode::as_str)
        );
        db::audit::record(
            &state.db,
            NewAuditEvent {
                user_id: Some(actor.user_id),
                kind: AuditKind::ServiceBroken,
                username: actor.username,
                client_ip: actor.client_ip,
                detail: &detail,
            },
        )
        .await?;
        state.events.publish_audit(AuditKind::ServiceBroken);
    }
    Ok(health)
}

/// Open a stored credential; a value that does not decrypt makes the link unusable (re-link),
/// it is never used as plaintext.
fn open(
    state: &AppState,
    column: &EncryptedColumn,
    key: &str,
    stored: &str,
) -> Result<SecretString, Failure> {
    state.cipher.open_secret(field(column, key), stored).map_err(|e| {
        tracing::error!(table = column.table, column = column.column, error = %e, "stored credential does not decrypt");
        Failure::new(ErrorCode::NoCredentials)
    })
}

/// The stored primary credential of a link (Last.fm session key, ListenBrainz token, Spotify
/// access token without any refresh logic).
pub async fn stored_credential(
    state: &AppState,
    user_id: UserId,
    provider: Provider,
) -> Result<Result<SecretString, Failure>, LinkError> {
    let Some(link) = db::links::find(&state.db, user_id, provider.as_str()).await? else {
        return Ok(Err(Failure::new(ErrorCode::NoCredentials)));
    };
    let key = row_key(user_id, provider);
    Ok(open(
        state,
        &PROVIDER_ACCESS_TOKEN,
        &key,
        &link.access_token_enc,
    ))
}

/// A Spotify access token that is not about to expire (refreshing it first if it is).
pub async fn spotify_access(
    state: &AppState,
    client: &SpotifyClient,
    user_id: UserId,
) -> Result<Result<SecretString, Failure>, LinkError> {
    let Some(link) = db::links::find(&state.db, user_id, Provider::Spotify.as_str()).await? else {
        return Ok(Err(Failure::new(ErrorCode::NoCredentials)));
    };
    let due = link
        .token_expires_at
        .is_some_and(|at| at - REFRESH_MARGIN_SECS <= db::now());
    if due {
        return spotify_refresh(state, client, user_id, None).await;
    }
    let key = row_key(user_id, Provider::Spotify);
    Ok(open(
        state,
        &PROVIDER_ACCESS_TOKEN,
        &key,
        &link.access_token_enc,
    ))
}

/// Refresh the Spotify access token, one refresh at a time. `rejected` is the access token a
/// call just saw refused: if the stored one already differs, another task refreshed meanwhile
/// and its token is used. On success the new access token (and a rotated refresh token) is
/// stored; on any failure nothing stored changes.
pub async fn spotify_refresh(
    state: &AppState,
    client: &SpotifyClient,
    user_id: UserId,
    rejected: Option<&SecretString>,
) -> Result<Result<SecretString, Failure>, LinkError> {
    let _guard = state.spotify_refresh.lock().await;
    let Some(link) = db::links::find(&state.db, user_id, Provider::Spotify.as_str()).await? else {
        return Ok(Err(Failure::new(ErrorCode::NoCredentials)));
    };
    let key = row_key(user_id, Provider::Spotify);
    let now = db::now();
    let current = match open(state, &PROVIDER_ACCESS_TOKEN, &key, &link.access_token_enc) {
        Ok(c) => c,
        Err(f) => return Ok(Err(f)),
    };
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
        return Ok(Ok(current));
    }
    let Some(refresh_enc) = link.refresh_token_enc.as_deref() else {
        return Ok(Err(Failure::new(ErrorCode::NoCredentials)));
    };
    let refresh_token = match open(state, &PROVIDER_REFRESH_TOKEN, &key, refresh_enc) {
        Ok(r) => r,
        Err(f) => return Ok(Err(f)),
    };
    let tokens = match client.refresh(&refresh_token).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "renewing Spotify access failed; the stored refresh credential is kept");
            return Ok(Err(e.failure()));
        }
    };
    let access_enc = state.cipher.seal(
        field(&PROVIDER_ACCESS_TOKEN, &key),
        crate::crypto::expose(&tokens.access),
    )?;
    let rotated_enc = tokens
        .refresh
        .as_ref()
        .map(|r| {
            state.cipher.seal(
                field(&PROVIDER_REFRESH_TOKEN, &key),
                crate::crypto::expose(r),
            )
        })
        .transpose()?;
    let expires_at = tokens
        .expires_in
        .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    db::links::update_tokens(
        &state.db,
        user_id,
        Provider::Spotify.as_str(),
        &access_enc,
        rotated_enc.as_deref(),
        expires_at,
    )
    .await?;
    tracing::info!(
        refresh_rotated = rotated_enc.is_some(),
        "renewed Spotify access"
    );
    Ok(Ok(tokens.access))
}

/// `GET /me` with a working token: refresh when due, and once more after a 401.
pub async fn spotify_me(
    state: &AppState,
    client: &SpotifyClient,
    user_id: UserId,
) -> Result<Result<Profile, Failure>, LinkError> {
    let access = match spotify_access(state, client, user_id).await? {
        Ok(a) => a,
        Err(f) => return Ok(Err(f)),
    };
    match client.me(&access).await {
        Ok(p) => Ok(Ok(p)),
        Err(SpotifyError::Unauthorized) => {
            let access = match spotify_refresh(state, client, user_id, Some(&access)).await? {
                Ok(a) => a,
                Err(f) => return Ok(Err(f)),
            };
            Ok(client.me(&access).await.map_err(SpotifyError::failure))
        }
        Err(e) => Ok(Err(e.failure())),
    }
}

/// Why a ping with the stored Navidrome password did not succeed.
pub enum NavidromePing {
    /// The stored password does not decrypt (re-login needed); never used as plaintext.
    Undecryptable(Failure),
    Failed(NavidromeError),
}

/// Ping Navidrome with the stored password. `None` when no password is stored.
pub async fn navidrome_ping(
    state: &AppState,
    user_id: UserId,
    username: &str,
) -> Result<Option<Result<(), NavidromePing>>, LinkError> {
    let Some(stored) = db::credentials::navidrome_password(&state.db, user_id).await? else {
        return Ok(None);
    };
    let key = user_id.to_string();
    let password = match open(state, &NAVIDROME_PASSWORD, &key, &stored) {
        Ok(p) => p,
        Err(f) => return Ok(Some(Err(NavidromePing::Undecryptable(f)))),
    };
    let creds = Credentials {
        username,
        password: &password,
    };
    Ok(Some(
        state
            .navidrome
            .ping(&creds)
            .await
            .map_err(NavidromePing::Failed),
    ))
}

/// What "Test connection" found.
pub enum TestOutcome {
    /// The service is not configured on this server, or not linked.
    NotLinked,
    Done(Health),
}

/// Run a cheap authenticated call against the service and record the link's health.
pub async fn test_connection(
    state: &AppState,
    actor: Actor<'_>,
    provider: Provider,
) -> Result<TestOutcome, LinkError> {
    let user_id = actor.user_id;
    let outcome: Result<(), Failure> = match provider {
        Provider::Navidrome => match navidrome_ping(state, user_id, actor.username).await? {
            None => return Ok(TestOutcome::NotLinked),
            Some(result) => result.map_err(|e| match e {
                NavidromePing::Undecryptable(f) => f,
                NavidromePing::Failed(e) => Failure::new(navidrome_code(&e)),
            }),
        },
        Provider::Spotify => {
            let Some(client) = state.spotify.as_ref() else {
                return Ok(TestOutcome::NotLinked);
            };
            if db::links::find(&state.db, user_id, provider.as_str())
                .await?
                .is_none()
            {
                return Ok(TestOutcome::NotLinked);
            }
            spotify_me(state, client, user_id).await?.map(|_| ())
        }
        Provider::Lastfm => {
            let Some(client) = state.lastfm.as_ref() else {
                return Ok(TestOutcome::NotLinked);
            };
            if db::links::find(&state.db, user_id, provider.as_str())
                .await?
                .is_none()
            {
                return Ok(TestOutcome::NotLinked);
            }
            match stored_credential(state, user_id, provider).await? {
                Err(f) => Err(f),
                Ok(sk) => client
                    .session_user(&sk)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.failure()),
            }
        }
        Provider::Listenbrainz => {
            if db::links::find(&state.db, user_id, provider.as_str())
                .await?
                .is_none()
            {
                return Ok(TestOutcome::NotLinked);
            }
            match stored_credential(state, user_id, provider).await? {
                Err(f) => Err(f),
                Ok(token) => state
                    .listenbrainz
                    .validate_token(&token)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.failure()),
            }
        }
    };
    Ok(TestOutcome::Done(
        record(state, actor, provider, outcome).await?,
    ))
}

fn navidrome_code(e: &NavidromeError) -> ErrorCode {
    match e {
        NavidromeError::WrongCredentials => ErrorCode::WrongPassword,
        NavidromeError::Unreachable => ErrorCode::Unreachable,
        NavidromeError::BadResponse { status } if *status >= 500 => ErrorCode::ServerError,
        NavidromeError::BadResponse { .. } | NavidromeError::Api { .. } => ErrorCode::BadResponse,
    }
}
