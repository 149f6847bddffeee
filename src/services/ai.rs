//! The AI provider: which endpoint, model and key a user's AI features use, the settings page's
//! reads and writes, "Test connection", and every model call (through `chat`), which checks the
//! daily token budget first and records the tokens spent after.
//!
//! Resolution: each of base URL, model and key comes from the environment when set there,
//! else from the settings page, else the default (no key). The key entered in the UI is stored
//! sealed (`crypto::registry::AI_API_KEY`); only whether one is set and its last four
//! characters ever leave this module, never the key.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::app::Core;
use crate::clients::llm::{ChatAnswer, ChatRequest, LlmClient, LlmError};
use crate::config::{OPENAI_DEFAULT_BASE_URL, OPENAI_DEFAULT_MODEL};
use crate::crypto::FieldRef;
use crate::crypto::registry::AI_API_KEY;
use crate::db;
use crate::domain::audit::AuditKind;
use crate::domain::ids::UserId;
use crate::services::ServiceError;
use crate::services::audit::{self, Actor, Entry};

/// The sentence shown wherever AI is offered but no provider is configured.
pub const NOT_CONFIGURED: &str = "No AI provider configured.";

/// Where a setting comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Environment,
    Settings,
    Default,
}

/// A user's effective provider.
#[derive(Clone)]
pub struct Provider {
    pub base_url: Url,
    pub base_url_source: Source,
    pub model: String,
    pub model_source: Source,
    pub key: Option<SecretString>,
    pub key_source: Source,
    /// Tokens per UTC day; `None` = no limit.
    pub budget: Option<u64>,
    pub budget_source: Source,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("base_url", &self.base_url.as_str())
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "[set]"))
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Whether AI can be used: a key is set, or the endpoint is not the default hosted one (a
    /// local Ollama or LiteLLM needs no key).
    pub fn is_configured(&self) -> bool {
        self.key.is_some()
            || self.base_url.as_str().trim_end_matches('/') != OPENAI_DEFAULT_BASE_URL
    }

    /// "…wxyz" for the key, if one is set.
    pub fn key_hint(&self) -> Option<String> {
        self.key.as_ref().map(|k| last4(k.expose_secret()))
    }
}

fn last4(k: &str) -> String {
    let chars: Vec<char> = k.chars().collect();
    if chars.len() < 12 {
        // Too short to show any part of it.
        return "…".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("…{tail}")
}

/// The UTC day of `now`, as stored in `llm_usage`.
pub fn day_of(now: i64) -> i64 {
    now.div_euclid(86_400)
}

/// The user's effective provider.
pub async fn provider(core: &Core, user_id: UserId) -> Result<Provider, ServiceError> {
    let row = db::vibes::ai_settings(&core.db, user_id)
        .await?
        .unwrap_or_default();
    let env = &core.config.openai;
    let (base_url, base_url_source) = if env.base_url_set {
        (env.base_url.clone(), Source::Environment)
    } else if let Some(u) = (!row.base_url.is_empty())
        .then(|| Url::parse(&row.base_url).ok())
        .flatten()
    {
        (u, Source::Settings)
    } else {
        (env.base_url.clone(), Source::Default)
    };
    let (model, model_source) = if env.model_set {
        (env.model.clone(), Source::Environment)
    } else if !row.model.is_empty() {
        (row.model.clone(), Source::Settings)
    } else {
        (OPENAI_DEFAULT_MODEL.to_owned(), Source::Default)
    };
    let (key, key_source) = if let Some(k) = &env.api_key {
        (Some(k.clone()), Source::Environment)
    } else if let Some(stored) = &row.api_key_enc {
        let key = core.cipher.open_secret(
            FieldRef {
                column: &AI_API_KEY,
                row_key: &user_id.to_string(),
            },
            stored,
        )?;
        (Some(key), Source::Settings)
    } else {
        (None, Source::Default)
    };
    let (budget, budget_source) = match row.daily_token_budget {
        Some(0) => (None, Source::Settings),
        Some(n) => (u64::try_from(n).ok(), Source::Settings),
        None => (core.config.vibes.daily_token_budget, Source::Environment),
    };
    Ok(Provider {
        base_url,
        base_url_source,
        model,
        model_source,
        key,
        key_source,
        budget,
        budget_source,
    })
}

/// What a call is for: a generation (the configured timeout, retries) or a check a page waits
/// on (short timeout, one attempt, so the page answers within the request deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Generation,
    Check,
}

/// Timeout of a call a page waits on.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

fn client(core: &Core, p: &Provider, purpose: Purpose) -> Result<LlmClient, ServiceError> {
    Ok(match purpose {
        Purpose::Generation => LlmClient::new(&p.base_url, core.config.vibes.timeout)?,
        Purpose::Check => LlmClient::new(&p.base_url, CHECK_TIMEOUT)?.single_attempt(),
    })
}

/// Why a model call was not made or gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AiFailure {
    #[error("No AI provider configured.")]
    NotConfigured,
    #[error(
        "Today's AI token budget is spent ({used} of {budget} tokens). It resets at midnight UTC; the budget can be raised on the AI settings page."
    )]
    BudgetSpent { used: u64, budget: u64 },
    #[error("The AI provider could not be used: {0}")]
    Provider(LlmError),
}

impl AiFailure {
    /// The text shown to the user: the provider's own words with `key` masked wherever the
    /// provider echoed it.
    pub fn user_message(&self, key: Option<&SecretString>) -> String {
        match self {
            Self::Provider(e) => format!(
                "The AI provider could not be used: {}",
                crate::clients::llm::redact_key(&e.to_string(), key)
            ),
            other => other.to_string(),
        }
    }
}

/// One model call for `user_id`: refused when no provider is configured or today's budget is
/// spent; tokens recorded after.
pub async fn chat(
    core: &Core,
    user_id: UserId,
    p: &Provider,
    system: &str,
    user: &str,
    max_tokens: u32,
    purpose: Purpose,
) -> Result<Result<ChatAnswer, AiFailure>, ServiceError> {
    if !p.is_configured() {
        return Ok(Err(AiFailure::NotConfigured));
    }
    let today = day_of(core.clock.now());
    if let Some(budget) = p.budget {
        let used =
            u64::try_from(db::vibes::usage(&core.db, user_id, today).await?.tokens).unwrap_or(0);
        if used >= budget {
            return Ok(Err(AiFailure::BudgetSpent { used, budget }));
        }
    }
    let llm = client(core, p, purpose)?;
    let request = ChatRequest {
        model: &p.model,
        system,
        user,
        temperature: 0.8,
        max_tokens,
        json: true,
    };
    let answer = {
        let _permit = core.jobs.outside_call().await;
        llm.chat(p.key.as_ref(), &request).await
    };
    match answer {
        Ok(a) => {
            db::vibes::add_usage(
                &core.db,
                user_id,
                today,
                i64::try_from(a.prompt_tokens).unwrap_or(i64::MAX),
                i64::try_from(a.completion_tokens).unwrap_or(i64::MAX),
            )
            .await?;
            Ok(Ok(a))
        }
        Err(e) => {
            tracing::warn!(error = %e, "AI provider call failed");
            Ok(Err(AiFailure::Provider(e)))
        }
    }
}

/// What the settings page shows.
#[derive(Debug, Clone)]
pub struct SettingsView {
    pub provider: Provider,
    /// The values stored from the settings page (what the form shows).
    pub stored_base_url: String,
    pub stored_model: String,
    pub stored_budget: Option<i64>,
    pub used_today: i64,
    pub calls_today: i64,
}

pub async fn settings_view(core: &Core, user_id: UserId) -> Result<SettingsView, ServiceError> {
    let row = db::vibes::ai_settings(&core.db, user_id)
        .await?
        .unwrap_or_default();
    let provider = provider(core, user_id).await?;
    let usage = db::vibes::usage(&core.db, user_id, day_of(core.clock.now())).await?;
    Ok(SettingsView {
        provider,
        stored_base_url: row.base_url,
        stored_model: row.model,
        stored_budget: row.daily_token_budget,
        used_today: usage.tokens,
        calls_today: usage.calls,
    })
}

/// The settings form.
#[derive(Debug, Clone)]
pub struct SettingsForm {
    pub base_url: String,
    pub model: String,
    /// Empty = the server's budget.
    pub budget: String,
    /// Empty = keep the stored key.
    pub api_key: SecretString,
    pub clear_key: bool,
}

/// Why the settings form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsProblem {
    BadUrl,
    BadModel,
    BadBudget,
    BadKey,
}

impl SettingsProblem {
    pub fn message(self) -> &'static str {
        match self {
            Self::BadUrl => {
                "The endpoint must be an http:// or https:// URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1."
            }
            Self::BadModel => "The model name is too long or has line breaks.",
            Self::BadBudget => "The daily token budget must be a whole number (0 = no limit).",
            Self::BadKey => "The key looks wrong: it must be one line of at most 500 characters.",
        }
    }
}

/// Store the settings page's values (the key sealed) and audit the change: which parts changed,
/// never a value.
pub async fn save_settings(
    core: &Core,
    actor: Actor<'_>,
    form: SettingsForm,
) -> Result<Result<(), SettingsProblem>, ServiceError> {
    let user_id = actor.user_id;
    let base_url = form.base_url.trim();
    if !base_url.is_empty() {
        match Url::parse(base_url) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && base_url.len() <= 500 => {}
            _ => return Ok(Err(SettingsProblem::BadUrl)),
        }
    }
    let model = form.model.trim();
    if model.len() > 200 || model.chars().any(char::is_control) {
        return Ok(Err(SettingsProblem::BadModel));
    }
    let budget = match form.budget.trim() {
        "" => None,
        s => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Ok(Err(SettingsProblem::BadBudget)),
        },
    };
    let key = form.api_key.expose_secret().trim();
    if key.len() > 500 || key.chars().any(char::is_control) {
        return Ok(Err(SettingsProblem::BadKey));
    }
    let now = core.clock.now();
    db::vibes::save_ai_settings(&core.db, user_id, base_url, model, budget, now).await?;
    let detail = if form.clear_key {
        "AI settings saved; the AI key was removed"
    } else if key.is_empty() {
        "AI settings saved (endpoint, model, budget)"
    } else {
        "AI settings saved; a new AI key was stored"
    };
    if form.clear_key {
        db::vibes::set_ai_key(&core.db, user_id, None, now).await?;
    } else if !key.is_empty() {
        let sealed = core.cipher.seal(
            FieldRef {
                column: &AI_API_KEY,
                row_key: &user_id.to_string(),
            },
            key,
        )?;
        db::vibes::set_ai_key(&core.db, user_id, Some(&sealed), now).await?;
    }
    audit::record(core, Entry::by(actor, AuditKind::SettingsChanged, detail)).await?;
    Ok(Ok(()))
}

/// What "Test connection" found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestResult {
    NotConfigured,
    /// The endpoint answered a tiny chat request with this model.
    Ok {
        model: String,
    },
    /// The provider's error text, keys masked.
    Failed(String),
}

/// A cheap call (a one-word chat answer), counted against the budget like any other.
pub async fn test_connection(core: &Core, user_id: UserId) -> Result<TestResult, ServiceError> {
    let p = provider(core, user_id).await?;
    if !p.is_configured() {
        return Ok(TestResult::NotConfigured);
    }
    let answer = chat(
        core,
        user_id,
        &p,
        "You are a connection test. Answer with the JSON object {\"ok\": true}.",
        "Reply with {\"ok\": true}.",
        20,
        Purpose::Check,
    )
    .await?;
    Ok(match answer {
        Ok(a) => TestResult::Ok { model: a.model },
        Err(AiFailure::Provider(e)) => TestResult::Failed(crate::clients::llm::redact_key(
            &e.to_string(),
            p.key.as_ref(),
        )),
        Err(e) => TestResult::Failed(e.to_string()),
    })
}

/// The models the endpoint lists, or empty when it lists none or cannot be asked.
pub async fn models(core: &Core, user_id: UserId) -> Result<Vec<String>, ServiceError> {
    let p = provider(core, user_id).await?;
    if !p.is_configured() {
        return Ok(Vec::new());
    }
    // A page waits for this: a short timeout and one attempt, not the generation's.
    let llm = LlmClient::new(&p.base_url, std::time::Duration::from_secs(5))?.single_attempt();
    Ok(match llm.models(p.key.as_ref()).await {
        Ok(m) => m,
        Err(e) => {
            tracing::info!(error = %e, "the AI endpoint gave no model list");
            Vec::new()
        }
    })
}

/// Where to point a user who has no provider: what the pages say after `NOT_CONFIGURED`.
pub const HOW_TO_CONFIGURE: &str = "Enter an endpoint and key on the AI settings page (Preferences → AI), or set SPOTTER_OPENAI_API_KEY (and SPOTTER_OPENAI_BASE_URL for Ollama, LiteLLM or another OpenAI-compatible server). Everything else in Spotter works without it.";

/// The model a page may show for the endpoint: never a key.
pub fn endpoint_label(p: &Provider) -> String {
    crate::clients::http::BaseUrl::new(&p.base_url).redacted()
}
