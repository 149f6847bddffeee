//! Any OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, LiteLLM, vLLM):
//! `POST {base}/chat/completions` with a JSON response format, and `GET {base}/models`.
//!
//! The key is a `SecretString` that only becomes a header here; it never appears in an error.
//! A provider's own error text is kept (the settings page shows it) but with anything that
//! looks like a key masked, and the key itself masked should the provider echo it.
//! Rate limits (429) and server errors (5xx) are retried a few times with a short, capped wait.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::clients::http::{self, CallFailure, ServiceHttp};

/// Largest answer read from a model endpoint.
pub const LLM_BODY_CAP: usize = 4 * 1024 * 1024;
/// Tries of one call when the endpoint rate-limits or fails with a 5xx.
const ATTEMPTS: u32 = 3;
/// Longest wait between tries, whatever `Retry-After` asks for.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// Longest provider error text kept.
const ERROR_TEXT_CAP: usize = 300;

#[derive(Clone)]
pub struct LlmClient {
    http: ServiceHttp,
    attempts: u32,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.http, f)
    }
}

/// Why a model call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// Transport, rate limit or server error after the retries, or an unreadable body.
    #[error("{0}")]
    Call(CallFailure),
    /// The endpoint refused the request (4xx) and said why. `message` is the provider's text
    /// with keys masked.
    #[error("the AI provider refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// A success without any message content.
    #[error("the AI provider sent an empty answer")]
    Empty,
}

/// One chat exchange: a system and a user message.
#[derive(Debug, Clone)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub user: &'a str,
    pub temperature: f32,
    pub max_tokens: u32,
    /// Ask for `response_format: {"type": "json_object"}`.
    pub json: bool,
}

/// The model's answer and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatAnswer {
    pub content: String,
    /// The model that answered, as the endpoint names it.
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl ChatAnswer {
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct ChatBody<'a> {
    model: &'a str,
    messages: [Message<'a>; 2],
    temperature: f32,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ChoiceMessage>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

impl LlmClient {
    /// A client for the endpoint at `base` (e.g. `https://api.openai.com/v1`).
    pub fn new(base: &Url, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            http: ServiceHttp::new("LlmClient", base, timeout)?,
            attempts: ATTEMPTS,
        })
    }

    /// No retries: for a call a page waits on ("Test connection").
    #[must_use]
    pub fn single_attempt(mut self) -> Self {
        self.attempts = 1;
        self
    }

    /// One Chat Completions call, retried on 429 and 5xx.
    pub async fn chat(
        &self,
        key: Option<&SecretString>,
        req: &ChatRequest<'_>,
    ) -> Result<ChatAnswer, LlmError> {
        let body = ChatBody {
            model: req.model,
            messages: [
                Message {
                    role: "system",
                    content: req.system,
                },
                Message {
                    role: "user",
                    content: req.user,
                },
            ],
            temperature: req.temperature,
            max_tokens: req.max_tokens,
            response_format: req.json.then_some(ResponseFormat {
                kind: "json_object",
            }),
        };
        let url = self.http.url("chat/completions");
        let bytes = self
            .with_retries(key, |client| client.post(url.clone()).json(&body))
            .await?;
        let parsed: ChatResponse = http::parse_json(&bytes).map_err(LlmError::Call)?;
        let content = parsed
            .choices
            .into_iter()
            .find_map(|c| c.message.and_then(|m| m.content))
            .filter(|c| !c.trim().is_empty())
            .ok_or(LlmError::Empty)?;
        let usage = parsed.usage.unwrap_or_default();
        let completion = if usage.completion_tokens == 0 && usage.total_tokens > 0 {
            usage.total_tokens.saturating_sub(usage.prompt_tokens)
        } else {
            usage.completion_tokens
        };
        Ok(ChatAnswer {
            content,
            model: parsed.model.unwrap_or_else(|| req.model.to_owned()),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: completion,
        })
    }

    /// The models the endpoint offers (`GET /models`), sorted; `Ok(empty)` when it offers no
    /// such list.
    pub async fn models(&self, key: Option<&SecretString>) -> Result<Vec<String>, LlmError> {
        let url = self.http.url("models");
        let bytes = match self.with_retries(key, |c| c.get(url.clone())).await {
            Ok(b) => b,
            Err(LlmError::Refused { status: 404, .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let list: ModelList = http::parse_json(&bytes).map_err(LlmError::Call)?;
        let mut ids: Vec<String> = list
            .data
            .into_iter()
            .map(|m| m.id)
            .filter(|id| !id.is_empty() && id.len() <= 200)
            .collect();
        ids.sort();
        ids.dedup();
        ids.truncate(500);
        Ok(ids)
    }

    async fn with_retries(
        &self,
        key: Option<&SecretString>,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, LlmError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = build(self.http.client());
            if let Some(key) = key {
                request = request.bearer_auth(key.expose_secret());
            }
            let failure = match self.once(request, key).await {
                Ok(body) => return Ok(body),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retry(f)) => f,
            };
            if attempt >= self.attempts {
                return Err(LlmError::Call(failure));
            }
            let wait = match failure {
                CallFailure::RateLimited {
                    retry_after: Some(w),
                } => w,
                _ => Duration::from_millis(500 * 2u64.pow(attempt - 1)),
            };
            tracing::info!(
                attempt,
                wait_ms = u64::try_from(wait.min(MAX_WAIT).as_millis()).unwrap_or(u64::MAX),
                failure = %failure,
                "AI provider call will be retried"
            );
            tokio::time::sleep(wait.min(MAX_WAIT)).await;
        }
    }

    async fn once(
        &self,
        request: reqwest::RequestBuilder,
        key: Option<&SecretString>,
    ) -> Result<Vec<u8>, Attempt> {
        let resp = http::send(request)
            .await
            .map_err(|f| Attempt::Final(LlmError::Call(f)))?;
        let status = resp.status();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        match CallFailure::from_status(status, resp.headers(), now) {
            None => http::read_body_capped(resp, LLM_BODY_CAP)
                .await
                .map_err(|f| Attempt::Final(LlmError::Call(f))),
            Some(f @ (CallFailure::RateLimited { .. } | CallFailure::Server(_))) => {
                Err(Attempt::Retry(f))
            }
            Some(_) => {
                let body = http::read_body_capped(resp, 64 * 1024)
                    .await
                    .unwrap_or_default();
                Err(Attempt::Final(LlmError::Refused {
                    status: status.as_u16(),
                    message: provider_message(&body, key),
                }))
            }
        }
    }
}

enum Attempt {
    Retry(CallFailure),
    Final(LlmError),
}

/// The provider's error text (OpenAI's `{"error": {"message": …}}`, or a plain `{"error": …}`,
/// or the raw body), shortened, with keys masked.
fn provider_message(body: &[u8], key: Option<&SecretString>) -> String {
    #[derive(Deserialize)]
    struct Wrapper {
        error: serde_json::Value,
    }
    let text = match serde_json::from_slice::<Wrapper>(body) {
        Ok(w) => match w.error {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(o) => o
                .get("message")
                .and_then(serde_json::Value::as_str)
                .map_or_else(
                    || serde_json::Value::Object(o.clone()).to_string(),
                    str::to_owned,
                ),
            other => other.to_string(),
        },
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(ERROR_TEXT_CAP)
        .collect();
    let text = redact_key(&text, key);
    if text.trim().is_empty() {
        "no reason given".to_owned()
    } else {
        text
    }
}

/// `text` with `sk-…`-style keys and the given key (and any 8+ character piece of it that the
/// provider might echo, such as OpenAI's "sk-abc…wxyz") masked.
pub fn redact_key(text: &str, key: Option<&SecretString>) -> String {
    let mut out = crate::telemetry::redact(text);
    if let Some(key) = key {
        let k = key.expose_secret();
        if !k.is_empty() {
            out = out.replace(k, "[redacted]");
            // The key's head and tail as providers print them ("sk-ab***wxyz").
            let chars: Vec<char> = k.chars().collect();
            if chars.len() >= 12 {
                let tail: String = chars[chars.len() - 4..].iter().collect();
                let head: String = chars[..6].iter().collect();
                out = out.replace(&head, "[redacted]");
                out = out.replace(&format!("*{tail}"), "*[redacted]");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn ok_body() -> serde_json::Value {
        serde_json::json!({"model": "m-1", "choices": [{"message": {"content": "{\"ok\": true}"}}],
                           "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
    }

    fn request() -> ChatRequest<'static> {
        ChatRequest {
            model: "m",
            system: "s",
            user: "u",
            temperature: 0.5,
            max_tokens: 10,
            json: true,
        }
    }

    async fn client(server: &MockServer, timeout: Duration) -> LlmClient {
        LlmClient::new(
            &Url::parse(&format!("{}/v1", server.uri())).unwrap(),
            timeout,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_chat_asks_for_json_sends_the_key_and_reads_usage() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(header("authorization", "Bearer sk-abc-123456789"))
            .and(body_partial_json(serde_json::json!({
                "model": "m", "response_format": {"type": "json_object"},
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(ok_body()))
            .expect(1)
            .mount(&server)
            .await;
        let key = SecretString::from("sk-abc-123456789");
        let a = client(&server, Duration::from_secs(5))
            .await
            .chat(Some(&key), &request())
            .await
            .unwrap();
        assert_eq!(a.content, "{\"ok\": true}");
        assert_eq!(
            (a.model.as_str(), a.prompt_tokens, a.completion_tokens),
            ("m-1", 7, 3)
        );
    }

    #[tokio::test]
    async fn rate_limits_and_server_errors_are_retried_then_given_up() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(ok_body()))
            .mount(&server)
            .await;
        let c = client(&server, Duration::from_secs(5)).await;
        assert!(c.chat(None, &request()).await.is_ok());
        assert_eq!(server.received_requests().await.unwrap().len(), 2);

        let failing = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&failing)
            .await;
        let c = client(&failing, Duration::from_secs(5)).await;
        assert_eq!(
            c.chat(None, &request()).await,
            Err(LlmError::Call(CallFailure::Server(503)))
        );
        assert_eq!(failing.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_slow_provider_fails_within_the_timeout() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(ok_body())
                    .set_delay(Duration::from_secs(5)),
            )
            .mount(&server)
            .await;
        let started = std::time::Instant::now();
        let r = client(&server, Duration::from_millis(500))
            .await
            .chat(None, &request())
            .await;
        assert_eq!(r, Err(LlmError::Call(CallFailure::Unreachable)));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn models_are_listed_or_absent() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"data": [{"id": "b"}, {"id": "a"}, {"id": "a"}]}),
            ))
            .mount(&server)
            .await;
        let c = client(&server, Duration::from_secs(5)).await;
        assert_eq!(c.models(None).await.unwrap(), vec!["a", "b"]);
        let none = MockServer::start().await;
        let c = client(&none, Duration::from_secs(5)).await;
        assert_eq!(c.models(None).await.unwrap(), Vec::<String>::new());
    }

    #[test]
    fn provider_errors_keep_their_text_without_the_key() {
        let key = SecretString::from("sk-proj-ABCDEFGHijklmnop1234");
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-proj-ABCDEFGHijklmnop1234. You can find your API key at https://platform.openai.com.","type":"invalid_request_error"}}"#;
        let msg = provider_message(body, Some(&key));
        assert!(msg.starts_with("Incorrect API key provided"), "{msg}");
        assert!(!msg.contains("ABCDEFGH"), "{msg}");
        let echoed = provider_message(
            br#"{"error":"bad key xyzw-secretvalue99"}"#,
            Some(&SecretString::from("xyzw-secretvalue99")),
        );
        assert!(!echoed.contains("secretvalue"), "{echoed}");
        assert_eq!(provider_message(b"", None), "no reason given");
    }
}
