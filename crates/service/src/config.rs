//! The service's settings: the APIO settings of the seeds, accountd's own password floor, argon2
//! parameters, session lifetimes and throttling. Every field has a default; unknown keys are refused.

use accountd_policy::hashing::HashParams;
use accountd_policy::settings::{ApioSettings, PasswordBaseline};
use serde::{Deserialize, Serialize};

/// Everything the use cases are configured with.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// The APIO settings, under their seed names (`VALIDATE_PASSWORD_LOCALLY`, …, `LOGIN_MODE`).
    pub apio: ApioSettings,
    /// accountd's own password floor, applied on top of the APIO rules.
    pub password: PasswordBaseline,
    /// argon2id parameters for new hashes.
    pub hashing: HashParams,
    pub sessions: SessionConfig,
    pub throttle: ThrottleConfig,
    pub basic_auth: BasicAuthConfig,
    /// The identity provider of SSO_LOGIN_DEDICATED.
    pub sso: crate::sso::SsoConfig,
    /// Per-user claims around Application Server calls: derived from the upstream timeout by the
    /// binary ([`ClaimConfig::for_upstream_timeout`]), not a key of their own.
    #[serde(skip)]
    pub claims: ClaimConfig,
    /// The durable outbox's worker (issue 15).
    pub outbox: OutboxConfig,
    /// How long audit events are kept.
    pub audit: AuditConfig,
    /// Re-authentication and the second step of a login (issue 18).
    pub security: SecurityConfig,
    /// Who must have a second factor.
    pub mfa: MfaConfig,
    /// The WebAuthn relying party of passkeys (issue 19).
    pub passkeys: PasskeyConfig,
    /// Personal API tokens (issue 20).
    pub tokens: TokenConfig,
    /// Webhooks told what happens to accounts (issue 22).
    pub notifications: NotificationsConfig,
    /// Verified changes of e-mail addresses (issue 22).
    pub email: EmailConfig,
}

/// Verified e-mail changes (docs/notifications.md, "Verified e-mail changes"): off by default, and
/// then the seed routes change the address at once, as the seeds show.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// A user's own change of their address waits until the new address is confirmed through a
    /// link e-mailed to it (needs `notifications.smtp`); the old address is told.
    pub verify_changes: bool,
    /// How long the confirmation link works, in minutes (1 to 10080, a week).
    pub change_link_minutes: u32,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            verify_changes: false,
            change_link_minutes: 1_440,
        }
    }
}

impl EmailConfig {
    /// The link's life in range, and an SMTP server to send it through when changes are verified;
    /// the text names the key.
    pub fn check(&self, smtp: &SmtpConfig) -> Result<(), String> {
        if !(1..=10_080).contains(&self.change_link_minutes) {
            return Err("email.change_link_minutes must be between 1 and 10080".to_owned());
        }
        if self.verify_changes && !smtp.enabled() {
            return Err(
                "email.verify_changes needs an SMTP server to send the confirmation link: set notifications.smtp.host"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// Notifications (docs/notifications.md): the webhook endpoints and the time a delivery gets.
/// Endpoints come from the configuration file (a list of tables `[[notifications.webhooks]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    pub webhooks: Vec<WebhookEndpoint>,
    /// E-mail to users (off while `smtp.host` is empty).
    pub smtp: SmtpConfig,
    /// The account page's address, linked from every e-mail ("if it wasn't you") and the base of
    /// password-reset links (`…#reset=<token>`).
    pub account_page_url: String,
    /// How long a password-reset link works, in minutes.
    pub reset_link_minutes: u32,
    /// How long a webhook delivery may take to connect, then to be answered.
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            smtp: SmtpConfig::default(),
            account_page_url: "http://localhost:8080/account/".to_owned(),
            reset_link_minutes: 30,
            connect_timeout_ms: 2_000,
            timeout_ms: 5_000,
        }
    }
}

/// The SMTP server notification e-mail goes through.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Empty: no e-mail is sent.
    pub host: String,
    pub port: u16,
    /// `starttls` (required, the default), `tls` (from the first byte), or `none` (the loopback
    /// only).
    pub tls: SmtpTlsMode,
    /// Empty: no authentication.
    pub username: String,
    pub password: ConfigSecret,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// The longest any SMTP command may take.
    pub timeout_ms: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            tls: SmtpTlsMode::Starttls,
            username: String::new(),
            password: ConfigSecret::new(""),
            from: "accountd <no-reply@localhost>".to_owned(),
            timeout_ms: 10_000,
        }
    }
}

impl SmtpConfig {
    /// Whether e-mail is on.
    pub fn enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTlsMode {
    Starttls,
    Tls,
    None,
}

/// One integrator's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// Names the endpoint in logs, divergences and the outbox (unique).
    pub name: String,
    /// `https://…`; plain `http://` only to the loopback.
    pub url: String,
    /// The HMAC key of the signature (at least 16 bytes); never logged, never shown.
    pub secret: ConfigSecret,
    /// The notification types it wants (`password_changed`, …); empty or absent: all.
    #[serde(default)]
    pub events: Vec<String>,
}

impl WebhookEndpoint {
    /// Whether the endpoint's filter takes notifications of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}

/// A secret of the configuration (a webhook's signing key, the SMTP password): `Debug` and
/// `Serialize` show `<redacted>`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ConfigSecret(String);

impl ConfigSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConfigSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for ConfigSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

impl NotificationsConfig {
    /// Names unique and not empty, secrets of 16 bytes or more, known notification types,
    /// timeouts from 1 ms to 60 s; the text names the key. The URLs are the binary's to check
    /// (the HTTP adapter's rules).
    pub fn check(&self) -> Result<(), String> {
        if !(1..=1_440).contains(&self.reset_link_minutes) {
            return Err("notifications.reset_link_minutes must be between 1 and 1440".to_owned());
        }
        for (name, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("timeout_ms", self.timeout_ms),
        ] {
            if !(1..=60_000).contains(&value) {
                return Err(format!("notifications.{name} must be between 1 and 60000"));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for endpoint in &self.webhooks {
            if endpoint.name.trim().is_empty() || !seen.insert(endpoint.name.as_str()) {
                return Err(format!(
                    "notifications.webhooks: every endpoint needs a name of its own ({:?})",
                    endpoint.name
                ));
            }
            if endpoint.secret.expose().len() < 16 {
                return Err(format!(
                    "notifications.webhooks {:?}: the secret must be at least 16 bytes",
                    endpoint.name
                ));
            }
            if let Some(unknown) = endpoint
                .events
                .iter()
                .find(|e| !crate::notify::KINDS.contains(&e.as_str()))
            {
                return Err(format!(
                    "notifications.webhooks {:?}: unknown event {unknown:?} (known: {})",
                    endpoint.name,
                    crate::notify::KINDS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Personal API tokens (docs/account-page.md, "Credentials"): who may create them, for how long.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// The longest lifetime a user may give a token, in days (every personal token expires).
    pub max_lifetime_days: u32,
    /// User levels (0, 4, 8, 12, 16) that may create personal tokens. In the environment,
    /// comma-separated.
    #[serde(deserialize_with = "levels_from_text_or_list")]
    pub levels: Vec<accountd_domain::level::UserLevel>,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            max_lifetime_days: 90,
            levels: accountd_domain::level::UserLevel::ALL.to_vec(),
        }
    }
}

/// Passkeys' relying party (docs/second-factors.md, "Passkeys"): the domain passkeys are bound to
/// and the origins (scheme, host, port) the account page is served from. Checked at start
/// ([`crate::passkeys::relying_party`]): every origin's host must be `rp_id` or below it, and use
/// `https` unless it is `localhost`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasskeyConfig {
    /// The relying-party id: a registrable domain (`example.com`) or a host (`accounts.example.com`).
    /// Passkeys are bound to it for good: changing it makes every registered passkey unusable.
    pub rp_id: String,
    /// The name authenticators show beside the account.
    pub rp_name: String,
    /// Where the account page is served from (`https://accounts.example.com`), first the main one.
    /// In the environment (`ACCOUNTD__PASSKEYS__ORIGINS`), separated by commas.
    #[serde(deserialize_with = "strings_from_text_or_list")]
    pub origins: Vec<String>,
    /// Accept the origins' hosts on any port (development, tests).
    pub allow_any_port: bool,
}

impl Default for PasskeyConfig {
    fn default() -> Self {
        Self {
            rp_id: "localhost".to_owned(),
            rp_name: "accountd".to_owned(),
            // The default `server.bind` is 127.0.0.1:8080, browsed as localhost.
            origins: vec!["http://localhost:8080".to_owned()],
            allow_any_port: false,
        }
    }
}

/// Re-authentication for sensitive changes, the second step of a login, and the sealing keys of
/// TOTP secrets (docs/second-factors.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// A sensitive change (adding or removing a factor, new recovery codes) needs a password or
    /// factor proved within this many seconds in the session.
    pub reauth_max_age_seconds: i64,
    /// How long the challenge of a login's second step stays valid.
    pub challenge_seconds: i64,
    /// Wrong codes a challenge takes before it dies (the password must be given again).
    pub challenge_max_failures: u32,
    /// The issuer authenticator apps show beside the account name.
    pub totp_issuer: String,
    /// The sealing keys of TOTP secrets, oldest first, each `id:base64-of-32-bytes`; the last
    /// seals, all open (rotation). Empty: the binary generates one into the SQLite data directory,
    /// and refuses to start on PostgreSQL (every instance must share the keys). In the
    /// environment (`ACCOUNTD__SECURITY__KEYS`), the keys separated by commas.
    #[serde(deserialize_with = "strings_from_text_or_list")]
    pub keys: Vec<String>,
}

/// A list of strings (`security.keys`, `passkeys.origins`) as a list (a file) or as one text of
/// comma-separated items (the environment).
fn strings_from_text_or_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Keys {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Keys::deserialize(deserializer)? {
        Keys::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
        Keys::List(list) => list,
    })
}

/// User levels (`mfa.required_levels`, `tokens.levels`) as a list of numbers (a file) or as one
/// text of comma-separated numbers (the environment: `ACCOUNTD__TOKENS__LEVELS=0,4`).
fn levels_from_text_or_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<accountd_domain::level::UserLevel>, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Levels {
        Text(String),
        List(Vec<accountd_domain::level::UserLevel>),
    }
    match Levels::deserialize(deserializer)? {
        Levels::List(list) => Ok(list),
        Levels::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let n: u8 = l
                    .parse()
                    .map_err(|_| D::Error::custom(format!("{l:?} is not a user level (0, 4, 8, 12, 16)")))?;
                accountd_domain::level::UserLevel::from_u8(n).map_err(|e| D::Error::custom(e.to_string()))
            })
            .collect(),
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            reauth_max_age_seconds: 300,
            challenge_seconds: 300,
            challenge_max_failures: 5,
            totp_issuer: "accountd".to_owned(),
            keys: Vec::new(),
        }
    }
}

/// Who must enroll a second factor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {
    /// Users of these levels (0, 4, 8, 12, 16) without a factor get a session that may only
    /// enroll one, until they do. In the environment, comma-separated.
    #[serde(deserialize_with = "levels_from_text_or_list")]
    pub required_levels: Vec<accountd_domain::level::UserLevel>,
}

/// How the outbox worker delivers: how often it looks, how many messages at a time, and how it
/// backs off a failing delivery before giving up on it (a recorded divergence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Pause between two looks at the outbox when the last one found nothing due.
    pub poll_interval_ms: u64,
    /// Most messages leased at one look.
    pub batch: u32,
    /// Pause before the second attempt; it doubles with each failed attempt, up to
    /// `max_retry_delay_seconds` (plus up to 10 % random jitter).
    pub first_retry_delay_ms: u64,
    pub max_retry_delay_seconds: u64,
    /// Failed attempts after which a message is given up and recorded as a divergence.
    pub max_attempts: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1_000,
            batch: 32,
            first_retry_delay_ms: 1_000,
            max_retry_delay_seconds: 600,
            // 1 s doubling to 10 min: about 2 h 40 min of attempts.
            max_attempts: 25,
        }
    }
}

/// How long a change waits for another change of the same user, and how long a claim lives when
/// its holder never releases it (a crash). Both follow the Application Server's request timeout:
/// a waiter outlasts one whole call of the holder, and a claim outlives its holder's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimConfig {
    /// Longest wait for the claim before answering [`crate::ServiceError::UserBusy`].
    pub wait: std::time::Duration,
    /// A claim not released expires this long after it was taken.
    pub ttl: std::time::Duration,
}

impl ClaimConfig {
    /// The wait is the timeout plus 2 s (the holder's call and its local write); the claim lives
    /// twice the timeout plus 5 s, so it never expires under a live holder.
    pub fn for_upstream_timeout(timeout: std::time::Duration) -> Self {
        Self {
            wait: timeout.saturating_add(std::time::Duration::from_secs(2)),
            ttl: timeout
                .saturating_mul(2)
                .saturating_add(std::time::Duration::from_secs(5)),
        }
    }
}

impl Default for ClaimConfig {
    /// For the upstream adapter's default request timeout (5 s).
    fn default() -> Self {
        Self::for_upstream_timeout(std::time::Duration::from_secs(5))
    }
}

/// Session lifetimes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle_timeout_seconds: i64,
    /// A session ends this long after login, whatever the activity.
    pub absolute_timeout_seconds: i64,
    /// `last_seen` is written at most this often per session (a GET is then a pure read).
    pub touch_interval_seconds: i64,
    /// Pause between two runs of the periodic purge (expired sessions, throttling counters, user
    /// claims, audit events past their retention). Expired sessions are refused whether purged or
    /// not; the purge only bounds the database.
    pub purge_interval_seconds: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout_seconds: 30 * 60,
            absolute_timeout_seconds: 12 * 3600,
            touch_interval_seconds: 60,
            purge_interval_seconds: 600,
        }
    }
}

/// The audit log's retention: without one, every write adds a row forever and the database grows
/// with the traffic, not with the users.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Events older than this are deleted by the periodic purge; 0 keeps them forever. In seconds,
    /// like every other duration of the service's settings (90 days: 7776000).
    pub retention_seconds: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_seconds: 90 * 86_400,
        }
    }
}

/// Brute-force throttling of failed logins and wrong old passwords/PINs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Failures of one account from one client address within the window before that address's
    /// attempts at that account are refused with 429. The owner, elsewhere, is not affected.
    pub max_failures_per_account_address: u32,
    /// Failures of one account from every address within the window before every attempt at it is
    /// refused with 429: a ceiling far above the per-address limit that bounds the argon2 work an
    /// attacker with many addresses can force on one account (NIST SP 800-63B: at most 100
    /// consecutive failures). A success starts both account counters over.
    pub max_failures_per_account: u32,
    /// Failures per client address (any account, and unverifiable SSO tokens) within the window
    /// before attempts are refused with 429.
    pub max_failures_per_address: u32,
    /// Length of the sliding counting window: the previous window's failures weigh less as the
    /// current one goes on (429 answers carry the exact wait in Retry-After).
    pub window_seconds: i64,
    /// Password and PIN candidate checks (the account page's live feedback) per account within the
    /// window before they are refused with 429.
    pub max_checks_per_account: u32,
    /// Passkey sign-ins begun per client address within the window before they are refused with
    /// 429: each stores a ceremony until it expires, and nothing else bounds them.
    pub max_ceremonies_per_address: u32,
    /// Exports of a user's own data (`GET /api/v1/session/export/`) per account within the window
    /// before 429: each reads their whole timeline.
    pub max_exports_per_account: u32,
    /// Password-reset links asked per name or address within the window before 429 (the answer
    /// is the same whether or not it exists, and so is the refusal).
    pub max_resets_per_account: u32,
    /// Password-reset requests and confirmations per client address within the window before 429.
    pub max_resets_per_address: u32,
    /// A refused password login (wrong password or unknown user) answers no sooner than this many
    /// milliseconds after it started: longer than the slowest imported legacy hash's verification
    /// (Django's PBKDF2 at 1,000,000 iterations), so the answer's timing does not tell who is still
    /// on one. 0 turns it off.
    pub failure_floor_ms: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            max_failures_per_account_address: 10,
            max_failures_per_account: 100,
            max_failures_per_address: 100,
            window_seconds: 15 * 60,
            max_checks_per_account: 300,
            max_ceremonies_per_address: 300,
            max_exports_per_account: 5,
            max_resets_per_account: 3,
            max_resets_per_address: 30,
            failure_floor_ms: 500,
        }
    }
}

/// The cache that spares an argon2 verification on every `Authorization: Basic` request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuthConfig {
    /// How long a successful verification is remembered (0 disables the cache).
    pub cache_seconds: i64,
    /// Most entries kept.
    pub cache_entries: usize,
}

impl Default for BasicAuthConfig {
    fn default() -> Self {
        Self {
            cache_seconds: 60,
            cache_entries: 10_000,
        }
    }
}
