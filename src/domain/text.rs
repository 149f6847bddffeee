//! Text normalisation for identity: the same song spelled differently by two services must
//! normalise alike. Lowercase, accents folded, `&` read as "and", punctuation dropped, spaces
//! collapsed. It keeps every word (including "live", "remix", "remaster"): telling versions
//! apart is the matcher's job, which reads the words this keeps.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The normalised form of a title, artist or album name.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        let mapped: Option<&str> = match c {
            '&' | '+' => Some("and"),
            // Apostrophes join a word ("don't" = "dont"); other punctuation separates words.
            '\'' | '\u{2019}' | '\u{2018}' | '`' | '´' => Some(""),
            _ => None,
        };
        if let Some(m) = mapped {
            if !m.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(m);
                pending_space = true;
            }
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spellings_of_one_name_agree() {
        assert_eq!(normalize("Beyoncé"), normalize("BEYONCE"));
        assert_eq!(normalize("Simon & Garfunkel"), "simon and garfunkel");
        assert_eq!(
            normalize("Don’t Stop Me Now"),
            normalize("Don't stop me now")
        );
        assert_eq!(normalize("  AC/DC  "), "ac dc");
        assert_eq!(normalize("Sigur Rós"), "sigur ros");
        assert_eq!(normalize("Hello (Live)"), "hello live");
        assert_eq!(normalize("ＡＢＣ"), "abc");
    }

    #[test]
    fn scripts_without_case_survive() {
        assert_eq!(normalize("坂本 龍一"), "坂本 龍一");
        assert_eq!(normalize("Кино"), "кино");
    }

    proptest! {
        #[test]
        fn normalising_twice_changes_nothing(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }
    }
}
