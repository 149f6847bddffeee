//! The home page's data is kept in memory between changes (issue 13): an import, a sign-in or a
//! write by anyone else shows on the next view.

use sqlx::Connection;

use crate::harness::*;
use crate::library::{fake_app, import_now, mount_library, song};

fn shown(page: &Page, fact: &str) -> String {
    let start = format!("<dt>{fact}</dt><dd>");
    let at = page
        .body
        .find(&start)
        .unwrap_or_else(|| panic!("no {fact} on the dashboard: {}", page.body));
    let rest = &page.body[at + start.len()..];
    rest[..rest.find("</dd>").unwrap()].to_owned()
}

#[tokio::test]
async fn an_import_changes_the_totals_the_dashboard_shows() {
    let (server, app) = fake_app().await;
    mount_library(
        &server,
        &[("al1", "c1", vec![song("t1", "One", "al1", 0, None)])],
    )
    .await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    import_now(&app).await;
    let page = b.get("/").await;
    assert_eq!(shown(&page, "Tracks"), "1");
    assert_eq!(shown(&page, "Albums"), "1");
    // A second view is served from memory and says the same.
    assert_eq!(shown(&b.get("/").await, "Tracks"), "1");

    mount_library(
        &server,
        &[
            (
                "al1",
                "c2",
                vec![
                    song("t1", "One", "al1", 0, None),
                    song("t2", "Two", "al1", 0, None),
                ],
            ),
            ("al2", "c1", vec![song("t3", "Three", "al2", 0, None)]),
        ],
    )
    .await;
    import_now(&app).await;
    // The very next view, no waiting: the run's end moved the change generation.
    let page = b.get("/").await;
    assert_eq!(shown(&page, "Tracks"), "3");
    assert_eq!(shown(&page, "Albums"), "2");
}

#[tokio::test]
async fn a_write_by_another_connection_shows_within_a_second() {
    let (server, app) = fake_app().await;
    mount_library(
        &server,
        &[("al1", "c1", vec![song("t1", "One", "al1", 0, None)])],
    )
    .await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    import_now(&app).await;
    assert_eq!(shown(&b.get("/").await, "Tracks"), "1");

    // Another connection (as another process would) removes the catalogue behind the server.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM tracks")
        .execute(&mut other)
        .await
        .unwrap();
    let done = std::time::Instant::now();
    let mut seen = String::new();
    while done.elapsed() < std::time::Duration::from_secs(1) {
        seen = shown(&b.get("/").await, "Tracks");
        if seen == "0" {
            break;
        }
    }
    assert_eq!(
        seen, "0",
        "the dashboard still shows the old total after 1 s"
    );
}

#[tokio::test]
async fn each_browser_gets_its_own_rendered_home_page() {
    let (_server, app) = fake_app().await;
    let mut first = Browser::new(&app);
    first.login_ok("ann", "pw").await;
    let mut second = Browser::new(&app);
    second.login_ok("ann", "pw").await;
    // The token each session's own (never reused) security page carries.
    let own_first = first.get("/preferences/security").await.csrf();
    let own_second = second.get("/preferences/security").await.csrf();
    assert_ne!(own_first, own_second);
    for _ in 0..2 {
        // Alternating views: a page rendered for one session is never served to the other.
        assert_eq!(first.get("/").await.csrf(), own_first);
        assert_eq!(second.get("/").await.csrf(), own_second);
    }
}
