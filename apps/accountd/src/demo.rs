//! `accountd serve --demo`: the seeds' demo data, loaded by the service's use case
//! ([`accountd_service::demo`], which lists what it creates).

use accountd_domain::ports::Store;
use accountd_service::Services;
use anyhow::{Context, Result};

pub use accountd_service::demo::{DEMO_PASSWORD, DEMO_PIN};

/// Creates what is missing of the demo data; leaves what exists as it is.
pub fn load<S: Store>(services: &Services<S>) -> Result<()> {
    services.load_demo_data().context("loading the demo data")
}
