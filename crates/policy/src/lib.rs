//! accountd's policy: the decisions the service takes, as pure functions over domain values.
//!
//! Nothing here performs I/O, reads a clock or draws random numbers: salts, times and every input
//! are parameters, so each rule is a plain function that a unit or property test can pin down.
//! The crate depends on `accountd-domain` only (plus hashing and password-strength libraries), never
//! on a database, a web framework or an async runtime.
//!
//! - [`settings`]: the APIO settings of seed 001 (`VALIDATE_PASSWORD_LOCALLY`, …) and accountd's own
//!   password floor, as serde types with the seed's defaults.
//! - [`password`]: which password rules apply, and checking a candidate against them.
//! - [`pin`]: which PIN rules apply, and checking a PIN against them (BroadWorks passcode rules).
//! - [`violation`]: the coded, per-field violations both report, and per-rule outcomes for live
//!   feedback.
//! - [`mode`]: the login modes of seed 000 and where each operation authenticates and writes.
//! - [`access`]: who may read or change whom (system, tenant, group and department scopes).
//! - [`hashing`]: argon2id hashing of passwords and PINs, and verification of imported Django hashes.
//! - [`tokens`]: session/API token encoding, digests and the session-bound XSRF token.
//! - [`throttle`]: brute-force counters, their keys and their sliding windows.
//!
//! # Examples
//!
//! Runnable programs in `crates/policy/examples/`, one question each; every one asserts what it
//! prints, and `cargo xtask ci` runs them all:
//!
//! - `check_password`: seed 001's settings read through serde, the rules that follow for an end
//!   user and for an administrator, and every rule a candidate breaks
//!   (`cargo run -p accountd-policy --example check_password -- 'candidate'`);
//! - `judge_pin`: the local PIN rules and every rule a PIN breaks, the user's numbers included;
//! - `login_modes`: who checks a password and which stores a change is written to, per mode;
//! - `may_change_user`: whether an actor may read or change a user, and why not.

#![warn(missing_docs)]

pub mod access;
pub mod factors;
pub mod hashing;
pub mod mode;
pub mod password;
pub mod pin;
pub mod settings;
pub mod throttle;
pub mod tokens;
pub mod violation;

pub use violation::{RuleOutcome, Violation};
