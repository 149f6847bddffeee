//! Pure types and rules, no I/O.

pub mod audit;
pub mod dj;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod link_health;
pub mod listen;
pub mod matching;
pub mod playlist;
pub mod provider;
pub mod text;
pub mod writeback;
