//! accountd's configuration: defaults < file (`--config FILE`, TOML) < environment.
//!
//! Environment variables are `ACCOUNTD__SECTION__KEY` (`ACCOUNTD__SERVER__BIND`,
//! `ACCOUNTD__DATABASE__URL`, `ACCOUNTD__APIO__VALIDATE_PASSWORD_LOCALLY`,
//! `ACCOUNTD__APIO__MINIMUM_PASSWORD_RULES__END_USER__PASSWORD_MIN_LENGTH`). Keys of the `apio`
//! section keep the seeds' UPPER_CASE names, every other key is lower case, whatever the case of the
//! variable. Unknown keys are refused at start, with their name.

use accountd_http::HttpConfig;
use accountd_http::context::{AccessLog, AccessLogPolicy};
use accountd_policy::hashing::HashParams;
use accountd_policy::settings::{ApioSettings, PasswordBaseline};
use accountd_service::ServiceConfig;
use accountd_service::config::{AuditConfig, BasicAuthConfig, OutboxConfig, SessionConfig, ThrottleConfig};
use accountd_service::sso::SsoConfig;
use accountd_upstream::{BreakerConfig, GuardConfig, HttpUpstreamConfig};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const ENV_PREFIX: &str = "ACCOUNTD__";

/// Every setting of the server.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub upstream: UpstreamConfig,
    pub apio: ApioSettings,
    pub password: PasswordBaseline,
    pub hashing: HashParams,
    pub sessions: SessionConfig,
    pub throttle: ThrottleConfig,
    pub basic_auth: BasicAuthConfig,
    pub sso: SsoConfig,
    pub outbox: OutboxConfig,
    pub audit: AuditConfig,
    pub security: accountd_service::config::SecurityConfig,
    pub mfa: accountd_service::config::MfaConfig,
    pub passkeys: accountd_service::config::PasskeyConfig,
    pub tokens: accountd_service::config::TokenConfig,
    pub notifications: accountd_service::config::NotificationsConfig,
    pub email: accountd_service::config::EmailConfig,
}

/// The listening socket and its connections: what actix's connection dispatcher enforces before a
/// request reaches a route (docs/operations.md, "Floods and slow clients"). The limits on a
/// request's body, which the routes enforce, are in [`HttpConfig`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: String,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT.
    pub shutdown_timeout_seconds: u64,
    /// How long a new connection has to deliver its first request's headers, whole (else 408 and
    /// closed): what cuts an idle connection and a slowloris. At least 1.
    pub client_request_timeout_ms: u64,
    /// How long a closing connection waits for the client to acknowledge the close before it is
    /// dropped (0: dropped at once).
    pub client_disconnect_timeout_ms: u64,
    /// How long a connection may stay idle between two requests (0: one request per connection).
    /// Above a load balancer's idle timeout, so the balancer, not accountd, closes its pooled
    /// connections and never sends a request on one accountd is closing.
    pub keep_alive_ms: u64,
    /// Connections one worker holds at once; at the limit it accepts no more until one closes, and
    /// new ones wait in the backlog. At least 1.
    pub max_connections: usize,
    /// Connections the kernel queues before they are accepted (capped by `net.core.somaxconn`).
    pub backlog: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            shutdown_timeout_seconds: 30,
            client_request_timeout_ms: 5_000,
            client_disconnect_timeout_ms: 1_000,
            keep_alive_ms: 75_000,
            max_connections: 10_000,
            backlog: 2_048,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://accountd.db` (the embedded default) or `postgres://user@host/db`.
    pub url: String,
    /// Pooled connections (0: two per core, at least 4).
    pub pool_size: u32,
    /// How long a request waits for a pooled connection before it is answered 503 (the database
    /// is down, or every connection is busy).
    pub pool_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://accountd.db".into(),
            pool_size: 0,
            pool_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive (`RUST_LOG` overrides it).
    pub filter: String,
    /// Which requests get an access line: `errors` (4xx, 5xx and slow answers), `all` or `off`.
    pub access: AccessLog,
    /// With `access = "errors"`, an answer at least this slow (ms) is logged whatever its status.
    pub access_slow_ms: u64,
}

impl LogConfig {
    /// The access log's settings, for the HTTP layer.
    pub fn access_log(&self) -> AccessLogPolicy {
        AccessLogPolicy {
            mode: self.access,
            slow: std::time::Duration::from_millis(self.access_slow_ms),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
            access: AccessLog::default(),
            access_slow_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Which Application Server adapter to use, and the bounds around it (docs/upstream.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub kind: UpstreamKind,
    pub http: HttpUpstreamConfig,
    /// Most Application Server calls running at once; one more fails fast (503).
    pub max_in_flight: u32,
    pub breaker: BreakerConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        let guard = GuardConfig::default();
        Self {
            kind: UpstreamKind::default(),
            http: HttpUpstreamConfig::default(),
            max_in_flight: guard.max_in_flight,
            breaker: guard.breaker,
        }
    }
}

impl UpstreamConfig {
    /// The guard's settings.
    pub fn guard(&self) -> GuardConfig {
        GuardConfig {
            max_in_flight: self.max_in_flight,
            breaker: self.breaker,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// No Application Server: only login modes that keep everything local are allowed.
    #[default]
    Disabled,
    /// The HTTP/JSON contract of docs/upstream.md.
    Http,
}

impl AppConfig {
    /// Loads defaults, then `file` (when given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`AppConfig::load`], with the environment given (for tests).
    pub fn load_from(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml).required(true));
        }
        for (name, value) in env {
            if let Some(key) = env_key(&name) {
                builder = builder.set_override(key, value).context("reading the environment")?;
            }
        }
        let cfg = builder.build().context("reading the configuration")?;
        let app: AppConfig = cfg.try_deserialize().context("invalid configuration")?;
        Ok(app)
    }

    pub fn service_config(&self) -> ServiceConfig {
        ServiceConfig {
            apio: self.apio.clone(),
            password: self.password,
            hashing: self.hashing,
            sessions: self.sessions.clone(),
            throttle: self.throttle.clone(),
            basic_auth: self.basic_auth.clone(),
            sso: self.sso.clone(),
            claims: accountd_service::config::ClaimConfig::for_upstream_timeout(self.upstream.http.request_timeout),
            outbox: self.outbox,
            audit: self.audit.clone(),
            security: self.security.clone(),
            mfa: self.mfa.clone(),
            passkeys: self.passkeys.clone(),
            tokens: self.tokens.clone(),
            notifications: self.notifications.clone(),
            email: self.email.clone(),
        }
    }
}

/// `ACCOUNTD__APIO__MINIMUM_PASSWORD_RULES__END_USER__PASSWORD_MIN_LENGTH` →
/// `apio.MINIMUM_PASSWORD_RULES.END_USER.PASSWORD_MIN_LENGTH`; `ACCOUNTD__SERVER__BIND` → `server.bind`.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    let mut parts = rest.split("__");
    let section = parts.next()?.to_ascii_lowercase();
    if section.is_empty() {
        return None;
    }
    let upper = section == "apio";
    let mut key = section;
    for part in parts {
        key.push('.');
        key.push_str(&if upper {
            part.to_ascii_uppercase()
        } else {
            part.to_ascii_lowercase()
        });
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_policy::mode::LoginMode;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn env_keys_map_to_config_paths() {
        assert_eq!(env_key("ACCOUNTD__SERVER__BIND").as_deref(), Some("server.bind"));
        assert_eq!(
            env_key("ACCOUNTD__apio__validate_password_locally").as_deref(),
            Some("apio.VALIDATE_PASSWORD_LOCALLY")
        );
        assert_eq!(env_key("OTHER__SERVER__BIND"), None);
        assert_eq!(env_key("ACCOUNTD__"), None);
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accountd.toml");
        std::fs::write(
            &file,
            "[server]\nbind = \"127.0.0.1:9000\"\n[apio]\nLOGIN_MODE = \"DJANGO_ONLY\"\nVALIDATE_PASSWORD_LOCAL_RULE = true\n\
             [apio.MINIMUM_PASSWORD_RULES.END_USER]\nPASSWORD_MIN_LENGTH = 10\n",
        )
        .unwrap();
        let cfg = AppConfig::load_from(
            Some(&file),
            env(&[
                ("ACCOUNTD__DATABASE__URL", "postgres://postgres@127.0.0.1/test"),
                ("ACCOUNTD__APIO__VALIDATE_PASSWORD_LOCAL_RULE", "false"),
                (
                    "ACCOUNTD__APIO__MINIMUM_PASSWORD_RULES__END_USER__PASSWORD_MIN_DIGITS",
                    "3",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.server.bind, "127.0.0.1:9000", "file over default");
        assert_eq!(
            cfg.database.url, "postgres://postgres@127.0.0.1/test",
            "environment over default"
        );
        assert_eq!(cfg.apio.login_mode, LoginMode::DjangoOnly);
        assert!(!cfg.apio.validate_password_local_rule, "environment over file");
        assert_eq!(cfg.apio.minimum_password_rules.end_user.min_length, 10);
        assert_eq!(cfg.apio.minimum_password_rules.end_user.min_digits, 3);
        assert_eq!(
            cfg.apio.minimum_password_rules.end_user.min_uppercase, 1,
            "seed default kept"
        );
        assert!(cfg.apio.delete_user_devices, "seed default");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = AppConfig::load_from(None, env(&[("ACCOUNTD__SERVER__BINDD", "x")])).unwrap_err();
        assert!(format!("{err:#}").contains("bindd"), "{err:#}");
        let err = AppConfig::load_from(None, env(&[("ACCOUNTD__APIO__VALIDATE_PASSWORD", "true")])).unwrap_err();
        assert!(format!("{err:#}").contains("VALIDATE_PASSWORD"), "{err:#}");
    }

    #[test]
    fn defaults() {
        let cfg = AppConfig::load_from(None, Vec::new()).unwrap();
        assert_eq!(cfg.server.bind, "127.0.0.1:8080");
        assert_eq!(cfg.database.url, "sqlite://accountd.db");
        assert_eq!(cfg.upstream.kind, UpstreamKind::Disabled);
    }

    #[test]
    fn security_keys_come_as_a_list_or_as_comma_separated_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accountd.toml");
        std::fs::write(&file, "[security]\nkeys = [\"a:AAAA\", \"b:BBBB\"]\n").unwrap();
        let from_file = AppConfig::load_from(Some(&file), env(&[])).unwrap();
        assert_eq!(from_file.security.keys, ["a:AAAA", "b:BBBB"]);
        let from_env = AppConfig::load_from(None, env(&[("ACCOUNTD__SECURITY__KEYS", "a:AAAA, b:BBBB")])).unwrap();
        assert_eq!(from_env.security.keys, ["a:AAAA", "b:BBBB"]);
    }

    #[test]
    fn the_sealing_key_is_generated_beside_sqlite_and_required_with_postgres() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AppConfig::default();
        config.database.url = format!("sqlite://{}", dir.path().join("accountd.db").display());
        let first = crate::startup::key_ring(&config).unwrap();
        let file = dir.path().join(crate::startup::KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // The same key at the next start.
        let again = crate::startup::key_ring(&config).unwrap();
        let sealed = first.seal(b"secret", b"u", [1; 24]).unwrap();
        assert_eq!(&*again.open(&sealed, b"u").unwrap(), b"secret");

        config.database.url = "postgres://postgres@127.0.0.1/test".into();
        let refused = crate::startup::key_ring(&config).unwrap_err().to_string();
        assert!(
            refused.contains("security.keys is required with PostgreSQL"),
            "{refused}"
        );
        config.security.keys = vec![crate::startup::new_key_line("k2")];
        assert_eq!(crate::startup::key_ring(&config).unwrap().current_id(), "k2");
        config.security.keys = vec!["k3:not-base64".into()];
        assert!(crate::startup::key_ring(&config).is_err());
    }

    #[test]
    fn levels_come_from_a_file_or_the_environment() {
        use accountd_domain::level::UserLevel;
        let from_env = AppConfig::load_from(
            None,
            env(&[
                ("ACCOUNTD__TOKENS__LEVELS", "0, 4"),
                ("ACCOUNTD__MFA__REQUIRED_LEVELS", "16"),
            ]),
        )
        .unwrap();
        assert_eq!(from_env.tokens.levels, [UserLevel::EndUser, UserLevel::DepartmentAdmin]);
        assert_eq!(from_env.mfa.required_levels, [UserLevel::System]);
        let nobody = AppConfig::load_from(None, env(&[("ACCOUNTD__TOKENS__LEVELS", "")])).unwrap();
        assert!(nobody.tokens.levels.is_empty());
        let refused = AppConfig::load_from(None, env(&[("ACCOUNTD__TOKENS__LEVELS", "0,5")])).unwrap_err();
        assert!(
            format!("{refused:#}").contains("must be one of 0, 4, 8, 12, 16"),
            "{refused:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accountd.toml");
        std::fs::write(&file, "[tokens]\nlevels = [8, 12]\n").unwrap();
        let from_file = AppConfig::load_from(Some(&file), Vec::new()).unwrap();
        assert_eq!(from_file.tokens.levels, [UserLevel::GroupAdmin, UserLevel::TenantAdmin]);
    }

    #[test]
    fn an_inconsistent_passkey_relying_party_refuses_the_start() {
        let origins = env(&[
            ("ACCOUNTD__PASSKEYS__RP_ID", "example.com"),
            (
                "ACCOUNTD__PASSKEYS__ORIGINS",
                "https://accounts.example.com, https://example.com",
            ),
        ]);
        let mut config = AppConfig::load_from(None, origins).unwrap();
        assert_eq!(
            config.passkeys.origins,
            ["https://accounts.example.com", "https://example.com"]
        );
        config.security.keys = vec![crate::startup::new_key_line("k1")];
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("accountd.db").display());
        let store = accountd_storage::Database::open(&url, &Default::default()).unwrap();
        let services = |config: &AppConfig| crate::startup::services(config, store.clone());
        assert!(services(&config).is_ok());
        config.passkeys.origins.push("https://example.org".into());
        let refused = services(&config).unwrap_err().to_string();
        assert!(refused.contains("invalid [passkeys] configuration"), "{refused}");
        assert!(refused.contains("https://example.org"), "{refused}");
    }
}
