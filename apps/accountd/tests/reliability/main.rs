//! The reliability suite (issue 16): faults done to the real binary (`CARGO_BIN_EXE_accountd`),
//! run as child processes on SQLite and PostgreSQL, and what it answered. Each scenario prints one
//! `RELIABILITY {json}` line per fault ([`report::report`]); `cargo xtask reliability` runs the
//! suite at full scale and writes docs/reliability.md from those lines. Under `cargo test` (and so
//! `cargo xtask ci`) every scenario runs at its short CI scale ([`report::Scale`]).
//!
//! Every scenario asserts what it reports: an acknowledged (2xx) write lost, a 5xx where the
//! documentation promises a 4xx or a 503, a corrupt database, fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/recording_as.rs"]
mod recording_as;
#[path = "../common/server.rs"]
mod server;

mod crash;
mod database_outage;
mod disk_full;
mod floods;
mod population;
mod report;
mod soak;
