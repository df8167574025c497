//! How a scenario sizes itself and reports what happened.

use serde_json::Value;
use std::time::Duration;

/// How hard the suite pushes: `RELIABILITY_SCALE=full` (set by `cargo xtask reliability`) or the
/// short default that `cargo test` runs in CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Ci,
    Full,
}

impl Scale {
    pub fn get() -> Scale {
        match std::env::var("RELIABILITY_SCALE").as_deref() {
            Ok("full") => Scale::Full,
            _ => Scale::Ci,
        }
    }

    /// `ci` at CI scale, `full` at full scale.
    pub fn pick<T>(self, ci: T, full: T) -> T {
        match self {
            Scale::Ci => ci,
            Scale::Full => full,
        }
    }

    /// How long the soak runs: `RELIABILITY_SOAK_SECONDS`, else 20 s (CI) or 2 min (full).
    pub fn soak(self) -> Duration {
        let default = self.pick(20, 120);
        let seconds = std::env::var("RELIABILITY_SOAK_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        Duration::from_secs(seconds)
    }
}

/// One fault and its outcome, for docs/reliability.md. `record` has at least `scenario`, `backend`,
/// `fault` (what was done to the server), `answered` (what clients got), `acknowledged` (writes
/// answered 2xx) and `lost` (of those, missing afterwards); anything else is listed as detail.
pub fn report(record: Value) {
    for key in ["scenario", "backend", "fault", "answered", "lost"] {
        assert!(record.get(key).is_some(), "a report names `{key}`: {record}");
    }
    println!("RELIABILITY {record}");
}
