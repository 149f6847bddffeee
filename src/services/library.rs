//! Reading the imported catalogue for the Library pages.

use crate::app::Core;
use crate::db;
use crate::db::library::{AlbumItem, ArtistItem, LibraryState, SearchHits, Totals, TrackItem};
use crate::domain::jobs::{JobName, Outcome};

/// Artists per page.
pub const ARTISTS_PER_PAGE: i64 = 50;
/// Results per kind in a search.
pub const SEARCH_LIMIT: i64 = 50;

pub struct Overview {
    pub state: LibraryState,
    pub totals: Totals,
    pub artists: Vec<ArtistItem>,
    /// Whether another page of artists follows.
    pub more: bool,
    pub search: Option<SearchHits>,
    /// The fixed error text of the last run, when it failed.
    pub last_error: String,
}

/// The import state, a page of artists, and search hits when `query` has words.
pub async fn overview(core: &Core, query: &str, page: i64) -> Result<Overview, sqlx::Error> {
    let state = db::library::state(&core.db).await?;
    let totals = db::library::totals(&core.db).await?;
    let norm = crate::domain::text::normalize(query);
    let search = if norm.is_empty() {
        None
    } else {
        Some(db::library::search(&core.db, &norm, SEARCH_LIMIT).await?)
    };
    let page = page.clamp(0, 100_000);
    let mut artists =
        db::library::artists_page(&core.db, ARTISTS_PER_PAGE + 1, page * ARTISTS_PER_PAGE).await?;
    let more = artists.len() as i64 > ARTISTS_PER_PAGE;
    artists.truncate(ARTISTS_PER_PAGE as usize);
    let last_error = db::job_runs::last(&core.db, JobName::LibraryImport)
        .await?
        .filter(|r| r.outcome == Outcome::Failed)
        .map(|r| r.error)
        .unwrap_or_default();
    Ok(Overview {
        last_error,
        state,
        totals,
        artists,
        more,
        search,
    })
}

/// An artist with its albums.
pub async fn artist(
    core: &Core,
    id: &str,
) -> Result<Option<(ArtistItem, Vec<AlbumItem>)>, sqlx::Error> {
    let Some(a) = db::library::artist(&core.db, id).await? else {
        return Ok(None);
    };
    let albums = db::library::albums_of(&core.db, id).await?;
    Ok(Some((a, albums)))
}

/// An album with its tracks.
pub async fn album(
    core: &Core,
    id: &str,
) -> Result<Option<(AlbumItem, Vec<TrackItem>)>, sqlx::Error> {
    let Some(a) = db::library::album(&core.db, id).await? else {
        return Ok(None);
    };
    let tracks = db::library::tracks_of(&core.db, id).await?;
    Ok(Some((a, tracks)))
}
