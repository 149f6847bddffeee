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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(human_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(human_time(i64::MAX), "unknown");
    }
}
