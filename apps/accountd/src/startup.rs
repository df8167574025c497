//! Wiring: opens the database, picks the Application Server adapter, builds the use cases, and
//! serves them. [`Application::build`] binds first (port 0 picks a free one), so tests start the
//! real server exactly as production does and ask it for its [`Application::port`].

use crate::config::{AppConfig, UpstreamKind};
use accountd_domain::ports::{ApplicationServer, Clock, Store, SystemClock};
use accountd_http::{AppState, context};
use accountd_policy::mode::{Authenticator, Operation, dispatch};
use accountd_service::Services;
use accountd_service::hasher::Hasher;
use accountd_service::random::OsRandom;
use accountd_storage::{Database, PoolOptions};
use accountd_upstream::{DisabledUpstream, GuardedUpstream, HttpUpstream};
use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::body::MessageBody;
use actix_web::dev::AppConfig as ActixAppConfig;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, middleware, web};
use anyhow::{Context, Result, bail};
use std::sync::Arc;
use std::time::Duration;

/// Opens (and migrates) the configured database.
pub fn open_database(config: &AppConfig) -> Result<Database> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as u32;
    let size = if config.database.pool_size == 0 {
        (cores * 2).max(4)
    } else {
        config.database.pool_size
    };
    let options = PoolOptions {
        max_size: size,
        connection_timeout: Duration::from_millis(config.database.pool_timeout_ms.max(1)),
        ..PoolOptions::default()
    };
    Database::open(&config.database.url, &options).with_context(|| {
        // The URL may carry a password: name only the scheme.
        let scheme = config.database.url.split(':').next().unwrap_or("?");
        format!("opening the {scheme} database")
    })
}

/// The Application Server adapter, refusing a login mode that needs one when none is configured.
pub fn upstream(config: &AppConfig) -> Result<Arc<dyn ApplicationServer>> {
    upstream_with(config, Arc::new(SystemClock))
}

/// [`upstream`] with the clock of the HTTP adapter's guard (its breaker's cool-down) as a parameter.
pub fn upstream_with(config: &AppConfig, clock: Arc<dyn Clock>) -> Result<Arc<dyn ApplicationServer>> {
    let mode = config.apio.login_mode;
    let sso_flag = config.apio.update_profile_to_bs_db_sso;
    let needs_upstream = [
        Operation::Login,
        Operation::ProfileChange,
        Operation::PasswordChange,
        Operation::PinChange,
    ]
    .into_iter()
    .map(|op| dispatch(mode, op, sso_flag))
    .any(|d| d.write_upstream || d.authenticate == Authenticator::ApplicationServer);
    match config.upstream.kind {
        UpstreamKind::Disabled if needs_upstream => bail!(
            "LOGIN_MODE {} sends logins or changes to the Application Server, but none is configured: \
             set [upstream] kind = \"http\" and its base_url",
            mode.as_str()
        ),
        UpstreamKind::Disabled => Ok(Arc::new(DisabledUpstream)),
        UpstreamKind::Http => {
            if config.upstream.max_in_flight == 0 {
                bail!("upstream.max_in_flight must be at least 1");
            }
            let http =
                HttpUpstream::new(config.upstream.http.clone()).context("configuring the Application Server client")?;
            Ok(Arc::new(GuardedUpstream::new(http, config.upstream.guard(), clock)))
        }
    }
}

/// The use cases over `store`, configured from `config`.
pub fn services<S: Store>(config: &AppConfig, store: S) -> Result<Services<S>> {
    let mode = config.apio.login_mode;
    if dispatch(mode, Operation::Login, false).authenticate == Authenticator::IdentityProvider
        && config.sso.public_key.is_none()
    {
        bail!(
            "LOGIN_MODE {} needs the identity provider's key: set [sso] public_key",
            mode.as_str()
        );
    }
    let mut services = Services::new(
        store,
        upstream(config)?,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Hasher::sized_to_cores(config.hashing),
        config.service_config(),
    )
    .context("configuring SSO")?;
    configure_adapters(&mut services, config)?;
    Ok(services)
}

/// Gives `services` what it needs from the configuration beyond its settings: the keys that seal
/// TOTP secrets ([`key_ring`]), passkeys' relying party (refused when inconsistent), and the client
/// of webhook notifications (refused when an endpoint is not acceptable).
pub fn configure_adapters<S: Store>(services: &mut Services<S>, config: &AppConfig) -> Result<()> {
    services.set_key_ring(key_ring(config)?);
    let relying_party = accountd_service::passkeys::relying_party(&config.passkeys)
        .map_err(|e| anyhow::anyhow!("invalid [passkeys] configuration: {e}"))?;
    services.set_relying_party(relying_party);
    services.set_webhook_client(webhook_client(&config.notifications)?);
    config
        .email
        .check(&config.notifications.smtp)
        .map_err(|e| anyhow::anyhow!("invalid [email] configuration: {e}"))?;
    let page = Some(config.notifications.account_page_url.as_str());
    if let Some(mailer) = mailer(&config.notifications.smtp, page)? {
        services.set_mailer(mailer);
    }
    Ok(())
}

/// The SMTP adapter of notification e-mail (docs/notifications.md), when `notifications.smtp.host`
/// is set: STARTTLS unless told otherwise, and no encryption only to the loopback.
pub fn mailer(
    config: &accountd_service::config::SmtpConfig,
    account_page: Option<&str>,
) -> Result<Option<Arc<dyn accountd_domain::ports::Mailer>>> {
    use accountd_service::config::SmtpTlsMode;
    use accountd_upstream::{SmtpMailer, SmtpSecurity, SmtpSettings};
    if !config.enabled() {
        return Ok(None);
    }
    let invalid = |why: String| anyhow::anyhow!("invalid [notifications.smtp] configuration: {why}");
    if let Some(page) = account_page {
        // Every e-mail links to it, and reset links carry their token after a `#`.
        accountd_upstream::checked_url(page, false).map_err(|e| {
            anyhow::anyhow!(
                "invalid [notifications] account_page_url {page:?} (e-mail links to it): {}",
                match e {
                    accountd_upstream::ConfigError::PlainHttp =>
                        "plain http:// is allowed to the loopback only: use https://".to_owned(),
                    other => other.to_string(),
                }
            )
        })?;
    }
    let security = match config.tls {
        SmtpTlsMode::Starttls => SmtpSecurity::StartTls,
        SmtpTlsMode::Tls => SmtpSecurity::Tls,
        SmtpTlsMode::None => {
            // The rule of the Application Server's and webhooks' plain http://: the loopback only.
            accountd_upstream::checked_url(&format!("http://{}", config.host), false)
                .map_err(|_| invalid("tls = \"none\" is allowed to the loopback only".to_owned()))?;
            SmtpSecurity::None
        }
    };
    if !(1..=60_000).contains(&config.timeout_ms) {
        return Err(invalid("timeout_ms must be between 1 and 60000".to_owned()));
    }
    let credentials =
        (!config.username.is_empty()).then(|| (config.username.clone(), config.password.expose().to_owned()));
    let mailer = SmtpMailer::new(&SmtpSettings {
        host: config.host.clone(),
        port: config.port,
        security,
        credentials,
        from: config.from.clone(),
        timeout: Duration::from_millis(config.timeout_ms),
    })
    .map_err(invalid)?;
    Ok(Some(Arc::new(mailer)))
}

/// The client of webhook notifications (docs/notifications.md), once every endpoint is acceptable:
/// a name of its own, a secret of 16 bytes or more, known event types, and `https://` unless to
/// the loopback (the Application Server's URL rules).
pub fn webhook_client(
    config: &accountd_service::config::NotificationsConfig,
) -> Result<Arc<dyn accountd_domain::ports::WebhookClient>> {
    config
        .check()
        .map_err(|e| anyhow::anyhow!("invalid [notifications] configuration: {e}"))?;
    for endpoint in &config.webhooks {
        accountd_upstream::checked_url(&endpoint.url, false).map_err(|e| {
            let why = match e {
                accountd_upstream::ConfigError::PlainHttp => {
                    "plain http:// is allowed to the loopback only: use https://".to_owned()
                }
                accountd_upstream::ConfigError::BaseUrl(detail) => format!("the url is invalid: {detail}"),
                other => other.to_string(),
            };
            anyhow::anyhow!(
                "invalid [notifications] configuration: webhook {:?}: {why}",
                endpoint.name
            )
        })?;
    }
    Ok(Arc::new(accountd_upstream::HttpWebhookClient::new(
        Duration::from_millis(config.connect_timeout_ms),
        Duration::from_millis(config.timeout_ms),
    )))
}

/// The name of the key file beside an SQLite database (docs/second-factors.md).
pub const KEY_FILE: &str = "accountd-keys";

/// The keys that seal TOTP secrets (docs/second-factors.md): `security.keys` when set. Else, on
/// SQLite, the key file beside the database, generated at the first start (mode 0600, one
/// `id:base64` line per key, oldest first); on PostgreSQL start is refused, as every instance
/// must seal and open with the same keys.
pub fn key_ring(config: &AppConfig) -> Result<accountd_policy::factors::KeyRing> {
    use accountd_service::factors::parse_keys;
    if !config.security.keys.is_empty() {
        return parse_keys(&config.security.keys).map_err(|e| anyhow::anyhow!("invalid security.keys: {e}"));
    }
    let Some(database) = accountd_storage::sqlite_file(&config.database.url) else {
        bail!(
            "security.keys is required with PostgreSQL: every instance must seal and open TOTP secrets with \
             the same keys. Make one with `accountd keygen` and give it to every instance \
             (ACCOUNTD__SECURITY__KEYS or [security] keys)."
        );
    };
    let file = std::path::Path::new(database).with_file_name(KEY_FILE);
    if !file.exists() {
        write_new_key_file(&file)?;
        tracing::info!(file = %file.display(), "generated the key that seals TOTP secrets");
    }
    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    parse_keys(&keys).map_err(|e| anyhow::anyhow!("invalid key file {}: {e}", file.display()))
}

/// One new key as `accountd keygen` prints it: `id:base64-of-32-random-bytes`, its id `k` and the
/// date (so that a rotation's new key sorts after the old one).
pub fn new_key_line(id: &str) -> String {
    use accountd_domain::ports::Random;
    use base64::Engine;
    let mut key = zeroize::Zeroizing::new([0u8; accountd_policy::factors::KEY_BYTES]);
    OsRandom.fill(key.as_mut());
    format!(
        "{id}:{}",
        base64::engine::general_purpose::STANDARD.encode(key.as_ref())
    )
}

fn write_new_key_file(file: &std::path::Path) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options
        .open(file)
        .with_context(|| format!("creating {}", file.display()))?;
    writeln!(
        out,
        "# accountd's keys that seal TOTP secrets, oldest first: `id:base64`. Keep it secret and\n\
         # back it up with the database; a lost key makes its users' authenticators unusable.\n{}",
        new_key_line("k1")
    )
    .and_then(|()| out.sync_all())
    .with_context(|| format!("writing {}", file.display()))
}

/// Every `sessions.purge_interval_seconds` (ten minutes by default), deletes the sessions past
/// their timeouts, the throttling counters that count for nothing any more, expired user claims and
/// the audit events past `audit.retention_seconds` (on the blocking pool): what would otherwise
/// grow the database with the traffic rather than with the users. Must be called inside the
/// server's runtime.
fn spawn_session_purge<S: Store>(services: Arc<Services<S>>) {
    let every = Duration::from_secs(services.config().sessions.purge_interval_seconds.max(1));
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(every);
        loop {
            interval.tick().await;
            let services = services.clone();
            match web::block(move || services.purge_expired()).await {
                Ok(Ok(purged)) if purged == Default::default() => {}
                Ok(Ok(purged)) => tracing::info!(
                    sessions = purged.sessions,
                    counters = purged.throttle_counters,
                    claims = purged.user_claims,
                    audit_events = purged.audit_events,
                    "expired sessions, throttling counters, user claims and audit events purged"
                ),
                Ok(Err(err)) => tracing::warn!(error = %err, "could not purge expired rows"),
                Err(_) => return,
            }
        }
    });
}

/// The outbox worker (docs/architecture.md, "The outbox"): a thread that looks at the outbox
/// every `outbox.poll_interval_ms` (at once again while it finds work) and delivers what is due.
/// It holds the services weakly and ends when the server is gone.
fn spawn_outbox_worker<S: Store>(services: &Arc<Services<S>>) -> Result<()> {
    let weak = Arc::downgrade(services);
    let poll = Duration::from_millis(services.config().outbox.poll_interval_ms.max(10));
    std::thread::Builder::new()
        .name("accountd-outbox".into())
        .spawn(move || {
            loop {
                let Some(services) = weak.upgrade() else { return };
                let busy = match services.run_outbox_once() {
                    Ok(run) => {
                        if run.leased > 0 {
                            tracing::debug!(?run, "outbox run");
                        }
                        run.leased > run.postponed
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "the outbox worker could not lease messages");
                        false
                    }
                };
                drop(services);
                if !busy {
                    std::thread::sleep(poll);
                }
            }
        })
        .context("starting the outbox worker")?;
    Ok(())
}

/// The application one server worker runs: every route of [`accountd_http::configure`] inside the
/// request-id, personal-data and body-deadline middlewares. The server and the in-process tests (the property
/// tests of `tests/api/fuzz.rs`, through `actix_web::test::init_service`) build it here, so what
/// the tests send goes through exactly the production stack.
pub fn app<S: Store>(
    state: web::Data<AppState<S>>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(middleware::from_fn(accountd_http::deadline::body_deadline))
        .wrap(middleware::from_fn(accountd_http::headers::personal_data))
        .wrap(middleware::from_fn(context::request_id))
        .configure(accountd_http::configure(state))
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `config.server.bind` and prepares the server around `services`, with the connection
    /// limits of `[server]` (docs/operations.md, "Floods and slow clients").
    pub fn build<S: Store>(config: &AppConfig, services: Services<S>) -> Result<Self> {
        let limits = &config.server;
        if limits.client_request_timeout_ms == 0 {
            // actix reads 0 as "no timeout": every idle connection and every slowloris kept forever.
            bail!("server.client_request_timeout_ms must be at least 1");
        }
        if limits.max_connections == 0 || limits.backlog == 0 {
            bail!("server.max_connections and server.backlog must be at least 1");
        }
        if config.http.body_timeout_ms == 0 {
            bail!("http.body_timeout_ms must be at least 1");
        }
        let listener = crate::transport::listen(&limits.bind, limits.backlog)
            .with_context(|| format!("binding {}", limits.bind))?;
        let port = listener.local_addr()?.port();
        let services = Arc::new(services);
        spawn_session_purge(services.clone());
        spawn_outbox_worker(&services)?;
        let state = web::Data::new(AppState {
            services,
            config: config.http.clone(),
            metrics: accountd_http::ops::Metrics::new(),
            access_log: config.log.access_log(),
        });
        // What `HttpServer::listen` assembles, with each connection wrapped in a `HeadWatch`
        // before HTTP/1 reads it (crate::transport: actix's head timer covers a first request only).
        let mut builder = actix_server::Server::build()
            .shutdown_timeout(limits.shutdown_timeout_seconds)
            .max_concurrent_connections(limits.max_connections);
        if limits.workers > 0 {
            builder = builder.workers(limits.workers);
        }
        let shutdown = builder.graceful_shutdown_signal();
        let local = listener.local_addr()?;
        let head_timeout = Duration::from_millis(limits.client_request_timeout_ms);
        // A zero duration is `KeepAlive::Disabled`.
        let keep_alive = Duration::from_millis(limits.keep_alive_ms);
        let disconnect = Duration::from_millis(limits.client_disconnect_timeout_ms);
        let server = builder
            .listen("accountd", listener, move || {
                let shutdown = shutdown.clone();
                let http = HttpService::build()
                    // Idle kept-alive connections close at once on SIGTERM, as under `HttpServer`.
                    .graceful_shutdown_signal(move || {
                        let shutdown = shutdown.clone();
                        async move { shutdown.notified().await }
                    })
                    .keep_alive(keep_alive)
                    .client_request_timeout(head_timeout)
                    .client_disconnect_timeout(disconnect)
                    .local_addr(local)
                    .h1(map_config(
                        app(state.clone()).into_factory().map_err(|err| err.error_response()),
                        // Only `connection_info` reads it, for requests without a Host header;
                        // nothing of accountd's builds a URL from it.
                        |_| ActixAppConfig::default(),
                    ));
                fn_service(move |io: actix_web::rt::net::TcpStream| {
                    let peer = io.peer_addr().ok();
                    std::future::ready(Ok((crate::transport::HeadWatch::new(io, head_timeout), peer)))
                })
                .and_then(http)
            })?
            .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (in-flight requests get the shutdown timeout to finish).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
