//! accountd's adapters of the Application Server port
//! ([`accountd_domain::ports::ApplicationServer`]): the telephony network element ("BS DB" in the
//! seeds) that, depending on the login mode, checks passwords and receives profile, password and
//! PIN changes.
//!
//! - [`disabled`]: [`DisabledUpstream`], when no Application Server is configured.
//! - [`http`]: [`HttpUpstream`], the production adapter: a blocking HTTP/JSON client of the contract
//!   written in `docs/upstream.md`, configured by [`HttpUpstreamConfig`].
//! - [`guard`]: [`GuardedUpstream`], a decorator around any of them bounding the calls in flight
//!   and opening a circuit breaker on repeated failures, configured by [`GuardConfig`].
//! - `memory` (feature `testing`): `InMemoryUpstream`, a complete in-memory Application Server with a call log and
//!   failure injection, for the tests of the crates that use the port.
//!
//! - [`mail`]: [`SmtpMailer`], notification e-mail over SMTP (issue 22).
//! - [`webhook`]: [`HttpWebhookClient`], the outbound HTTP of webhook notifications (issue 22),
//!   whose endpoints are held to the same URL rules ([`checked_url`]).
//!
//! Every adapter is synchronous, like the port: the HTTP layer runs use cases on a blocking pool.
//! No adapter ever puts a password, PIN or API token in an error, a log entry or `Debug` output.

pub mod disabled;
pub mod guard;
pub mod http;
pub mod mail;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod webhook;

pub use disabled::DisabledUpstream;
pub use guard::{BreakerConfig, GuardConfig, GuardedUpstream};
pub use http::{ConfigError, HttpUpstream, HttpUpstreamConfig, checked_url};
pub use mail::{SmtpMailer, SmtpSecurity, SmtpSettings};
#[cfg(any(test, feature = "testing"))]
pub use memory::{InMemoryUpstream, UpstreamCall};
pub use webhook::HttpWebhookClient;

#[cfg(test)]
mod test_support {
    //! Builders the unit tests share.

    use accountd_domain::level::Role;
    use accountd_domain::testing::{TestUser, member};
    use accountd_domain::user::User;

    /// An approved end user with this username.
    pub(crate) fn sample_user(username: &str) -> User {
        TestUser::new(
            1,
            Role::EndUser {
                member: member("Pie", "PieGroup", "u1"),
            },
        )
        .username(username)
        .named("John", "Doe")
        .build()
    }
}
