//! Spotter: a self-hosted, single-user web companion for Navidrome.
//!
//! The binary (`main.rs`) only parses the command line; everything lives here so tests and
//! subcommands share it. See ARCHITECTURE.md for the codemap and invariants.

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod jobs;
pub mod security;
pub mod services;
pub mod telemetry;
