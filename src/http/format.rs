//! Small display helpers for templates.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-23 07:45 UTC`.
pub fn human_time(unix: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(unix) else {
        return String::from("unknown");
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

pub fn iso_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A session's device in words, such as "Firefox on Linux", from its User-Agent header.
pub fn device(user_agent: &str) -> String {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match parsed {
        Some(r) if known(r.name) && known(r.os) => format!("{} on {}", r.name, r.os),
        Some(r) if known(r.name) => r.name.to_owned(),
        _ => "Unknown browser".to_owned(),
    }
}

/// A track length as `m:ss`; empty when unknown.
pub fn track_length(secs: Option<i64>) -> String {
    secs.filter(|s| *s > 0)
        .map_or(String::new(), |s| format!("{}:{:02}", s / 60, s % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_read_as_words() {
        assert_eq!(
            device("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox on Linux"
        );
        assert!(device("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1").starts_with("Safari on "));
        assert_eq!(device("curl/8.5.0"), "HTTP Library");
        assert_eq!(device(""), "Unknown browser");
    }

    #[test]
    fn formats() {
        assert_eq!(human_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(human_time(i64::MAX), "unknown");
    }
}
