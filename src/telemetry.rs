//! Logging (S9): tracing with a redacting writer in front of every sink. Secrets are typed and
//! never logged on purpose; the redactor is the second line of defence for what slips through
//! (a URL with `t=`/`s=`, an `Authorization` header, an `sk-…` key, a JWT).

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use regex::{Regex, RegexSet};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::config::LogFormat;

const MASK: &str = "[REDACTED]";

/// A sensitive query or form parameter, in a URL or a `key=value` log field.
const QUERY_SECRET: &str = r"(?i)([?&;\s(]|^)(t|s|p|token|api_key|apikey|api_sig|sk|code|state|code_verifier|password|csrf_token|access_token|refresh_token|client_secret)=([^&\s#'\x22,)]+)";
const HEADER_SECRET: &str =
    r#"(?i)\b(authorization|cookie|set-cookie|x-csrf-token)("?\s*[:=]\s*"?)([^"\r\n]+)"#;
/// An auth scheme word and its credential. Only a whole value is masked: the word must not end
/// a path (`/x/token`), and what follows must not be the name of a `key=value` field, so a
/// neighbouring `request_id=…` stays readable.
const BEARER: &str =
    r#"(?i)(^|[^/\w-])(bearer|token|basic)\s+[A-Za-z0-9._~+/-]{8,}=*(\s|$|["',;)\]}])"#;
const API_KEY: &str = r"\bsk-[A-Za-z0-9_-]{8,}";
const JWT: &str = r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*";
const ENCRYPTED: &str = r"enc:v[12]:[A-Za-z0-9:+/=]+";

/// Each pattern with what replaces a match, applied in this order.
static RULES: LazyLock<[(Regex, String); 6]> = LazyLock::new(|| {
    let rule = |pattern: &str, with: String| {
        (
            Regex::new(pattern).unwrap_or_else(|_| unreachable!("static regex")),
            with,
        )
    };
    [
        rule(QUERY_SECRET, format!("${{1}}${{2}}={MASK}")),
        rule(HEADER_SECRET, format!("${{1}}${{2}}{MASK}")),
        rule(BEARER, format!("${{1}}${{2}} {MASK}${{3}}")),
        rule(API_KEY, MASK.to_owned()),
        rule(JWT, MASK.to_owned()),
        rule(ENCRYPTED, MASK.to_owned()),
    ]
});
/// All the patterns in one pass. Most lines (every access line, for one) match none, and such a
/// line is left as it is without running the six replacements.
static ANY_SECRET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([QUERY_SECRET, HEADER_SECRET, BEARER, API_KEY, JWT, ENCRYPTED])
        .unwrap_or_else(|_| unreachable!("static regex"))
});

/// Mask anything in `line` that looks like a credential.
pub fn redact(line: &str) -> String {
    if !ANY_SECRET.is_match(line) {
        return line.to_owned();
    }
    let mut out = line.to_owned();
    for (pattern, with) in RULES.iter() {
        if let Cow::Owned(masked) = pattern.replace_all(&out, with.as_str()) {
            out = masked;
        }
    }
    out
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

/// Which events are kept. The level applies to Spotter; dependencies stay at warn unless
/// `RUST_LOG` says otherwise. A list of target levels (the usual case) becomes a static filter,
/// decided once per call site; only `RUST_LOG` or a level with span or field directives needs
/// `EnvFilter`, which also looks at every span as it is entered and left.
fn filter(level: &str) -> Box<dyn Layer<Registry> + Send + Sync> {
    match EnvFilter::try_from_env("RUST_LOG") {
        Ok(env) => Box::new(env),
        Err(_) => level_filter(level),
    }
}

fn level_filter(level: &str) -> Box<dyn Layer<Registry> + Send + Sync> {
    let directive = if level.contains('=') || level.contains(',') {
        level.to_owned()
    } else {
        format!("warn,spotter={level}")
    };
    if let Ok(targets) = directive.parse::<Targets>() {
        return Box::new(targets);
    }
    Box::new(EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info")))
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
    install(level, format, Redacting(writer))
}

/// Install the global subscriber on a writer that already redacts.
fn install<M>(
    level: &str,
    format: LogFormat,
    writer: M,
) -> Result<(), tracing_subscriber::util::TryInitError>
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter(level));
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                    .with_writer(writer),
            )
            .try_init(),
    }
}

/// Log lines waiting for the writer thread; when full, lines are dropped (and counted) rather
/// than making a request wait for the terminal or the container runtime.
const LOG_QUEUE_LINES: usize = 4096;

enum LogMsg {
    Line(Vec<u8>),
    /// Write everything queued before this, then answer.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// A `MakeWriter` that hands each formatted event to a writer thread, which redacts it and
/// writes it out: the request path never blocks on the log, nor runs the redactor.
#[derive(Clone)]
pub struct Offloaded {
    tx: std::sync::mpsc::SyncSender<LogMsg>,
    dropped: Arc<AtomicU64>,
}

/// One event being formatted; sent whole when the formatter drops it.
pub struct OffloadedWriter {
    sink: Offloaded,
    buf: Vec<u8>,
}

impl Write for OffloadedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for OffloadedWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.buf);
        if self.sink.tx.try_send(LogMsg::Line(line)).is_err() {
            self.sink.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<'a> MakeWriter<'a> for Offloaded {
    type Writer = OffloadedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        OffloadedWriter {
            sink: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// Keep it for the life of the process: dropping it writes out what is queued (waiting at
/// most a second).
pub struct LogGuard {
    tx: std::sync::mpsc::SyncSender<LogMsg>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let (ack_tx, ack_rx) = std::sync::mpsc::sync_channel(1);
        if self.tx.send(LogMsg::Flush(ack_tx)).is_ok() {
            let _ = ack_rx.recv_timeout(std::time::Duration::from_secs(1));
        }
    }
}

/// Start the writer thread over `out`: lines are redacted there, then written; the output is
/// flushed whenever the queue runs empty.
pub fn offload<W: Write + Send + 'static>(out: W) -> io::Result<(Offloaded, LogGuard)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<LogMsg>(LOG_QUEUE_LINES);
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&dropped);
    std::thread::Builder::new()
        .name("spotter-log".into())
        .spawn(move || {
            let mut out = io::BufWriter::new(out);
            while let Ok(first) = rx.recv() {
                let mut next = Some(first);
                while let Some(msg) = next {
                    match msg {
                        LogMsg::Line(line) => {
                            let text = String::from_utf8_lossy(&line);
                            let _ = out.write_all(redact(&text).as_bytes());
                        }
                        LogMsg::Flush(ack) => {
                            let _ = out.flush();
                            let _ = ack.try_send(());
                        }
                    }
                    next = rx.try_recv().ok();
                }
                let lost = counter.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    let _ = writeln!(
                        out,
                        "WARN spotter: {lost} log line(s) dropped: the log output could not keep up"
                    );
                }
                let _ = out.flush();
            }
        })?;
    Ok((
        Offloaded {
            tx: tx.clone(),
            dropped,
        },
        LogGuard { tx },
    ))
}

/// Install the global subscriber on stdout, through the writer thread (or directly if the
/// thread cannot start). Keep the guard for the life of the process.
pub fn init(level: &str, format: LogFormat) -> Option<LogGuard> {
    match offload(io::stdout()) {
        Ok((writer, guard)) => {
            // The writer thread redacts each line itself.
            let _ = install(level, format, writer);
            Some(guard)
        }
        Err(_) => {
            let _ = init_with(level, format, io::stdout);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn offloaded_lines_are_redacted_and_written_by_the_guard() {
        use std::io::Write;
        use tracing_subscriber::fmt::MakeWriter;
        let buf = super::CaptureBuffer::default();
        let sink = super::CaptureWriter(std::sync::Arc::clone(&buf.0));
        let (w, guard) = super::offload(sink).unwrap();
        for i in 0..10 {
            let mut line = w.make_writer();
            writeln!(line, "GET /x?token=s3cr3t-{i} ok").unwrap();
        }
        drop(guard);
        let out = buf.contents();
        assert_eq!(out.lines().count(), 10, "{out}");
        assert!(!out.contains("s3cr3t"), "{out}");
    }

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
                "bare eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl in text",
                ["eyJzdWIiOiIxIn0", "c2lnbmF0dXJl"],
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
    fn the_level_applies_to_spotter_and_dependencies_stay_at_warn() {
        use tracing_subscriber::layer::SubscriberExt;
        for (level, kept) in [
            ("info", &["spotter info", "dep warn"][..]),
            ("debug", &["spotter debug", "spotter info", "dep warn"][..]),
            (
                "warn,spotter=debug,dep=info",
                &["spotter debug", "spotter info", "dep info", "dep warn"][..],
            ),
            // Span directives are EnvFilter's: still understood.
            ("warn,spotter[request]=debug", &["dep warn"][..]),
        ] {
            let buf = super::CaptureBuffer::default();
            let subscriber = tracing_subscriber::registry()
                .with(super::level_filter(level))
                .with(
                    tracing_subscriber::fmt::layer()
                        .without_time()
                        .with_ansi(false)
                        .with_writer(buf.clone()),
                );
            tracing::subscriber::with_default(subscriber, || {
                tracing::debug!(target: "spotter::x", "spotter debug");
                tracing::info!(target: "spotter::x", "spotter info");
                tracing::info!(target: "dep::x", "dep info");
                tracing::warn!(target: "dep::x", "dep warn");
            });
            let out = buf.contents();
            let got: Vec<&str> = ["spotter debug", "spotter info", "dep info", "dep warn"]
                .into_iter()
                .filter(|m| out.contains(m))
                .collect();
            assert_eq!(got, kept, "{level}: {out}");
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
