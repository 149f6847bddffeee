//! Logging (S9): tracing with a redacting writer in front of every sink. Secrets are typed and
//! never logged on purpose; the redactor is the second line of defence for what slips through
//! (a URL with `t=`/`s=`, an `Authorization` header, an `sk-…` key, a JWT).

use std::io::{self, Write};
use std::sync::{Arc, LazyLock, Mutex};

use regex::Regex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

const MASK: &str = "[REDACTED]";

static QUERY_SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    // A sensitive query or form parameter, in a URL or a `key=value` log field.
    Regex::new(
        r"(?i)([?&;\s(]|^)(t|s|p|token|api_key|apikey|api_sig|sk|code|state|code_verifier|password|csrf_token|access_token|refresh_token|client_secret)=([^&\s#'\x22,)]+)",
    )
    .unwrap_or_else(|_| unreachable!("static regex"))
});
static HEADER_SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(authorization|cookie|set-cookie|x-csrf-token)("?\s*[:=]\s*"?)([^"\r\n]+)"#)
        .unwrap_or_else(|_| unreachable!("static regex"))
});
/// An auth scheme word and its credential. Only a whole value is masked: the word must not end
/// a path (`/x/token`), and what follows must not be the name of a `key=value` field, so a
/// neighbouring `request_id=…` stays readable.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(^|[^/\w-])(bearer|token|basic)\s+[A-Za-z0-9._~+/-]{8,}=*(\s|$|["',;)\]}])"#)
        .unwrap_or_else(|_| unreachable!("static regex"))
});
static API_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bsk-[A-Za-z0-9_-]{8,}").unwrap_or_else(|_| unreachable!("static regex"))
});
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
        .unwrap_or_else(|_| unreachable!("static regex"))
});
static ENCRYPTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"enc:v[12]:[A-Za-z0-9:+/=]+").unwrap_or_else(|_| unreachable!("static regex"))
});

/// Mask anything in `line` that looks like a credential.
pub fn redact(line: &str) -> String {
    let s = QUERY_SECRETS.replace_all(line, format!("${{1}}${{2}}={MASK}").as_str());
    let s = HEADER_SECRETS.replace_all(&s, format!("${{1}}${{2}}{MASK}").as_str());
    let s = BEARER.replace_all(&s, format!("${{1}}${{2}} {MASK}${{3}}").as_str());
    let s = API_KEY.replace_all(&s, MASK);
    let s = JWT.replace_all(&s, MASK);
    let s = ENCRYPTED.replace_all(&s, MASK);
    s.into_owned()
}

/// A writer that buffers one formatted event and writes it redacted.
pub struct RedactingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let text = String::from_utf8_lossy(&self.buf);
            self.inner.write_all(redact(&text).as_bytes())?;
            self.buf.clear();
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Wraps any `MakeWriter` so every event passes through `redact`.
#[derive(Clone)]
pub struct Redacting<M>(pub M);

impl<'a, M> MakeWriter<'a> for Redacting<M>
where
    M: MakeWriter<'a>,
{
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.0.make_writer(),
            buf: Vec::with_capacity(256),
        }
    }
}

/// An in-memory sink, for tests that read what was logged.
#[derive(Clone, Default)]
pub struct CaptureBuffer(pub Arc<Mutex<Vec<u8>>>);

impl CaptureBuffer {
    pub fn contents(&self) -> String {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&guard).into_owned()
    }
}

pub struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CaptureBuffer {
    type Writer = CaptureWriter;
    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter(Arc::clone(&self.0))
    }
}

fn filter(level: &str) -> EnvFilter {
    // The level applies to Spotter; dependencies stay at warn unless RUST_LOG says otherwise.
    let directive = if level.contains('=') || level.contains(',') {
        level.to_owned()
    } else {
        format!("warn,spotter={level},tower_http={level}")
    };
    EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&directive))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Install the global subscriber writing to `writer` through the redactor.
pub fn init_with<M>(
    level: &str,
    format: LogFormat,
    writer: M,
) -> Result<(), tracing_subscriber::util::TryInitError>
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter(level));
    let w = Redacting(writer);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(w),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                    .with_writer(w),
            )
            .try_init(),
    }
}

/// Install the global subscriber on stdout.
pub fn init(level: &str, format: LogFormat) {
    let _ = init_with(level, format, io::stdout);
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_subsonic_credentials_in_urls() {
        let line =
            "GET http://nd/rest/ping?u=demo&t=26719a1196d2a940705a59634eb18eab&s=c19b2d&v=1.16.1";
        let r = redact(line);
        assert!(!r.contains("26719a"), "{r}");
        assert!(!r.contains("c19b2d"), "{r}");
        assert!(r.contains("v=1.16.1"));
    }

    #[test]
    fn masks_oauth_and_headers_and_keys() {
        let cases = [
            (
                "callback?code=AQDxyz123abc&state=st4te-value",
                ["AQDxyz123abc", "st4te-value"],
            ),
            (
                "authorization: Bearer abcdefghijk123",
                ["abcdefghijk123", "abcdefghijk123"],
            ),
            (
                "cookie: spotter_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
                ["eyJhbGci", "spotter_token=eyJ"],
            ),
            (
                "key sk-proj-abcdefghijklmnop in text",
                ["sk-proj-abcdefghijklmnop", "abcdefghijklmnop"],
            ),
            (
                "api_sig=0123456789abcdef&sk=sessionkey123",
                ["0123456789abcdef", "sessionkey123"],
            ),
            (
                "password=hunter2 csrf_token=Zm9vYmFy",
                ["hunter2", "Zm9vYmFy"],
            ),
            (
                "value enc:v2:abcd1234:AAAABBBBCCCC== end",
                ["AAAABBBBCCCC", "AAAABBBBCCCC"],
            ),
        ];
        for (line, secrets) in cases {
            let r = redact(line);
            for s in secrets {
                assert!(!r.contains(s), "{line:?} -> {r:?} still has {s:?}");
            }
        }
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let line = "request finished status=200 latency=3ms path=/preferences/security";
        assert_eq!(redact(line), line);
    }

    #[test]
    fn keeps_request_ids_next_to_words_that_name_secrets() {
        for path in ["/auth/token", "/x/basic", "/bearer"] {
            let line = format!(
                "request{{method=POST path={path} request_id=9f3a1c2b4d5e-0000002a}}: finished"
            );
            assert_eq!(redact(&line), line);
        }
        let json = r#"{"span":{"path":"/api/token","request_id":"9f3a1c2b4d5e-0000002a"}}"#;
        assert_eq!(redact(json), json);
        let masked = redact("header was Token c2VjcmV0LXZhbHVlLTEyMw== today");
        assert!(!masked.contains("c2VjcmV0"), "{masked}");
        assert!(masked.ends_with(" today"), "{masked}");
    }
}
