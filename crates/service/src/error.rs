//! The one error type of the use cases. Each variant is a distinct answer a client can act on; the
//! HTTP layer maps them to status codes in one table (`accountd-http`'s `ApiError`).

use accountd_domain::InvalidValue;
use accountd_domain::ports::{StoreError, UpstreamError};
use accountd_policy::Violation;

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No valid credentials, session or token (401).
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong username or password, unknown user or disabled account: one answer for all (401).
    #[error("invalid username or password")]
    BadCredentials,
    /// Authenticated, but not allowed to do this (403). The reason is safe to show.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Members of their own account the caller may not change, by their seed 001 wire names
    /// (`phoneNumber`, `department`, `accessDeviceEndpoint`, …), every one of them (403). A member
    /// sent at its current value is no change and never lands here.
    #[error("read-only members: {}", .0.join(", "))]
    ReadOnly(Vec<&'static str>),
    /// The old password or PIN given to authorise a change is wrong (403, counted by throttling).
    #[error("the {0} is not correct")]
    WrongSecret(&'static str),
    /// The thing addressed does not exist (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Values that fail validation, every one of them (400).
    #[error("invalid input")]
    Invalid(Vec<InvalidValue>),
    /// A password or PIN that breaks the policy, every rule it breaks (400).
    #[error("the {field} does not meet the policy")]
    Policy {
        field: &'static str,
        violations: Vec<Violation>,
    },
    /// A unique value is taken (409).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// `If-Match` did not match the current version (412).
    #[error("the resource changed since it was read")]
    PreconditionFailed,
    /// `If-Match` is required and missing (428).
    #[error("If-Match is required")]
    PreconditionRequired,
    /// Too many failures: try again after this many seconds (429).
    #[error("too many attempts")]
    Throttled { retry_after_seconds: u64 },
    /// Another change of the same user is under way (it holds the user's claim, issue 15) and did
    /// not end within the bounded wait; nothing was changed, the client may retry (503).
    #[error("another change of this user is in progress")]
    UserBusy,
    /// The Application Server refused or failed (502, or 504 on a timeout).
    #[error(transparent)]
    Upstream(UpstreamError),
    /// The store failed (503 when unavailable, else 500: a bug or corrupt data).
    #[error(transparent)]
    Store(StoreError),
    /// The password was right, and the user has a second factor: the login goes on with the
    /// challenge (401 `second-factor-required`).
    #[error("a second factor is required")]
    SecondFactorRequired(crate::factors::SecondFactorChallenge),
    /// HTTP Basic with a password, for a user with a second factor: Basic can't carry the second
    /// step (401 `second-factor-basic-refused`, pointing to API tokens).
    #[error("HTTP Basic can't be used by a user with a second factor")]
    BasicWithSecondFactor,
    /// A sensitive change needs a password or factor proved within `security.reauth_max_age_seconds`
    /// (401 `reauthentication-required`).
    #[error("re-authentication required")]
    ReauthenticationRequired,
    /// The session may only enroll a second factor (`mfa.required_levels`) until it does (403).
    #[error("a second factor must be enrolled first")]
    EnrollmentRequired,
    /// The authenticator's answer to a passkey registration was refused (400 `passkey-refused`):
    /// a bad signature or attestation, the wrong origin or challenge, no user verification.
    #[error("the passkey was refused")]
    PasskeyRefused,
    /// An API token of scope `read` on an unsafe method (403 `read-only-token`).
    #[error("this API token may only read")]
    ReadOnlyToken,
    /// The user reported an event as not theirs: until they change their password, that is all
    /// they may do (403 `password-change-required`).
    #[error("the password must be changed first")]
    PasswordChangeRequired,
    /// A password-reset link that is unknown, used or expired (400 `reset-link-invalid`).
    #[error("the password-reset link is not valid")]
    ResetLinkInvalid,
    /// An e-mail change link that is unknown, used, replaced, cancelled or expired (400
    /// `email-change-link-invalid`).
    #[error("the e-mail change link is not valid")]
    EmailChangeLinkInvalid,
    /// Password reset by e-mail can't be used here; the text says where passwords live or what
    /// is missing (409 `password-reset-unavailable`).
    #[error("password reset is unavailable: {0}")]
    ResetUnavailable(&'static str),
    /// Hashing failed (a bug or a corrupt stored hash: 500).
    #[error("hashing failed: {0}")]
    Hashing(String),
    /// No hashing slot came free within `hashing.queue_timeout_ms`: nothing was changed, the
    /// client may retry after about this many seconds (503 `hashing-busy`).
    #[error("every hashing slot stayed busy")]
    HashingBusy { retry_after_seconds: u64 },
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::VersionMismatch => ServiceError::PreconditionFailed,
            StoreError::Conflict(field) => ServiceError::Conflict(field),
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            other => ServiceError::Store(other),
        }
    }
}

impl From<UpstreamError> for ServiceError {
    fn from(err: UpstreamError) -> Self {
        ServiceError::Upstream(err)
    }
}

impl From<InvalidValue> for ServiceError {
    fn from(err: InvalidValue) -> Self {
        ServiceError::Invalid(vec![err])
    }
}

impl From<accountd_policy::hashing::HashError> for ServiceError {
    fn from(err: accountd_policy::hashing::HashError) -> Self {
        match err {
            accountd_policy::hashing::HashError::Busy { retry_after_seconds } => {
                ServiceError::HashingBusy { retry_after_seconds }
            }
            other => ServiceError::Hashing(other.to_string()),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
