#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

fn t(id: &str, title: &str, artist: &str) -> LibraryTrack {
    LibraryTrack {
        id: id.to_owned(),
        title: title.to_owned(),
        artist: artist.to_owned(),
        album: None,
        album_artist: None,
        duration_ms: None,
        isrc: None,
        mbid: None,
    }
}

fn with_album(mut tr: LibraryTrack, album: &str) -> LibraryTrack {
    tr.album = Some(album.to_owned());
    tr
}

fn with_ms(mut tr: LibraryTrack, ms: u32) -> LibraryTrack {
    tr.duration_ms = Some(ms);
    tr
}

fn q(title: &str, artist: &str) -> Query {
    Query {
        title: title.to_owned(),
        artist: artist.to_owned(),
        ..Query::default()
    }
}

fn pick(index: &Index, query: &Query) -> Option<String> {
    index.match_query(query).predicted
}

#[test]
fn isrc_comes_first_and_must_agree_with_the_names() {
    let mut a = t("a", "Yellow", "Coldplay");
    a.isrc = Some("GBAYE0000351".into());
    let mut b = t("b", "Yellow (Live)", "Coldplay");
    b.isrc = Some("GBAYE0000999".into());
    let index = Index::build(vec![a, b]);
    let mut query = q("Yellow", "Coldplay");
    query.isrc = Some("gb-aye-00-00351".into());
    let d = index.match_query(&query);
    assert_eq!(
        (d.predicted.as_deref(), d.method, d.rule),
        (Some("a"), Method::Isrc, Rule::IsrcAgrees)
    );

    // A wrong ISRC (the live one's) on a studio query: not blindly trusted.
    query.isrc = Some("GBAYE0000999".into());
    let d = index.match_query(&query);
    assert_eq!(d.predicted, None);
    assert_eq!(
        (d.method, d.rule),
        (Method::Review, Rule::IdContradictsNames)
    );
    assert!(d.candidates.iter().any(|c| c.track_id == "b"));
}

#[test]
fn an_id_pointing_at_another_song_is_evidence_not_proof() {
    let mut a = t("a", "Creep", "Radiohead");
    a.mbid = Some("11111111-1111-1111-1111-111111111111".into());
    let index = Index::build(vec![a, t("b", "Karma Police", "Radiohead")]);
    let mut query = q("Karma Police", "Radiohead");
    query.mbid = Some("11111111-1111-1111-1111-111111111111".into());
    let d = index.match_query(&query);
    assert_eq!(
        (d.method, d.rule),
        (Method::Review, Rule::IdContradictsNames)
    );
    query.title = "Creep".into();
    let d = index.match_query(&query);
    assert_eq!(
        (d.predicted.as_deref(), d.method),
        (Some("a"), Method::Mbid)
    );
}

#[test]
fn spelling_is_not_identity() {
    let index = Index::build(vec![
        t("1", "Don't Stop Me Now", "Queen"),
        t("2", "Hey Jude", "The Beatles"),
        t("3", "Déjà Vu", "Beyoncé"),
        t("4", "ＴＯＫＹＯ", "Ｍ-ｆｌｏ"),
    ]);
    assert_eq!(
        pick(&index, &q("Don’t stop me now", "QUEEN")).as_deref(),
        Some("1")
    );
    assert_eq!(
        pick(&index, &q("Hey Jude", "Beatles, The")).as_deref(),
        Some("2")
    );
    assert_eq!(
        pick(&index, &q("hey jude", "Beatles")).as_deref(),
        Some("2")
    );
    assert_eq!(pick(&index, &q("Deja Vu", "Beyonce")).as_deref(), Some("3"));
    assert_eq!(pick(&index, &q("Tokyo", "m-flo")).as_deref(), Some("4"));
    assert_eq!(
        index.match_query(&q("Deja Vu", "Beyonce")).method,
        Method::Exact
    );
}

#[test]
fn numbers_are_identity() {
    let index = Index::build(vec![
        t("1", "Another Brick in the Wall, Pt. 1", "Pink Floyd"),
        t("2", "Symphony No. 5", "Beethoven"),
    ]);
    assert_eq!(
        pick(
            &index,
            &q("Another Brick in the Wall (Part 1)", "Pink Floyd")
        )
        .as_deref(),
        Some("1")
    );
    let d = index.match_query(&q("Another Brick in the Wall, Pt. 2", "Pink Floyd"));
    assert_eq!((d.predicted, d.rule), (None, Rule::NumberMismatch));
    assert_eq!(pick(&index, &q("Symphony No. 9", "Beethoven")), None);
}

#[test]
fn remaster_and_edition_labels_do_not_change_identity() {
    let index = Index::build(vec![
        t("1", "Here Comes the Sun - 2019 Mix", "The Beatles"),
        t("2", "Heroes - 2017 Remaster", "David Bowie"),
    ]);
    assert_eq!(
        pick(&index, &q("Heroes", "David Bowie")).as_deref(),
        Some("2")
    );
    assert_eq!(
        pick(&index, &q("Heroes (Remastered Version)", "David Bowie")).as_deref(),
        Some("2")
    );
    assert_eq!(
        pick(&index, &q("Heroes [Explicit]", "David Bowie")).as_deref(),
        Some("2")
    );
}

#[test]
fn when_both_editions_exist_the_named_one_wins() {
    let index = Index::build(vec![
        t("orig", "Wish You Were Here", "Pink Floyd"),
        t("rem", "Wish You Were Here (2011 Remaster)", "Pink Floyd"),
    ]);
    assert_eq!(
        pick(
            &index,
            &q("Wish You Were Here - Remastered 2011", "Pink Floyd")
        )
        .as_deref(),
        Some("rem")
    );
    assert_eq!(
        pick(&index, &q("Wish You Were Here", "Pink Floyd")).as_deref(),
        Some("orig")
    );
}

#[test]
fn edits_are_the_same_song_even_far_apart_in_duration() {
    let index = Index::build(vec![with_ms(t("1", "Bohemian Rhapsody", "Queen"), 354_000)]);
    let mut query = q("Bohemian Rhapsody - Radio Edit", "Queen");
    query.duration_ms = Some(220_000);
    assert_eq!(pick(&index, &query).as_deref(), Some("1"));
    let index = Index::build(vec![with_ms(
        t("1", "Bohemian Rhapsody (Single Version)", "Queen"),
        220_000,
    )]);
    let mut query = q("Bohemian Rhapsody", "Queen");
    query.duration_ms = Some(354_000);
    assert_eq!(pick(&index, &query).as_deref(), Some("1"));
}

#[test]
fn of_two_edits_only_the_named_one() {
    let index = Index::build(vec![
        t("radio", "Song 2000 (Radio Edit)", "Band"),
        t("album", "Song 2000 (Album Version)", "Band"),
    ]);
    assert_eq!(
        pick(&index, &q("Song 2000 - Radio Edit", "Band")).as_deref(),
        Some("radio")
    );
    assert_eq!(
        pick(&index, &q("Song 2000 - Album Version", "Band")).as_deref(),
        Some("album")
    );
    assert!(pick(&index, &q("Song 2000 (Mono)", "Band")).is_some());
}

#[test]
fn live_is_not_studio_both_ways() {
    let studio = Index::build(vec![t("s", "Under Pressure", "Queen")]);
    let d = studio.match_query(&q("Under Pressure - Live at Wembley 1986", "Queen"));
    assert_eq!(
        (d.predicted, d.method, d.rule),
        (None, Method::None, Rule::LiveOnOneSide)
    );
    assert_eq!(
        Rule::LiveOnOneSide.describe(),
        "live marker on one side only"
    );

    let live = Index::build(vec![with_album(
        t("l", "Under Pressure", "Queen"),
        "Live at Wembley '86",
    )]);
    assert_eq!(pick(&live, &q("Under Pressure", "Queen")), None);
    assert_eq!(
        pick(&live, &q("Under Pressure (Live)", "Queen")).as_deref(),
        Some("l")
    );
}

#[test]
fn live_matches_the_same_concert_when_named() {
    let index = Index::build(vec![
        t(
            "wembley",
            "Radio Ga Ga (Live at Wembley Stadium, 1986)",
            "Queen",
        ),
        t("aid", "Radio Ga Ga - Live at Live Aid 1985", "Queen"),
    ]);
    assert_eq!(
        pick(&index, &q("Radio Ga Ga - Live at Wembley 1986", "Queen")).as_deref(),
        Some("wembley")
    );
    assert_eq!(
        pick(&index, &q("Radio Ga Ga (Live Aid, 1985)", "Queen")).as_deref(),
        Some("aid")
    );
    // A live remote without a venue cannot tell the two concerts apart.
    assert_eq!(
        index.match_query(&q("Radio Ga Ga (Live)", "Queen")).method,
        Method::Review
    );
    let d = index.match_query(&q("Radio Ga Ga - Live in Budapest 1986", "Queen"));
    assert_eq!(d.predicted, None);
}

#[test]
fn title_words_are_not_markers() {
    let index = Index::build(vec![
        t("1", "Live and Let Die", "Wings"),
        t("2", "Live Forever", "Oasis"),
        t("3", "Live Forever (Live at Knebworth)", "Oasis"),
    ]);
    assert_eq!(
        pick(&index, &q("Live And Let Die", "Paul McCartney & Wings")).as_deref(),
        Some("1")
    );
    assert_eq!(
        pick(&index, &q("Live Forever", "Oasis")).as_deref(),
        Some("2")
    );
    assert_eq!(
        pick(&index, &q("Live Forever - Live", "Oasis")).as_deref(),
        Some("3")
    );
}

#[test]
fn other_versions_match_only_themselves() {
    let index = Index::build(vec![
        t("studio", "Layla", "Eric Clapton"),
        t("acoustic", "Layla (Acoustic)", "Eric Clapton"),
    ]);
    assert_eq!(
        pick(
            &index,
            &q("Layla - Acoustic; Live at MTV Unplugged", "Eric Clapton")
        ),
        None
    );
    assert_eq!(
        pick(&index, &q("Layla (Acoustic Version)", "Eric Clapton")).as_deref(),
        Some("acoustic")
    );
    let studio_only = Index::build(vec![t("studio", "Layla", "Eric Clapton")]);
    for (title, kind) in [
        ("Layla (Acoustic)", VersionKind::Acoustic),
        ("Layla - Instrumental", VersionKind::Instrumental),
        ("Layla (Demo)", VersionKind::Demo),
        ("Layla (Alternate Take)", VersionKind::Alternate),
        ("Layla (Eric's Version)", VersionKind::Other),
        ("Layla (Spanish Version)", VersionKind::Language),
        ("Layla (Tiësto Remix)", VersionKind::Remix),
        ("Layla - Extended Mix", VersionKind::Remix),
    ] {
        let d = studio_only.match_query(&q(title, "Eric Clapton"));
        assert_eq!(
            (d.predicted, d.rule),
            (None, Rule::VersionMismatch(kind)),
            "{title}"
        );
    }
}

#[test]
fn re_recordings_are_other_recordings() {
    let index = Index::build(vec![
        t("2008", "Love Story", "Taylor Swift"),
        t("2021", "Love Story (Taylor's Version)", "Taylor Swift"),
    ]);
    assert_eq!(
        pick(&index, &q("Love Story", "Taylor Swift")).as_deref(),
        Some("2008")
    );
    assert_eq!(
        pick(&index, &q("Love Story (Taylor’s Version)", "Taylor Swift")).as_deref(),
        Some("2021")
    );
    let only_old = Index::build(vec![t("2008", "Love Story", "Taylor Swift")]);
    assert_eq!(
        pick(
            &only_old,
            &q("Love Story (Taylor's Version)", "Taylor Swift")
        ),
        None
    );
}

#[test]
fn named_remixes_are_told_apart() {
    let index = Index::build(vec![
        t("orig", "Silence", "Delerium"),
        t(
            "tiesto",
            "Silence (Tiësto's In Search of Sunrise Remix)",
            "Delerium",
        ),
        t("orig-mix", "Silence - Original Mix", "Delerium"),
    ]);
    assert_eq!(
        pick(
            &index,
            &q("Silence (Tiesto's In Search Of Sunrise Remix)", "Delerium")
        )
        .as_deref(),
        Some("tiesto")
    );
    assert_eq!(pick(&index, &q("Silence (Fade Remix)", "Delerium")), None);
    assert_eq!(
        pick(&index, &q("Silence (Original Mix)", "Delerium")).as_deref(),
        Some("orig-mix")
    );
}

#[test]
fn covers_are_never_substitutes() {
    let index = Index::build(vec![t("1", "Hallelujah", "Leonard Cohen")]);
    let d = index.match_query(&q("Hallelujah", "Jeff Buckley"));
    assert_eq!((d.predicted, d.rule), (None, Rule::ArtistMismatch));
}

#[test]
fn featured_artists_and_credit_order_do_not_change_identity() {
    let index = Index::build(vec![
        t("1", "Umbrella (feat. JAY-Z)", "Rihanna"),
        t("2", "Under Pressure", "Queen & David Bowie"),
        t("3", "One Kiss", "Calvin Harris, Dua Lipa"),
        t("4", "Queen", "Queen"),
        t("5", "Space Oddity", "David Bowie"),
    ]);
    assert_eq!(
        pick(&index, &q("Umbrella", "Rihanna feat. Jay-Z")).as_deref(),
        Some("1")
    );
    assert_eq!(
        pick(&index, &q("Umbrella", "Rihanna")).as_deref(),
        Some("1")
    );
    assert_eq!(
        pick(&index, &q("Umbrella (with Jay-Z)", "Rihanna")).as_deref(),
        Some("1")
    );
    let mut spotify = q("Under Pressure", "David Bowie");
    spotify.artists = vec!["David Bowie".into(), "Queen".into()];
    assert_eq!(pick(&index, &spotify).as_deref(), Some("2"));
    assert_eq!(
        pick(&index, &q("One Kiss", "Dua Lipa x Calvin Harris")).as_deref(),
        Some("3")
    );
    assert_eq!(
        pick(&index, &q("One Kiss", "Calvin Harris & Dua Lipa")).as_deref(),
        Some("3")
    );
}

#[test]
fn names_with_separators_are_one_artist() {
    let index = Index::build(vec![
        t("1", "September", "Earth, Wind & Fire"),
        t("2", "EARFQUAKE", "Tyler, The Creator"),
        t("3", "The Boxer", "Simon & Garfunkel"),
        t("4", "Wind", "Fire"),
    ]);
    assert_eq!(
        pick(&index, &q("September", "Earth, Wind and Fire")).as_deref(),
        Some("1")
    );
    assert_eq!(
        pick(&index, &q("EARFQUAKE", "Tyler, the Creator")).as_deref(),
        Some("2")
    );
    assert_eq!(
        pick(&index, &q("The Boxer", "Simon and Garfunkel")).as_deref(),
        Some("3")
    );
    // "Fire" is not a member of Earth, Wind & Fire.
    assert_eq!(pick(&index, &q("September", "Fire")), None);
}

#[test]
fn a_near_tie_between_two_recordings_goes_to_review() {
    let index = Index::build(vec![
        with_album(t("a", "Intro", "The xx"), "xx"),
        with_album(t("b", "Intro (Live)", "The xx"), "Coexist"),
        t("c", "Wonderful Tonight Again", "The xx"),
        t("d", "Wonderful Tonight Agian", "The xx"),
    ]);
    let d = index.match_query(&q("Intro", "The xx"));
    assert_eq!(d.predicted.as_deref(), Some("a"));
    let d = index.match_query(&q("Wonderful Tonight Agin", "The xx"));
    assert_eq!((d.method, d.rule), (Method::Review, Rule::AmbiguousTopTwo));
}

#[test]
fn identical_copies_are_one_recording() {
    let index = Index::build(vec![
        with_album(t("album", "Creep", "Radiohead"), "Pablo Honey"),
        with_album(t("best", "Creep", "Radiohead"), "Radiohead: The Best Of"),
    ]);
    let d = index.match_query(&q("Creep", "Radiohead"));
    assert_eq!(
        (d.predicted.as_deref(), d.method),
        (Some("album"), Method::Exact)
    );
    let mut query = q("Creep", "Radiohead");
    query.album = Some("The Best Of".into());
    assert_eq!(pick(&index, &query).as_deref(), Some("best"));
}

#[test]
fn nothing_in_the_library() {
    let index = Index::build(vec![t("1", "Creep", "Radiohead")]);
    let d = index.match_query(&q("Paranoid Android", "Nobody"));
    assert_eq!(
        (d.predicted, d.method, d.rule),
        (None, Method::None, Rule::NoCandidate)
    );
    assert!(Index::build(Vec::new()).is_empty());
}

#[test]
fn a_typo_is_fuzzy_not_exact() {
    let index = Index::build(vec![t("1", "Smells Like Teen Spirit", "Nirvana")]);
    let d = index.match_query(&q("Smells Like Teen Sprit", "Nirvana"));
    assert_eq!(
        (d.predicted.as_deref(), d.method),
        (Some("1"), Method::Fuzzy)
    );
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Index>();
}

#[test]
fn codes_round_trip() {
    for m in Method::ALL {
        assert_eq!(m.as_str().parse::<Method>().unwrap(), m);
    }
    let mut seen = std::collections::HashSet::new();
    for r in Rule::all() {
        assert_eq!(r.as_str().parse::<Rule>().unwrap(), r);
        assert!(seen.insert(r.as_str()));
        assert!(!r.describe().is_empty());
    }
    assert!("bogus".parse::<Method>().is_err());
}

fn word() -> impl Strategy<Value = String> {
    "[a-m]{3,8}"
}

fn library_track() -> impl Strategy<Value = (String, String, Option<u32>)> {
    (
        prop::collection::vec(word(), 1..4).prop_map(|w| w.join(" ")),
        prop::collection::vec(word(), 1..3).prop_map(|w| w.join(" ")),
        prop::option::of(60_000u32..600_000),
    )
}

proptest! {
    #[test]
    fn the_fast_path_folds_like_normalize(s in "[ -~àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝæøßÆØ×÷]{0,40}") {
        prop_assert_eq!(fold(&s), crate::domain::text::normalize(&s));
    }

    #[test]
    fn keys_are_idempotent(s in "\\PC{0,40}") {
        let k = title_key(&s);
        prop_assert_eq!(title_key(&k), k.clone());
        let a = artist_key(&s);
        prop_assert_eq!(artist_key(&a), a.clone());
    }

    #[test]
    fn keys_of_labelled_titles_are_idempotent(
        name in "[A-Za-z' ]{1,20}",
        label in prop::sample::select(vec!["(Live)", "- 2011 Remaster", "(feat. X & Y)", "[Radio Edit]", "(Part II)", "- From the film"]),
    ) {
        let k = title_key(&format!("{name} {label}"));
        prop_assert_eq!(title_key(&k), k.clone());
    }

    #[test]
    fn a_unique_track_matches_itself(tracks in prop::collection::vec(library_track(), 1..30), pick_at in any::<prop::sample::Index>()) {
        let lib: Vec<LibraryTrack> = tracks
            .iter()
            .enumerate()
            .map(|(i, (title, artist, ms))| LibraryTrack { duration_ms: *ms, ..t(&i.to_string(), title, artist) })
            .collect();
        let i = pick_at.index(lib.len());
        let me = &lib[i];
        let unique = lib.iter().filter(|o| title_key(&o.title) == title_key(&me.title) && artist_key(&o.artist) == artist_key(&me.artist)).count() == 1;
        prop_assume!(unique);
        let index = Index::build(lib.clone());
        let query = Query { title: me.title.clone(), artist: me.artist.clone(), duration_ms: me.duration_ms, ..Query::default() };
        let d = index.match_query(&query);
        prop_assert_eq!(d.predicted.as_deref(), Some(me.id.as_str()), "{:?}", d);
    }

    #[test]
    fn an_unrelated_track_changes_no_decided_match(
        tracks in prop::collection::vec(library_track(), 1..20),
        queries in prop::collection::vec(library_track(), 1..10),
        extra_title in "[n-z]{3,8}( [n-z]{3,8}){0,2}",
        extra_artist in "[n-z]{3,8}",
    ) {
        let lib: Vec<LibraryTrack> = tracks
            .iter()
            .enumerate()
            .map(|(i, (title, artist, ms))| LibraryTrack { duration_ms: *ms, ..t(&i.to_string(), title, artist) })
            .collect();
        let before = Index::build(lib.clone());
        let mut grown = lib;
        grown.push(t("extra", &extra_title, &extra_artist));
        let after = Index::build(grown);
        let all: Vec<Query> = queries
            .iter()
            .map(|(title, artist, ms)| Query { title: title.clone(), artist: artist.clone(), duration_ms: *ms, ..Query::default() })
            .chain(tracks.iter().map(|(title, artist, _)| q(title, artist)))
            .collect();
        for query in all {
            let a = before.match_query(&query);
            if a.method.is_match() {
                prop_assert_eq!(after.match_query(&query), a);
            }
        }
    }
}
