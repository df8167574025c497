//! The operating system's randomness behind the domain's [`Random`] port.

pub use accountd_domain::ports::Random;
use rand::RngCore;

/// Reads the OS's cryptographically secure generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        rand::rngs::OsRng.fill_bytes(dest);
    }
}
