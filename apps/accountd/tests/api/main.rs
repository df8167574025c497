//! The server's integration tests: one binary, each test with its own server and database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod login_modes;
mod session;
