//! The accountd server: configuration, wiring, demo data and the operator commands. `main.rs` is a
//! thin CLI over this library, which the integration tests use too.

pub mod cli;
pub mod config;
pub mod demo;
pub mod import;
pub mod populate;
pub mod startup;
pub mod telemetry;
pub mod transport;
