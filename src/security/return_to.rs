//! The page to return to after signing in: only a same-origin relative path is ever accepted,
//! so the `next` parameter of the login page cannot become an open redirect.

/// The longest return path kept; anything longer is dropped (a real page address is short).
const MAX_LEN: usize = 512;

/// Paths never returned to: sign-in itself, sign-out, OAuth callbacks, the event stream and
/// the JSON API (not pages).
const REFUSED_PREFIXES: &[&str] = &[
    "/auth/", "/login", "/logout", "/events", "/api/", "/static/",
];

/// `raw` if it is a safe place to send the browser after signing in: a path on this site
/// (`/…`, optionally with a query), not `//host`, `/\host`, a scheme, a control character, a
/// backslash, or any of those hidden behind percent-encoding. `None` otherwise.
pub fn safe_return_path(raw: &str) -> Option<&str> {
    if raw.is_empty() || raw.len() > MAX_LEN || raw == "/" {
        return None;
    }
    if !is_plain_path(raw) {
        return None;
    }
    // The same rules must hold after decoding, however many times a hop decodes it.
    let mut current = raw.to_owned();
    for _ in 0..3 {
        let decoded = percent_decode(&current)?;
        if decoded == current {
            break;
        }
        if !is_safe_decoded(&decoded) {
            return None;
        }
        current = decoded;
    }
    let path = raw.split(['?', '#']).next().unwrap_or(raw);
    if REFUSED_PREFIXES
        .iter()
        .any(|p| path == p.trim_end_matches('/') || path.starts_with(p))
    {
        return None;
    }
    Some(raw)
}

/// A path starting with exactly one `/`, of printable ASCII, without a backslash.
fn is_plain_path(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.iter().all(|&b| b.is_ascii_graphic() && b != b'\\')
}

/// A decoded path: may hold spaces and letters beyond ASCII, but still exactly one leading
/// `/`, no backslash and no control character.
fn is_safe_decoded(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !s.chars().any(|c| c == '\\' || c.is_control())
}

/// Decode `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pages_are_kept() {
        for ok in [
            "/preferences/tasks",
            "/library?q=sigur%20r%C3%B3s&page=2",
            "/review/42",
            "/listens?service=lastfm",
        ] {
            assert_eq!(safe_return_path(ok), Some(ok), "{ok}");
        }
    }

    #[test]
    fn other_hosts_and_schemes_are_refused() {
        for bad in [
            "",
            "/",
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "data:text/html,x",
            "evil.example",
            "./relative",
            " /leading-space",
            "/tab\there",
            "/new\nline",
            "/%2F%2Fevil.example",
            "/%2fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%252F%252Fevil.example",
            "/%25252F/evil.example",
            "/a%0d%0aSet-Cookie:x=1",
            "/%00",
            "/%zz",
            "/%E0%A4%A",
            "/caf\u{e9}",
            "/auth/login",
            "/auth/spotify/callback?code=x",
            "/login",
            "/logout",
            "/events",
            "/api/v1/listens",
            "/static/app.js",
        ] {
            assert_eq!(safe_return_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn long_paths_are_dropped() {
        let long = format!("/library?q={}", "a".repeat(MAX_LEN));
        assert_eq!(safe_return_path(&long), None);
    }
}
