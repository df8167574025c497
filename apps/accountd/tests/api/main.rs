//! The server's integration tests: one binary, each test with its own server and database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account;
mod as_faults;
mod authz;
mod axway;
mod bodies;
mod claims;
mod cross_dialect;
mod email_change;
mod fuzz;
mod hashing;
mod headers;
mod helpers;
mod import;
mod login_modes;
mod notifications;
mod ops;
mod outbox;
mod passkeys;
mod profile;
#[path = "../common/receiver.rs"]
mod receiver;
mod reset;
mod revocation;
mod round_trip;
mod second_factors;
mod session;
#[path = "../common/smtp_sink.rs"]
mod smtp_sink;
mod superoffice;
mod throttling;
mod timeline;
mod tokens;
mod wasnt_me;
