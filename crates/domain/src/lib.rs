//! accountd's domain: the values and the model behind every API dialect, and the ports the core
//! needs from the outside world.
//!
//! Every value is validated at construction ([`ids::TenantId::parse`], [`text::EmailAddress::parse_for`],
//! …), so an invalid one can't exist past the edge of the system. This crate has no I/O and no
//! dependency on a database, web framework or async runtime: it can be embedded anywhere.
//!
//! - [`ids`], [`text`]: validated identifiers and profile values.
//! - [`level`]: user levels and the role that places a user in the tenant/group tree.
//! - [`user`]: the user, its profile, departments, partial changes.
//! - [`endpoint`]: devices and endpoints (access device xor trunk).
//! - [`secret`], [`pincode`]: passwords, PINs, hashes, digests; PIN settings.
//! - [`principal`]: the caller and seed 000's `ids` projection.
//! - [`rules`]: password and PIN rule sets as data.
//! - [`records`]: sessions, tokens, throttling, audit and the other stored records.
//! - [`ports`]: the traits storage, the Application Server, the clock and randomness implement.
//! - `testing` (feature `testing`, dev-dependencies only): the workspace's one test-user builder.
//!
//! # Examples
//!
//! `crates/domain/examples/validated_values.rs` builds ids, profile values, secrets and roles
//! through their constructors and shows what each refuses
//! (`cargo run -p accountd-domain --example validated_values`). It asserts what it prints, and
//! `cargo xtask ci` runs it. The policy crate's examples use these values to ask the questions.

pub mod endpoint;
pub mod error;
pub mod ids;
pub mod level;
pub mod pincode;
pub mod ports;
pub mod principal;
pub mod records;
pub mod rules;
pub mod secret;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;
pub mod user;

pub use error::{InvalidValue, Problem};
