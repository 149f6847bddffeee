//! `/preferences/ai`: the AI provider's endpoint, model (from the endpoint's `/models` list when
//! it offers one), key (a write-only field; the page only ever says "configured (…last4)" or
//! "not configured"), the daily token budget with today's use, and "Test connection". A
//! setting given in the environment wins and is shown as such.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::Core;
use crate::config::{OPENAI_DEFAULT_BASE_URL, OPENAI_DEFAULT_MODEL};
use crate::http::error::{AppError, AppResult};
use crate::http::notices::{Code, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::security::client_ip::ClientInfo;
use crate::services::ai::{self, SettingsForm, Source, TestResult};

const PAGE: &str = "/preferences/ai";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page).post(save))
        .route("/preferences/ai/test", post(test))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AiNotice {
    Saved,
}

impl Code for AiNotice {
    const ALL: &'static [Self] = &[Self::Saved];
    fn as_str(self) -> &'static str {
        "saved"
    }
}

#[derive(Template)]
#[template(path = "preferences_ai.html")]
struct AiPage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    configured: bool,
    how_to: &'static str,
    endpoint: String,
    endpoint_from_env: bool,
    model: String,
    model_from_env: bool,
    key_state: String,
    key_from_env: bool,
    key_in_settings: bool,
    stored_base_url: String,
    stored_model: String,
    stored_budget: String,
    budget: String,
    used_today: i64,
    calls_today: i64,
    models: Vec<String>,
    default_base_url: &'static str,
    default_model: &'static str,
    test_ok: Option<String>,
    test_error: Option<String>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    notice: Option<String>,
}

async fn view(
    core: &Core,
    user: CurrentUser,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    test: Option<TestResult>,
) -> AppResult<AiPage> {
    let s = ai::settings_view(core, user.user_id).await?;
    let p = &s.provider;
    let models = if p.is_configured() {
        ai::models(core, user.user_id).await?
    } else {
        Vec::new()
    };
    let key_state = match p.key_hint() {
        Some(hint) => format!("configured ({hint})"),
        None => "not configured".to_owned(),
    };
    let (test_ok, test_error) = match test {
        None => (None, None),
        Some(TestResult::Ok { model }) => (Some(model), None),
        Some(TestResult::Failed(text)) => (None, Some(text)),
        Some(TestResult::NotConfigured) => (None, Some(ai::NOT_CONFIGURED.to_owned())),
    };
    Ok(AiPage {
        notice,
        error,
        configured: p.is_configured(),
        how_to: ai::HOW_TO_CONFIGURE,
        endpoint: ai::endpoint_label(p),
        endpoint_from_env: p.base_url_source == Source::Environment,
        model: p.model.clone(),
        model_from_env: p.model_source == Source::Environment,
        key_state,
        key_from_env: p.key_source == Source::Environment,
        key_in_settings: p.key_source == Source::Settings,
        stored_base_url: s.stored_base_url.clone(),
        stored_model: s.stored_model.clone(),
        stored_budget: s.stored_budget.map(|b| b.to_string()).unwrap_or_default(),
        budget: p
            .budget
            .map_or_else(|| "no limit".to_owned(), |b| format!("{b} tokens")),
        used_today: s.used_today,
        calls_today: s.calls_today,
        models,
        default_base_url: OPENAI_DEFAULT_BASE_URL,
        default_model: OPENAI_DEFAULT_MODEL,
        test_ok,
        test_error,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "ai"),
    })
}

async fn page(
    State(core): State<Core>,
    user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let notice = q
        .notice
        .as_deref()
        .and_then(AiNotice::parse)
        .map(|_| "The AI settings were saved.");
    let v = view(&core, user, notice, None, None).await?;
    Ok(render(&v, StatusCode::OK))
}

#[derive(Deserialize)]
struct AiForm {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    daily_token_budget: String,
    /// Write-only: never shown back.
    #[serde(default)]
    api_key: Option<SecretString>,
    #[serde(default)]
    clear_key: Option<String>,
}

async fn save(
    State(core): State<Core>,
    client: ClientInfo,
    user: CurrentUser,
    form: Result<Form<AiForm>, FormRejection>,
) -> AppResult<Response> {
    let Ok(Form(f)) = form else {
        return Err(AppError::BadRequest(
            "The AI settings form was incomplete. Go back and try again.",
        ));
    };
    let form = SettingsForm {
        base_url: f.base_url,
        model: f.model,
        budget: f.daily_token_budget,
        api_key: f.api_key.unwrap_or_else(|| SecretString::from("")),
        clear_key: f.clear_key.is_some(),
    };
    let ip = client.ip.to_string();
    match ai::save_settings(&core, user.actor(&ip), form).await? {
        Ok(()) => Ok(redirect_with_notice(PAGE, AiNotice::Saved)),
        Err(problem) => {
            let v = view(&core, user, None, Some(problem.message()), None).await?;
            Ok(render(&v, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

/// Run the test and show the page with its result (the provider's text is never put in a URL).
async fn test(State(core): State<Core>, user: CurrentUser) -> AppResult<Response> {
    let result = ai::test_connection(&core, user.user_id).await?;
    let v = view(&core, user, None, None, Some(result)).await?;
    Ok(render(&v, StatusCode::OK))
}
