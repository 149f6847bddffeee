//! Titles taken apart: the song's own name, the featured artists, and the version markers.
//!
//! Markers only come from bracketed parts (`(Live)`, `[Remastered]`) and dashed suffixes
//! (`- Live at Wembley 1986`): words of the title itself never are ("Live and Let Die").

use super::VersionKind;
use super::fold as normalize;

/// What the labels of a title (or album) say about the recording.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Markers {
    pub live: bool,
    /// Venue and date words of a live label, sorted.
    pub live_detail: Vec<String>,
    /// Labels that make a different recording, sorted.
    pub distinct: Vec<(VersionKind, String)>,
    /// An edit label (radio edit, single version, mono): same song, preferred when named.
    pub edit: Option<String>,
    /// Edition labels (remaster, deluxe, explicit): same recording, preferred when named.
    pub edition: Vec<String>,
}

/// A title taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParsedTitle {
    /// The title without marker labels or featured artists, normalised.
    pub base: String,
    /// `base` also without bracketed asides that are not part of the name ("From the film").
    pub core: String,
    /// The name before any dash or bracket ("Sunflower" of "Sunflower - Spider-Man: …").
    pub head: String,
    /// Featured artists as written ("X & Y").
    pub featured: Vec<String>,
    pub markers: Markers,
}

const FEAT_WORDS: &[&str] = &["feat", "ft", "featuring", "with"];
/// Words that make a bracketed aside part of the name: another part, a reprise.
const SIGNIFICANT: &[&str] = &[
    "reprise",
    "interlude",
    "intro",
    "outro",
    "part",
    "pt",
    "skit",
    "prelude",
    "overture",
    "cont",
    "continued",
    "coda",
    "suite",
    "movement",
    "act",
    "chapter",
    "volume",
    "vol",
];
const LANGUAGES: &[(&str, &str)] = &[
    ("spanish", "spanish"),
    ("espanol", "spanish"),
    ("castellano", "spanish"),
    ("spanglish", "spanglish"),
    ("english", "english"),
    ("ingles", "english"),
    ("french", "french"),
    ("frances", "french"),
    ("francais", "french"),
    ("german", "german"),
    ("deutsch", "german"),
    ("deutsche", "german"),
    ("italian", "italian"),
    ("italiano", "italian"),
    ("portuguese", "portuguese"),
    ("portugues", "portuguese"),
    ("japanese", "japanese"),
    ("korean", "korean"),
    ("chinese", "chinese"),
    ("mandarin", "chinese"),
    ("cantonese", "cantonese"),
];
const REMIX_WORDS: &[&str] = &[
    "remix", "rmx", "remixed", "rework", "reworked", "bootleg", "dub", "vip", "refix", "flip",
];
/// Words that, next to "mix" or "version", name an edit rather than a remix.
const EDIT_COMPANIONS: &[&str] = &[
    "original", "radio", "mono", "stereo", "album", "single", "lp", "short", "7", "45",
];
const EDITION_WORDS: &[&str] = &[
    "remaster",
    "remastered",
    "remasterizado",
    "remasterizada",
    "remasterise",
    "remasterised",
    "deluxe",
    "explicit",
    "clean",
    "bonus",
    "edition",
    "anniversary",
    "expanded",
    "reissue",
    "mastered",
];
/// Words of a live label that name no venue or date.
const LIVE_FILLER: &[&str] = &[
    "live",
    "at",
    "in",
    "from",
    "on",
    "the",
    "version",
    "recorded",
    "en",
    "vivo",
    "ao",
    "concert",
    "unplugged",
    "a",
    "of",
    "and",
];

pub(crate) fn is_year(t: &str) -> bool {
    t.len() == 4
        && (t.starts_with("19") || t.starts_with("20"))
        && t.bytes().all(|b| b.is_ascii_digit())
}

/// What one label says; empty when it is no marker.
#[derive(Debug, Default)]
struct Label {
    live: Option<Vec<String>>,
    distinct: Vec<(VersionKind, String)>,
    edit: Option<String>,
    edition: Option<String>,
}

impl Label {
    fn is_marker(&self) -> bool {
        self.live.is_some()
            || !self.distinct.is_empty()
            || self.edit.is_some()
            || self.edition.is_some()
    }
}

fn sorted_words(tokens: &[&str], drop: &[&str]) -> String {
    let mut w: Vec<&str> = tokens
        .iter()
        .copied()
        .filter(|t| !drop.contains(t))
        .map(|t| match t {
            "remastered" | "remasterizado" | "remasterizada" | "remasterised" | "remasterise"
            | "mastered" => "remaster",
            other => other,
        })
        .collect();
    w.sort_unstable();
    w.dedup();
    w.join(" ")
}

/// Read one label (the inside of brackets or a dashed suffix), given as normalised tokens.
fn classify(tokens: &[&str]) -> Label {
    let has = |w: &str| tokens.contains(&w);
    let mut label = Label::default();
    if has("live")
        || has("unplugged")
        || (has("vivo") && (has("en") || has("ao")))
        || has("concert")
    {
        let mut detail: Vec<String> = tokens
            .iter()
            .filter(|t| !LIVE_FILLER.contains(t) && !EDITION_WORDS.contains(t))
            .map(|t| (*t).to_owned())
            .collect();
        detail.sort_unstable();
        detail.dedup();
        label.live = Some(detail);
    }
    if has("acoustic")
        || has("acustico")
        || has("acustica")
        || has("acoustique")
        || has("akustik")
        || has("unplugged")
    {
        label.distinct.push((VersionKind::Acoustic, String::new()));
    }
    if has("instrumental") || has("karaoke") {
        label
            .distinct
            .push((VersionKind::Instrumental, String::new()));
    }
    if has("demo") {
        label.distinct.push((VersionKind::Demo, String::new()));
    }
    let take_n = tokens
        .windows(2)
        .find(|w| w[0] == "take" && w[1].bytes().all(|b| b.is_ascii_digit()))
        .map(|w| w[1]);
    if has("alternate")
        || has("alternative")
        || has("outtake")
        || has("rehearsal")
        || take_n.is_some()
    {
        // Take 7 and take 26 are different recordings.
        let take = take_n.unwrap_or_default().to_owned();
        label.distinct.push((VersionKind::Alternate, take));
    }
    if (has("taylors") && has("version"))
        || has("rerecorded")
        || has("rerecording")
        || (has("re") && (has("recorded") || has("recording")))
        || (has("new") && has("recording"))
    {
        label
            .distinct
            .push((VersionKind::ReRecording, String::new()));
    }
    if let Some((_, lang)) = LANGUAGES.iter().find(|(w, _)| has(w)) {
        label
            .distinct
            .push((VersionKind::Language, (*lang).to_owned()));
    }
    let remix_word = REMIX_WORDS.iter().any(|w| has(w));
    let companion = EDIT_COMPANIONS.iter().any(|w| has(w));
    let mix = has("mix") || has("mixed");
    if remix_word || (mix && !companion) || has("extended") {
        let name = sorted_words(
            tokens,
            &[
                "remix",
                "mix",
                "mixed",
                "rmx",
                "remixed",
                "by",
                "version",
                "the",
                "edit",
                "feat",
                "ft",
                "featuring",
            ],
        );
        label.distinct.push((VersionKind::Remix, name));
    } else if has("edit")
        || has("mono")
        || has("stereo")
        || has("radio")
        || ((mix || has("version")) && companion)
        || (tokens.len() == 1 && (has("single") || has("album")))
    {
        label.edit = Some(sorted_words(tokens, &["edit", "version", "mix", "inch"]));
    }
    if EDITION_WORDS.iter().any(|w| has(w)) || (tokens.len() == 1 && is_year(tokens[0])) {
        label.edition = Some(sorted_words(tokens, &["version"]));
    }
    if !label.is_marker()
        && (has("version") || has("ver") || has("versao") || has("session") || has("sessions"))
    {
        label.distinct.push((
            VersionKind::Other,
            sorted_words(tokens, &["version", "ver", "versao"]),
        ));
    }
    label
}

/// Map full-width brackets and dashes to ASCII so they split like the ASCII ones.
fn ascii_punct(c: char) -> char {
    match c {
        '（' => '(',
        '）' => ')',
        '［' | '【' => '[',
        '］' | '】' => ']',
        '｛' => '{',
        '｝' => '}',
        other => other,
    }
}

/// Split text into the part outside any bracket and the top-level bracketed parts.
fn split_brackets(s: &str) -> (String, Vec<String>) {
    let mut outside = String::with_capacity(s.len());
    let mut inside = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in s.chars().map(ascii_punct) {
        match c {
            '(' | '[' | '{' => {
                if depth > 0 {
                    current.push(' ');
                }
                depth += 1;
                outside.push(' ');
            }
            ')' | ']' | '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    inside.push(std::mem::take(&mut current));
                } else {
                    current.push(' ');
                }
            }
            _ if depth > 0 => current.push(c),
            _ => outside.push(c),
        }
    }
    if !current.trim().is_empty() {
        inside.push(current);
    }
    (outside, inside)
}

/// Split on a dash between spaces (" - ", " – ", " — "); the first part is the name.
fn split_dashes(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = s;
    loop {
        let hit = [" - ", " – ", " — "]
            .iter()
            .filter_map(|d| rest.find(d).map(|i| (i, d.len())))
            .min_by_key(|(i, _)| *i);
        match hit {
            Some((i, len)) => {
                parts.push(&rest[..i]);
                rest = &rest[i + len..];
            }
            None => {
                parts.push(rest);
                return parts;
            }
        }
    }
}

/// Cut an unbracketed "feat. X" off a title; returns the name and the featured credit.
fn split_feat(s: &str) -> (&str, Option<&str>) {
    // Every marker starts with " f"; most titles have none, and need no lowercase copy.
    if !s
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b' ' && w[1].eq_ignore_ascii_case(&b'f'))
    {
        return (s, None);
    }
    let lower = s.to_lowercase();
    if lower.len() != s.len() {
        // Lowercasing changed byte offsets; such titles keep their text whole.
        return (s, None);
    }
    for needle in [" feat. ", " feat ", " ft. ", " ft ", " featuring "] {
        if let Some(i) = lower.find(needle)
            && let (Some(name), Some(featured)) = (s.get(..i), s.get(i + needle.len()..))
        {
            return (name, Some(featured));
        }
    }
    (s, None)
}

/// Fold word variants that name the same thing ("pt" = "part", "Part II" = "part 2") and cut a
/// trailing featured credit, so the key of a key is itself.
/// `fold_tokens` without a new allocation when there is nothing to fold (most titles).
fn fold_owned(text: String) -> String {
    let needs = text.starts_with(' ')
        || text.ends_with(' ')
        || text.contains("  ")
        || text.starts_with("the ")
        || text.split(' ').any(|t| {
            matches!(
                t,
                "pt" | "vol"
                    | "feat"
                    | "ft"
                    | "featuring"
                    | "i"
                    | "ii"
                    | "iii"
                    | "iv"
                    | "v"
                    | "vi"
                    | "vii"
                    | "viii"
                    | "ix"
                    | "x"
            )
        });
    if needs { fold_tokens(&text) } else { text }
}

fn fold_tokens(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let tokens: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
    // A leading "The" is not identity ("The Sound of Silence" = "Sound of Silence").
    let lead = tokens
        .iter()
        .take_while(|t| **t == "the")
        .count()
        .min(tokens.len().saturating_sub(1));
    for &t in &tokens[lead..] {
        if !out.is_empty() && matches!(t, "feat" | "ft" | "featuring") {
            break;
        }
        let prev = out.last().copied().unwrap_or("");
        let numbered = matches!(prev, "part" | "volume" | "chapter" | "act" | "book" | "no");
        let t = match t {
            "pt" => "part",
            "vol" => "volume",
            "i" if numbered => "1",
            "ii" if numbered => "2",
            "iii" if numbered => "3",
            "iv" if numbered => "4",
            "v" if numbered => "5",
            "vi" if numbered => "6",
            "vii" if numbered => "7",
            "viii" if numbered => "8",
            "ix" if numbered => "9",
            "x" if numbered => "10",
            other => other,
        };
        out.push(t);
    }
    out.join(" ")
}

fn add_label(markers: &mut Markers, label: Label) {
    if let Some(detail) = label.live {
        markers.live = true;
        markers.live_detail.extend(detail);
    }
    markers.distinct.extend(label.distinct);
    if let Some(e) = label.edit {
        markers.edit = Some(e);
    }
    markers.edition.extend(label.edition);
}

fn finish(markers: &mut Markers) {
    markers.live_detail.sort_unstable();
    markers.live_detail.dedup();
    markers.distinct.sort_unstable();
    markers.distinct.dedup();
    markers.edition.sort_unstable();
    markers.edition.dedup();
}

/// True when a title may hold a label, an aside or a featured credit.
/// One pass over the bytes: this runs for every title of the library.
fn has_parts(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' | b'-' => return true,
            // " ft ", " ft." or " feat", in any case.
            b' ' => {
                let rest = &bytes[i + 1..];
                let ft = rest.len() >= 3
                    && rest[..2].eq_ignore_ascii_case(b"ft")
                    && matches!(rest[2], b' ' | b'.');
                if ft || (rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"feat")) {
                    return true;
                }
            }
            _ => {}
        }
    }
    !raw.is_ascii() && raw.contains(['（', '［', '【', '｛', '–', '—', '－'])
}

/// Just the lookup key of a title and its featured artists, cheaply for plain titles.
pub(crate) fn title_core(raw: &str) -> (String, Vec<String>) {
    if has_parts(raw) {
        let p = parse_title(raw);
        (p.core, p.featured)
    } else {
        (fold_owned(normalize(raw)), Vec::new())
    }
}

/// Take a title apart.
pub(crate) fn parse_title(raw: &str) -> ParsedTitle {
    if !has_parts(raw) {
        // Nothing to take apart: most titles.
        let base = fold_owned(normalize(raw));
        return ParsedTitle {
            core: base.clone(),
            head: base.clone(),
            base,
            featured: Vec::new(),
            markers: Markers::default(),
        };
    }
    let (outside, brackets) = split_brackets(raw);
    let (outside, feat_tail) = split_feat(&outside);
    let mut featured: Vec<String> = feat_tail.map(|f| f.trim().to_owned()).into_iter().collect();
    let mut markers = Markers::default();
    let mut base_parts: Vec<String> = Vec::new();
    let mut core_parts: Vec<String> = Vec::new();

    let dashed = split_dashes(outside);
    let mut dashed = dashed.into_iter();
    let mut head = String::new();
    if let Some(name) = dashed.next() {
        let n = normalize(name);
        head = fold_owned(n.clone());
        base_parts.push(n.clone());
        core_parts.push(n);
    }
    let segments = dashed
        .map(|s| (s.to_owned(), false))
        .chain(brackets.into_iter().map(|s| (s, true)));
    for (seg, bracketed) in segments {
        let norm = normalize(&seg);
        let tokens: Vec<&str> = norm.split(' ').filter(|t| !t.is_empty()).collect();
        let Some(first) = tokens.first() else {
            continue;
        };
        if FEAT_WORDS.contains(first) {
            let trimmed = seg.trim();
            let rest = trimmed
                .split_once(char::is_whitespace)
                .map(|(_, r)| r.trim())
                .unwrap_or("");
            if !rest.is_empty() {
                featured.push(rest.to_owned());
            }
            continue;
        }
        let label = classify(&tokens);
        if label.is_marker() {
            add_label(&mut markers, label);
            // "Reprise / Remastered 2009": the label goes, the reprise stays part of the name.
            let kept: Vec<&str> = tokens
                .iter()
                .copied()
                .filter(|t| SIGNIFICANT.contains(t))
                .collect();
            if !kept.is_empty() {
                base_parts.push(kept.join(" "));
                core_parts.push(kept.join(" "));
            }
            continue;
        }
        let significant = tokens
            .iter()
            .any(|t| SIGNIFICANT.contains(t) || t.bytes().any(|b| b.is_ascii_digit()));
        let aside = bracketed || matches!(*first, "from" | "theme" | "music" | "taken");
        base_parts.push(norm.clone());
        if significant || !aside {
            core_parts.push(norm);
        }
    }
    finish(&mut markers);
    let mut base = fold_owned(base_parts.join(" "));
    let mut core = fold_owned(core_parts.join(" "));
    if base.is_empty() {
        base = fold_owned(normalize(raw));
    }
    if core.is_empty() {
        core = base.clone();
    }
    if head.is_empty() {
        head = core.clone();
    }
    ParsedTitle {
        base,
        core,
        head,
        featured,
        markers,
    }
}

/// What an album name says: live evidence ("… (Live)", "Live at …", "MTV Unplugged") with its
/// venue/date words, and the album's own name for comparison.
pub(crate) fn parse_album(raw: &str) -> (Markers, String) {
    let mentions = |w: &[u8]| {
        raw.as_bytes()
            .windows(w.len())
            .any(|x| x.eq_ignore_ascii_case(w))
    };
    if raw.is_ascii() && !mentions(b"live") && !mentions(b"unplugged") && !mentions(b"concert") {
        // No live evidence possible: only the album's own name matters.
        let core = if has_parts(raw) {
            parse_title(raw).core
        } else {
            fold_owned(normalize(raw))
        };
        return (Markers::default(), core);
    }
    let parsed = parse_title(raw);
    let mut markers = Markers::default();
    if parsed.markers.live {
        markers.live = true;
        markers.live_detail = parsed.markers.live_detail.clone();
    }
    let tokens: Vec<&str> = parsed.core.split(' ').filter(|t| !t.is_empty()).collect();
    let live_name = match tokens.as_slice() {
        ["live"] => true,
        ["live", next, ..] => matches!(*next, "at" | "in" | "from" | "on"),
        [.., "live"] => true,
        t => t.contains(&"unplugged") || t.windows(2).any(|w| w == ["in", "concert"]),
    };
    if tokens.contains(&"unplugged") {
        markers
            .distinct
            .push((VersionKind::Acoustic, String::new()));
    }
    if live_name {
        markers.live = true;
        markers.live_detail.extend(
            tokens
                .iter()
                .filter(|t| !LIVE_FILLER.contains(t))
                .map(|t| (*t).to_owned()),
        );
    }
    finish(&mut markers);
    (markers, parsed.core)
}

/// Tokens holding a digit, sorted: numbers are identity ("Pt. 1" is not "Pt. 2").
pub(crate) fn numbers(key: &str) -> Vec<String> {
    let mut v: Vec<String> = key
        .split(' ')
        .filter(|t| t.bytes().any(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    v.sort_unstable();
    v
}

/// Years named in a live label.
pub(crate) fn years(detail: &[String]) -> impl Iterator<Item = &str> {
    detail.iter().map(String::as_str).filter(|t| is_year(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(title: &str) -> Vec<VersionKind> {
        parse_title(title)
            .markers
            .distinct
            .iter()
            .map(|(k, _)| *k)
            .collect()
    }

    #[test]
    fn labels_are_set_aside_from_the_name() {
        for t in [
            "Something (2011 Remaster)",
            "Something - Remastered 2009",
            "Something [Explicit]",
            "Something (Deluxe Edition)",
            "Something - Bonus Track",
            "Something (Radio Edit)",
            "Something - Single Version",
            "Something (Mono)",
            "Something (feat. Someone Else)",
            "Something feat. Someone Else",
            "SOMETHING",
        ] {
            assert_eq!(parse_title(t).base, "something", "{t}");
        }
    }

    #[test]
    fn title_words_are_not_markers() {
        for t in [
            "Live and Let Die",
            "Live Forever",
            "Acoustic Guitar",
            "Demolition Man",
        ] {
            let p = parse_title(t);
            assert!(!p.markers.live && p.markers.distinct.is_empty(), "{t}");
        }
        assert!(parse_title("Live and Let Die (Live)").markers.live);
        assert!(parse_title("Hello - Live at Wembley 1986").markers.live);
        assert!(parse_title("Hello [Live]").markers.live);
    }

    #[test]
    fn live_detail_keeps_venue_and_year() {
        let p = parse_title("Hello - Live at Wembley Stadium, 1986");
        assert_eq!(p.markers.live_detail, vec!["1986", "stadium", "wembley"]);
    }

    #[test]
    fn versions_are_recognised() {
        assert_eq!(kinds("Song (Acoustic)"), vec![VersionKind::Acoustic]);
        assert_eq!(
            kinds("Song - Instrumental"),
            vec![VersionKind::Instrumental]
        );
        assert_eq!(kinds("Song (Demo)"), vec![VersionKind::Demo]);
        assert_eq!(kinds("Song (Alternate Take)"), vec![VersionKind::Alternate]);
        assert_eq!(kinds("Song (Take 2)"), vec![VersionKind::Alternate]);
        assert_eq!(
            kinds("Song (Taylor's Version)"),
            vec![VersionKind::ReRecording]
        );
        assert_eq!(kinds("Song (Spanish Version)"), vec![VersionKind::Language]);
        assert_eq!(
            kinds("Song (Versión en Español)"),
            vec![VersionKind::Language]
        );
        assert_eq!(kinds("Song (Tiësto Remix)"), vec![VersionKind::Remix]);
        assert_eq!(kinds("Song - Extended Mix"), vec![VersionKind::Remix]);
        assert_eq!(kinds("Song (Piano Version)"), vec![VersionKind::Other]);
        assert!(kinds("Song (Original Mix)").is_empty());
        assert!(kinds("Song (Radio Mix)").is_empty());
        assert!(kinds("Song (2009 Stereo Mix)").is_empty());
    }

    #[test]
    fn asides_leave_the_core() {
        let p = parse_title("(I Can't Get No) Satisfaction");
        assert_eq!(p.core, "satisfaction");
        assert_eq!(p.base, "satisfaction i cant get no");
        let p = parse_title("Sgt. Pepper's Lonely Hearts Club Band (Reprise)");
        assert!(p.core.ends_with("reprise"));
        assert_eq!(
            parse_title("Another Brick in the Wall, Pt. 2").base,
            "another brick in the wall part 2"
        );
        assert_eq!(parse_title("Part II").base, "part 2");
    }

    #[test]
    fn albums_can_say_live() {
        assert!(parse_album("Live at Wembley '86").0.live);
        assert!(parse_album("Alive in America (Live)").0.live);
        assert!(parse_album("MTV Unplugged in New York").0.live);
        assert!(!parse_album("Live Through This").0.live);
        assert!(!parse_album("A Night at the Opera").0.live);
    }

    /// The plain definition `has_parts` must agree with.
    fn has_parts_by_definition(raw: &str) -> bool {
        raw.bytes().any(|b| matches!(b, b'(' | b'[' | b'{' | b'-'))
            || (!raw.is_ascii() && raw.contains(['（', '［', '【', '｛', '–', '—', '－']))
            || raw
                .as_bytes()
                .windows(4)
                .any(|w| w.eq_ignore_ascii_case(b" ft ") || w.eq_ignore_ascii_case(b" ft."))
            || raw
                .as_bytes()
                .windows(5)
                .any(|w| w.eq_ignore_ascii_case(b" feat"))
    }

    proptest::proptest! {
        #[test]
        fn has_parts_agrees_with_its_definition(
            s in "([ .fFtTeEaA(\\[{\\-–（]|[a-z]|\\PC){0,24}"
        ) {
            proptest::prop_assert_eq!(has_parts(&s), has_parts_by_definition(&s), "{:?}", s);
        }
    }
}
