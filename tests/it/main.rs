#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Integration tests: the real server on port 0 with a temp database, the real Subsonic peer
//! for Navidrome (started by scripts/test.sh), and wiremock for the cases the peer can't make.

mod fakes;
mod harness;

mod auth;
mod browser;
mod browser_kit;
mod callback_fuzz;
mod crash;
mod csrf;
mod dashboard;
mod history;
mod hostile_input;
mod jobs;
mod library;
mod link_lastfm;
mod link_listenbrainz;
mod link_spotify;
mod link_storage;
mod matching;
mod pages;
mod playlist_writeback;
mod playlists;
mod providers_page;
mod security_findings;
mod sessions;
mod storage;
mod vibes;
