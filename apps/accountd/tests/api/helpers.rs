//! `spawn_app`: the real server on 127.0.0.1:0 over a fresh SQLite file with the demo data, a manual
//! clock and an in-memory Application Server, plus request helpers.

use accountd::config::AppConfig;
use accountd::{demo, startup};
use accountd_domain::ids::{GroupId, TenantId, UserId, Username};
use accountd_domain::level::{GroupMember, Role};
use accountd_domain::ports::{Clock, ManualClock, Store, SystemClock};
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_domain::secret::Password;
use accountd_domain::text::{Name, Text};
use accountd_domain::user::{
    AccountState, AccountType, DepartmentKey, NewProfile, NewUser, Profile, ProfileChange, User,
};
use accountd_policy::mode::LoginMode;
use accountd_service::RequestContext;
use accountd_service::hasher::Hasher;
use accountd_service::profile::Actor;
use accountd_service::random::OsRandom;
use accountd_service::{ServiceError, Services};
use accountd_storage::{Database, PoolOptions};
use accountd_upstream::InMemoryUpstream;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;
use std::sync::Arc;

pub const DEMO_PASSWORD: &str = "Demo-Passw0rd!";
pub const GROUP_ADMIN: &str = "PieGroupAdmin1@sip.netaxis.be";

pub struct TestApp {
    pub config: AppConfig,
    pub address: String,
    pub client: Client,
    pub clock: Arc<ManualClock>,
    /// The server's hasher (clones share its counters: `hasher.verifications()`).
    pub hasher: Hasher,
    pub upstream: Arc<InMemoryUpstream>,
    pub db: Database,
    pub handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server without waiting; the runtime goes with the test.
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}

/// Options of one test server.
pub struct Spawn {
    pub mode: LoginMode,
    pub configure: Box<dyn FnOnce(&mut AppConfig)>,
    /// Serve with the Application Server adapter the configuration names (`upstream.kind = "http"`:
    /// the guarded HTTP adapter, on the test's manual clock) instead of the in-memory one. The demo
    /// data is loaded through the in-memory one either way; `TestApp::upstream` stays that one.
    pub upstream_from_config: bool,
}

impl Default for Spawn {
    fn default() -> Self {
        Self {
            mode: LoginMode::LocalLoginShared,
            configure: Box::new(|_| {}),
            upstream_from_config: false,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Spawn::default()).await
}

/// `security.keys` of the test servers that must not generate a key file (PostgreSQL, which
/// refuses to start without one, and [`keyed_config`]): 32 bytes of 7.
pub const TEST_KEY: &str = "test:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// The default configuration with [`TEST_KEY`]: services built from it seal with that key instead
/// of generating a key file beside the default `./accountd.db`.
pub fn keyed_config() -> AppConfig {
    let mut config = AppConfig::default();
    config.security.keys = vec![TEST_KEY.to_owned()];
    config
}

/// A test server like [`spawn_app`]'s on a PostgreSQL schema of its own, which lives as long as the
/// returned guard. `None` (with the reason printed) when PostgreSQL can't be reached, except under
/// `CI=true`, where that fails.
pub async fn spawn_on_postgres() -> Option<(TestApp, accountd_storage::testing::TestSchema)> {
    let schema = match accountd_storage::testing::TestSchema::create() {
        Ok(schema) => schema,
        Err(reason) => return accountd_storage::testing::postgres_unavailable(reason),
    };
    let url = schema.url().to_owned();
    let app = spawn_with(Spawn {
        configure: Box::new(move |c| {
            c.database.url = url;
            c.security.keys = vec![TEST_KEY.to_owned()];
        }),
        ..Spawn::default()
    })
    .await;
    Some((app, schema))
}

pub async fn spawn_with(options: Spawn) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = AppConfig::default();
    config.server.bind = "127.0.0.1:0".into();
    config.server.workers = 2;
    config.database.url = format!("sqlite://{}", dir.path().join("accountd.db").display());
    config.apio.login_mode = options.mode;
    // Refused logins answer at once here (the floor has a test of its own in throttling.rs).
    config.throttle.failure_floor_ms = 0;
    (options.configure)(&mut config);

    let DemoServices {
        db,
        clock,
        upstream,
        hasher,
        services,
    } = demo_services(&config);
    let services = if options.upstream_from_config {
        let mut services = Services::new(
            db.clone(),
            startup::upstream_with(&config, clock.clone()).expect("upstream from the configuration"),
            clock.clone(),
            Arc::new(OsRandom),
            hasher.clone(),
            config.service_config(),
        )
        .expect("services");
        startup::configure_adapters(&mut services, &config).expect("keys and passkeys");
        services
    } else {
        services
    };
    let app = startup::Application::build(&config, services).expect("server");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let client = Client::builder().cookie_store(true).build().expect("client");
    TestApp {
        config,
        address,
        client,
        clock,
        hasher,
        upstream,
        db,
        handle,
        _dir: dir,
    }
}

/// A second server beside `app`: the same configuration and database (a second instance, as
/// behind a load balancer), the same clock, its own process state (caches, hasher) and an empty
/// in-memory Application Server. Its demo data is `app`'s.
pub async fn beside(app: &TestApp) -> TestApp {
    let config = app.config.clone();
    let db = Database::open(&config.database.url, &PoolOptions::default()).expect("database");
    let upstream = Arc::new(InMemoryUpstream::new());
    let hasher = Hasher::new(config.hashing, 2);
    let mut services = Services::new(
        db.clone(),
        upstream.clone(),
        app.clock.clone(),
        Arc::new(OsRandom),
        hasher.clone(),
        config.service_config(),
    )
    .expect("services");
    startup::configure_adapters(&mut services, &config).expect("keys and passkeys");
    let server = startup::Application::build(&config, services).expect("server");
    let address = format!("http://127.0.0.1:{}", server.port());
    let handle = server.handle();
    actix_web::rt::spawn(server.run_until_stopped());
    TestApp {
        config,
        address,
        client: Client::builder().cookie_store(true).build().expect("client"),
        clock: app.clock.clone(),
        hasher,
        upstream,
        db,
        handle,
        _dir: tempfile::tempdir().expect("temp dir"),
    }
}

/// The use cases of a test server before it is served: over the database `config` names, loaded
/// with the demo data, on a manual clock and an in-memory Application Server that knows the demo
/// users (its calls cleared).
pub struct DemoServices {
    pub db: Database,
    pub clock: Arc<ManualClock>,
    pub upstream: Arc<InMemoryUpstream>,
    pub hasher: Hasher,
    pub services: Services<Database>,
}

pub fn demo_services(config: &AppConfig) -> DemoServices {
    let db = Database::open(&config.database.url, &PoolOptions::default()).expect("database");
    let clock = Arc::new(ManualClock::at(SystemClock.now()));
    let upstream = Arc::new(InMemoryUpstream::new());
    for user in ["admin", GROUP_ADMIN, "foouser", "jbloggs"] {
        upstream.add_user(user, DEMO_PASSWORD);
    }
    let hasher = Hasher::new(config.hashing, 2);
    let mut services = Services::new(
        db.clone(),
        upstream.clone(),
        clock.clone(),
        Arc::new(OsRandom),
        hasher.clone(),
        config.service_config(),
    )
    .expect("services");
    startup::configure_adapters(&mut services, config).expect("keys and passkeys");
    demo::load(&services).expect("demo data");
    upstream.clear_calls();
    DemoServices {
        db,
        clock,
        upstream,
        hasher,
        services,
    }
}

impl TestApp {
    /// Use cases over the same database, clock and Application Server, to set up data as the
    /// operator would.
    pub fn operator(&self) -> Services<Database> {
        let mut services = Services::new(
            self.db.clone(),
            self.upstream.clone(),
            self.clock.clone(),
            Arc::new(OsRandom),
            Hasher::new(self.config.hashing, 2),
            self.config.service_config(),
        )
        .expect("services");
        startup::configure_adapters(&mut services, &self.config).expect("keys and passkeys");
        services
    }

    /// Creates a user as the operator (password [`DEMO_PASSWORD`], not a first login).
    pub fn add_user(&self, username: &str, role: Role, department: Option<DepartmentKey>) -> User {
        let user = NewUser {
            uuid: uuid::Uuid::new_v4(),
            username: Username::parse(username).unwrap(),
            role,
            profile: NewProfile {
                profile: Profile::named(
                    Name::parse_for("f", "First").unwrap(),
                    Name::parse_for("l", "Last").unwrap(),
                ),
                department,
            },
            enabled: true,
            state: AccountState::Approved,
            account_type: AccountType::Internal,
        };
        self.operator()
            .create_user(
                Actor::Operator,
                &user,
                &Password::new(DEMO_PASSWORD).unwrap(),
                &RequestContext::default(),
            )
            .expect("user created")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A client without cookies (a second browser).
    pub fn fresh_client(&self) -> Client {
        Client::builder().cookie_store(true).build().expect("client")
    }

    pub async fn login_with(&self, client: &Client, username: &str, password: &str) -> Response {
        client
            .post(self.url("/api/v1/login/"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.login_with(&self.client, username, password).await
    }

    /// Logs in and returns the XSRF token to echo.
    pub async fn login_ok(&self, client: &Client, username: &str) -> String {
        let response = self.login_with(client, username, DEMO_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        cookie(&response, "XSRF-TOKEN").expect("XSRF-TOKEN cookie")
    }

    pub async fn get_info(&self, client: &Client) -> Response {
        client
            .get(self.url("/api/v1/session/user_login_info/"))
            .send()
            .await
            .expect("request")
    }

    pub async fn put_info(&self, client: &Client, xsrf: Option<&str>, body: &Value) -> Response {
        let mut request = client.put(self.url("/api/v1/session/user_login_info/")).json(body);
        if let Some(x) = xsrf {
            request = request.header("X-XSRF-TOKEN", x);
        }
        request.send().await.expect("request")
    }
}

/// The value of a cookie set by `response`.
pub fn cookie(response: &Response, name: &str) -> Option<String> {
    response
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Every `Set-Cookie` header of `response` for `name`, as sent.
pub fn set_cookie_header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Reads a problem+json body, checking its media type.
pub async fn problem(response: Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "problem media type");
    let body: Value = response.json().await.expect("problem body");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:accountd:problem:")),
        "{body}"
    );
    assert!(body["details"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

pub fn member(tenant: &str, group: &str, user: &str) -> GroupMember {
    GroupMember {
        tenant: TenantId::parse(tenant).unwrap(),
        group: GroupId::parse(group).unwrap(),
        user: UserId::parse(user).unwrap(),
    }
}

/// `/api/v1/tenants/{t}/groups/{g}/users/{u}/`.
pub fn user_path(tenant: &str, group: &str, user: &str) -> String {
    format!("/api/v1/tenants/{tenant}/groups/{group}/users/{user}/")
}

/// Renames the caller of `app.client`'s session through seed 000's PUT.
pub async fn rename(app: &TestApp, xsrf: &str, first_name: &str) -> Response {
    app.put_info(&app.client, Some(xsrf), &serde_json::json!({"first_name": first_name}))
        .await
}

/// The first name seed 000's GET shows for the caller of `app.client`'s session.
pub async fn stored_first_name(app: &TestApp) -> String {
    let body: Value = app.get_info(&app.client).await.json().await.unwrap();
    body["profile"]["first_name"].as_str().unwrap().to_owned()
}

/// `/readyz`'s body; it must answer 200 (faults elsewhere keep the instance ready).
pub async fn readyz(app: &TestApp) -> Value {
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the instance stays ready");
    response.json().await.unwrap()
}

/// The value of an unlabelled metric in `/metrics`.
pub async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// Once the next Application Server call has started (the test slowed it down), changes
/// `username`'s description straight in the store, around every claim: the change under way then
/// finds another version when it writes locally, after the AS accepted. Waits for the call rather
/// than a fixed time, so a slow machine does not make the touch land before the change read.
pub async fn touch_during_the_call(app: &TestApp, username: &str) {
    let before = app.upstream.calls().len();
    let started = std::time::Instant::now();
    while app.upstream.calls().len() == before {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no AS call started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (db, clock, username) = (app.db.clone(), app.clock.clone(), Username::parse(username).unwrap());
    actix_web::web::block(move || {
        db.write(|repo| {
            let user = repo.user_by_username(&username)?.unwrap();
            let touch = ProfileChange {
                description: Some(Text::parse_for("description", "touched").unwrap()),
                ..ProfileChange::default()
            };
            repo.update_profile(user.key, None, &touch, clock.now())
                .map_err(ServiceError::from)
        })
    })
    .await
    .unwrap()
    .unwrap();
}

/// The first name the (in-memory) Application Server holds last for `username`: its last accepted
/// profile change naming one.
pub fn upstream_first_name(app: &TestApp, username: &str) -> Option<String> {
    app.upstream
        .profile_changes_of(username)
        .iter()
        .rev()
        .find_map(|c| c.first_name.as_ref().map(|n| n.to_string()))
}

/// A signed-in browser: its cookie jar and the XSRF token it echoes on unsafe methods.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub client: Client,
    pub xsrf: String,
}

impl<'a> Browser<'a> {
    pub async fn sign_in(app: &'a TestApp, username: &str) -> Self {
        let client = app.fresh_client();
        let xsrf = app.login_ok(&client, username).await;
        Self { app, client, xsrf }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.app.url(path))
            .header("X-XSRF-TOKEN", &self.xsrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    /// `GET path`, expecting 200 and JSON.
    pub async fn get(&self, path: &str) -> Value {
        json_of(self.send(Method::GET, path, None).await).await
    }
}

/// A browser (cookies kept) that says it is `agent`.
pub fn browser_named(agent: &str) -> Client {
    Client::builder()
        .cookie_store(true)
        .user_agent(agent)
        .build()
        .expect("client")
}

pub async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON body")
}

/// The user's audit events as `(action, outcome, fields)`.
pub fn audit_of(app: &TestApp, username: &str) -> Vec<(AuditAction, AuditOutcome, Vec<String>)> {
    let name = Username::parse(username).expect("username");
    let key = app
        .db
        .read(|r| r.user_by_username(&name))
        .expect("read")
        .expect("user")
        .key;
    app.db
        .read(|r| r.recent_audit(Some(key), 100))
        .expect("audit")
        .into_iter()
        .map(|e| (e.action, e.outcome, e.fields))
        .collect()
}
