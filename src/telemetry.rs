//! Logging: tracing with a redacting writer in front of every sink. Secrets are typed and
//! never logged on purpose; the redactor is the second line of defence for what slips through
//! (a URL with `t=`/`s=`, an `Authorization` header, an `sk-…` key, a JWT).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use axum::http::{HeaderValue, Method, Uri};
use regex::{Regex, RegexSet};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
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
        LogFormat::Json => registry.with(json_layer(writer)).try_init(),
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            registry.with(text_layer(writer, ansi)).try_init()
        }
    }
}

fn json_layer<S, M>(writer: M) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    M: for<'a> MakeWriter<'a> + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .map_event_format(JsonWithRequest)
        .with_writer(writer)
}

fn text_layer<S, M>(writer: M, ansi: bool) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    M: for<'a> MakeWriter<'a> + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .event_format(TextWithRequest::default())
        .with_writer(writer)
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// The request being served, named on every line logged while serving it: the method, the
/// path (never the query, which may carry OAuth codes) and the request id the response carries.
/// Also the address of the connection it came on, which the log does not show: client identity
/// is worked out from it only by the handlers that ask (see [`request_peer`]).
///
/// Kept in a task-local rather than a tracing span: a span costs a registry slot and its fields
/// formatted into a string on every request, even though most requests log nothing at all;
/// this is formatted only when a line is written.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub method: Method,
    pub uri: Uri,
    pub id: RequestId,
    pub peer: SocketAddr,
}

/// The connection address of the request being served; `None` outside one (a spawned task, a
/// test calling a handler directly).
pub fn request_peer() -> Option<SocketAddr> {
    REQUEST.try_with(|r| r.peer).ok()
}

/// Run `fut` as the serving of `context`: lines it logs (from any call depth, on any worker
/// thread it moves to) name the request. Tasks it spawns do not inherit it.
pub fn in_request<F: Future>(
    context: RequestContext,
    fut: F,
) -> tokio::task::futures::TaskLocalFuture<RequestContext, F> {
    REQUEST.scope(context, fut)
}

/// A request id: a random per-process prefix and a counter. Unique across restarts for log
/// correlation, without a getrandom call per request; written out only when needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    prefix: [u8; 12],
    n: u64,
}

/// The longest request id: the prefix, a dash and 16 hex digits.
const REQUEST_ID_MAX: usize = 12 + 1 + 16;

impl RequestId {
    /// "<prefix>-<counter as 8+ hex digits>", written on the stack; the length used.
    fn write(self) -> ([u8; REQUEST_ID_MAX], usize) {
        let mut out = [0u8; REQUEST_ID_MAX];
        out[..12].copy_from_slice(&self.prefix);
        out[12] = b'-';
        let digits = (16 - self.n.leading_zeros() / 4).max(8) as usize;
        for (i, slot) in out[13..13 + digits].iter_mut().enumerate() {
            let shift = (digits - 1 - i) * 4;
            *slot = HEX[usize::try_from((self.n >> shift) & 0xf).unwrap_or(0)];
        }
        (out, 13 + digits)
    }

    /// As a response header value: one allocation of exactly its length.
    pub fn header_value(self) -> HeaderValue {
        let (id, len) = self.write();
        HeaderValue::from_bytes(&id[..len]).unwrap_or_else(|_| HeaderValue::from_static("-"))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, len) = self.write();
        // Only hex digits and a dash were written.
        f.write_str(std::str::from_utf8(&id[..len]).map_err(|_| fmt::Error)?)
    }
}

/// Hands out request ids: one random prefix per process, then a counter.
pub struct RequestIds {
    prefix: [u8; 12],
    next: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        let random: [u8; 6] = rand::random();
        let mut prefix = [0u8; 12];
        for (pair, byte) in prefix.chunks_exact_mut(2).zip(random) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        Self {
            prefix,
            next: AtomicU64::new(1),
        }
    }
}

impl RequestIds {
    pub fn next(&self) -> RequestId {
        RequestId {
            prefix: self.prefix,
            n: self.next.fetch_add(1, Ordering::Relaxed),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The text format: time and level, then `request{method=… path=… request_id=…}:` for a line
/// logged while serving a request, then spans, target and fields as tracing-subscriber writes
/// them.
struct TextWithRequest {
    rest: Format<Full, ()>,
}

impl Default for TextWithRequest {
    fn default() -> Self {
        Self {
            rest: tracing_subscriber::fmt::format()
                .without_time()
                .with_level(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for TextWithRequest
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        let level = *event.metadata().level();
        if writer.has_ansi_escapes() {
            let colour = match level {
                Level::ERROR => 31,
                Level::WARN => 33,
                Level::INFO => 32,
                Level::DEBUG => 34,
                Level::TRACE => 35,
            };
            write!(writer, " \x1b[{colour}m{level:>5}\x1b[0m ")?;
        } else {
            write!(writer, " {level:>5} ")?;
        }
        if let Ok(written) = REQUEST.try_with(|r| {
            write!(
                writer,
                "request{{method={} path={} request_id={}}}: ",
                r.method,
                r.uri.path(),
                r.id
            )
        }) {
            written?;
        }
        self.rest.format_event(ctx, writer, event)
    }
}

/// The JSON format of tracing-subscriber, with `"request":{"method","path","request_id"}` added
/// to a line logged while serving a request.
struct JsonWithRequest<F>(F);

impl<S, N, F> FormatEvent<S, N> for JsonWithRequest<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Ok(request) = REQUEST.try_with(|r| {
            serde_json::json!({
                "method": r.method.as_str(),
                "path": r.uri.path(),
                "request_id": r.id.to_string(),
            })
        }) else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // Each event is one object and a newline: the request goes in before the closing brace.
        match line.strip_suffix("}\n") {
            Some(object) => writeln!(writer, "{object},\"request\":{request}}}"),
            None => writer.write_str(&line),
        }
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
    fn request_ids_are_a_fixed_prefix_and_a_counter() {
        let ids = super::RequestIds::default();
        let (first, second) = (ids.next(), ids.next());
        let (first, second) = (first.to_string(), second.to_string());
        assert_eq!(first.len(), 12 + 1 + 8, "{first}");
        assert_eq!(first[..13], second[..13]);
        assert!(first.ends_with("-00000001"), "{first}");
        assert!(second.ends_with("-00000002"), "{second}");
        assert!(first[..12].bytes().all(|b| b.is_ascii_hexdigit()));
        let third = ids.next();
        assert_eq!(third.header_value().to_str().unwrap(), third.to_string());
        let longest = super::RequestId {
            prefix: *b"0123456789ab",
            n: u64::MAX,
        };
        assert_eq!(longest.to_string(), "0123456789ab-ffffffffffffffff");
        assert_eq!(longest.header_value(), "0123456789ab-ffffffffffffffff");
        let other = super::RequestIds::default().next().to_string();
        assert_ne!(first[..12], other[..12], "a new process, a new prefix");
    }

    #[test]
    fn lines_logged_while_serving_a_request_name_it_in_both_formats() {
        use tracing_subscriber::layer::SubscriberExt;
        let id = super::RequestIds::default().next();
        let serving = || super::RequestContext {
            method: axum::http::Method::POST,
            uri: "/auth/login?code=AQDxyz123abc".parse().unwrap(),
            id,
            peer: ([127, 0, 0, 1], 40000).into(),
        };
        let log_both = || {
            super::REQUEST.sync_scope(serving(), || {
                tracing::warn!(target: "spotter::t", status = 500, "inside");
            });
            tracing::warn!(target: "spotter::t", "outside");
        };

        let text = super::CaptureBuffer::default();
        let subscriber =
            tracing_subscriber::registry().with(super::text_layer(text.clone(), false));
        tracing::subscriber::with_default(subscriber, log_both);
        let text = text.contents();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let named = format!(
            " WARN request{{method=POST path=/auth/login request_id={id}}}: spotter::t: inside status=500"
        );
        assert!(lines[0].ends_with(&named), "{text}");
        assert!(lines[1].ends_with(" WARN spotter::t: outside"), "{text}");
        assert!(
            !text.contains("AQDxyz"),
            "the query is never logged: {text}"
        );

        let json = super::CaptureBuffer::default();
        let subscriber = tracing_subscriber::registry().with(super::json_layer(json.clone()));
        tracing::subscriber::with_default(subscriber, log_both);
        let json = json.contents();
        let lines: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{json}");
        assert_eq!(lines[0]["message"], "inside");
        assert_eq!(lines[0]["status"], 500);
        assert_eq!(
            lines[0]["request"],
            serde_json::json!({"method": "POST", "path": "/auth/login", "request_id": id.to_string()})
        );
        assert_eq!(lines[1]["message"], "outside");
        assert!(lines[1].get("request").is_none(), "{json}");
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
