//! Headless Chromium driven through chromedriver (WebDriver) with fantoccini: the driver process,
//! one browser per WebDriver session (each with its own profile directory, so two browsers share
//! no cookies), polling waits, WebAuthn's virtual authenticators, and the failure artefacts of a
//! step.

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a wait polls before it gives up.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

/// Whether the browser test can run here. Missing tools fail the test under CI (`CI=true`) and
/// skip it elsewhere, saying why.
pub fn tools_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let reason = format!(
        "{} not found; run `cargo xtask ci` or apt-get install chromium chromium-driver",
        missing.join(" and ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the browser test cannot run under CI: {reason}");
    }
    eprintln!("skipping: {reason}");
    false
}

/// The workspace's target directory: `CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
            dir.canonicalize().unwrap_or(dir)
        }
    }
}

/// Where failing steps leave a screenshot and the page's text: `target/e2e/`.
pub fn artefacts_dir() -> PathBuf {
    target_dir().join("e2e")
}

/// Removes the files an earlier run left in `target/e2e/` (a failed step's screenshot, text and
/// network logs), so what is there after a run is that run's.
pub fn clear_artefacts() {
    let Ok(entries) = std::fs::read_dir(artefacts_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Where the screenshots of the key views go for the docs: `target/e2e/screens/`.
pub fn screens_dir() -> PathBuf {
    artefacts_dir().join("screens")
}

/// The browser `name`'s network log (Chrome's NetLog JSON, complete once the browser has quit).
pub fn netlog(name: &str) -> PathBuf {
    artefacts_dir().join(format!("netlog-{}.json", slug(name)))
}

/// A chromedriver on a free local port, in its own process group: dropping it ends the driver and
/// every browser it started.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
    pub url: String,
}

impl Driver {
    pub async fn start() -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("picking a free port")?
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER}"))?;
        let driver = Self {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let status = format!("{}/status", driver.url);
        let started = Instant::now();
        loop {
            if let Ok(response) = client.get(&status).send().await
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return Ok(driver);
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not answer {status} within 20 s");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Asks chromedriver to quit (it closes its browsers first), and waits up to 5 s for it.
    fn shut_down(&mut self) -> bool {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let asked = TcpStream::connect_timeout(&address, Duration::from_secs(1))
            .and_then(|mut stream| {
                stream.set_write_timeout(Some(Duration::from_secs(1)))?;
                write!(
                    stream,
                    "GET /shutdown HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
                )
            })
            .is_ok();
        let started = Instant::now();
        while asked && started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(POLL);
        }
        false
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.shut_down() {
            return;
        }
        // The whole group: chromedriver and the browsers it started (the group's id is its pid).
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !killed {
            drop(self.child.kill());
        }
        drop(self.child.wait());
    }
}

/// Options of one browser.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// The browser's UI language and `Accept-Language` (`--lang` and `intl.accept_languages`).
    pub language: Option<&'static str>,
}

/// One headless Chromium (one WebDriver session, its own profile directory).
#[derive(Debug)]
pub struct Browser {
    pub name: &'static str,
    pub client: Client,
    driver: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(driver: &Driver, name: &'static str, options: Options) -> Result<Self> {
        let profile = tempfile::tempdir().context("browser profile dir")?;
        std::fs::create_dir_all(artefacts_dir()).context("creating target/e2e")?;
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1280,900".to_owned(),
            // No OS keyring (D-Bus) lookups for saved passwords.
            "--password-store=basic".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            // What the network did (requests, responses, auth challenges), for a failing step.
            format!("--log-net-log={}", netlog(name).display()),
        ];
        let mut chrome = json!({ "binary": CHROMIUM });
        if let Some(language) = options.language {
            args.push(format!("--lang={language}"));
            chrome["prefs"] = json!({ "intl.accept_languages": language });
        }
        chrome["args"] = json!(args);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        // The console, for the artefacts of a failing step.
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        capabilities.insert("goog:chromeOptions".into(), chrome);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .map_err(|e| anyhow!("starting browser {name}: {e}"))?;
        Ok(Self {
            name,
            client,
            driver: driver.url.clone(),
            _profile: profile,
        })
    }

    /// Ends the WebDriver session (and so the browser).
    pub async fn close(self) {
        drop(self.client.close().await);
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client
            .goto(url)
            .await
            .map_err(|e| anyhow!("{}: opening {url}: {e}", self.name))
    }

    pub async fn reload(&self) -> Result<()> {
        self.client
            .refresh()
            .await
            .map_err(|e| anyhow!("{}: reloading: {e}", self.name))
    }

    /// Runs `script` (a function body: `return ...`) with `args` (`arguments[i]`).
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute(script, args)
            .await
            .map_err(|e| anyhow!("{}: running script {script:?}: {e}", self.name))
    }

    /// Polls `script` until it returns something truthy (and returns that), for [`WAIT`].
    pub async fn wait_js(&self, what: &str, script: &str, args: Vec<Value>) -> Result<Value> {
        let started = Instant::now();
        loop {
            let last = match self.eval(script, args.clone()).await {
                Ok(value) if truthy(&value) => return Ok(value),
                Ok(value) => value,
                Err(e) => json!(e.to_string()),
            };
            if started.elapsed() > WAIT {
                bail!(
                    "{}: timed out after {WAIT:?} waiting for {what} (last: {last})",
                    self.name
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for `<body data-state="state">`.
    pub async fn wait_state(&self, state: &str) -> Result<()> {
        self.wait_js(
            &format!("body[data-state=\"{state}\"]"),
            "return document.body && document.body.dataset.state === arguments[0]",
            vec![json!(state)],
        )
        .await
        .map(drop)
    }

    /// Waits until `selector` matches a visible element, then returns it.
    pub async fn wait_visible(&self, selector: &str) -> Result<fantoccini::elements::Element> {
        self.wait_js(
            &format!("{selector} to be visible"),
            "const e = document.querySelector(arguments[0]); \
             return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0",
            vec![json!(selector)],
        )
        .await?;
        self.find(selector).await
    }

    pub async fn find(&self, selector: &str) -> Result<fantoccini::elements::Element> {
        self.client
            .find(Locator::Css(selector))
            .await
            .map_err(|e| anyhow!("{}: finding {selector}: {e}", self.name))
    }

    /// Replaces the value of the input `selector` by typing `text` into it.
    pub async fn fill(&self, selector: &str, text: &str) -> Result<()> {
        let element = self.wait_visible(selector).await?;
        element
            .clear()
            .await
            .map_err(|e| anyhow!("{}: clearing {selector}: {e}", self.name))?;
        element
            .send_keys(text)
            .await
            .map_err(|e| anyhow!("{}: typing into {selector}: {e}", self.name))
    }

    pub async fn click(&self, selector: &str) -> Result<()> {
        let element = self.wait_visible(selector).await?;
        element
            .click()
            .await
            .map_err(|e| anyhow!("{}: clicking {selector}: {e}", self.name))
    }

    /// The `textContent` of `selector`, trimmed ("" when absent).
    pub async fn text(&self, selector: &str) -> Result<String> {
        let value = self
            .eval(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : ''",
                vec![json!(selector)],
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The attribute `name` of `selector` (None when either is absent).
    pub async fn attr(&self, selector: &str, name: &str) -> Result<Option<String>> {
        let value = self
            .eval(
                "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null",
                vec![json!(selector), json!(name)],
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// How many elements match `selector`.
    pub async fn count(&self, selector: &str) -> Result<usize> {
        let value = self
            .eval(
                "return document.querySelectorAll(arguments[0]).length",
                vec![json!(selector)],
            )
            .await?;
        Ok(value.as_u64().unwrap_or_default() as usize)
    }

    /// Scrolls so that `selector` is in view (`block`: "start", "center"...), for a screenshot.
    pub async fn scroll_to(&self, selector: &str, block: &str) -> Result<()> {
        self.eval(
            "document.querySelector(arguments[0]).scrollIntoView({ block: arguments[1] })",
            vec![json!(selector), json!(block)],
        )
        .await
        .map(drop)
    }

    /// Resizes the window so that the viewport is `width` x `height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) -> Result<()> {
        let frame = self
            .eval(
                "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
                vec![],
            )
            .await?;
        let extra = |i: usize| frame[i].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        self.set_size(width + extra(0), height + extra(1)).await
    }

    pub async fn set_size(&self, width: u32, height: u32) -> Result<()> {
        self.client
            .set_window_size(width, height)
            .await
            .map_err(|e| anyhow!("{}: resizing to {width}x{height}: {e}", self.name))
    }

    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|e| anyhow!("{}: screenshot: {e}", self.name))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Saves a screenshot of the current view as `target/e2e/screens/<name>.png`.
    pub async fn save_screen(&self, name: &str) -> Result<()> {
        self.screenshot(&screens_dir().join(format!("{name}.png"))).await
    }

    /// The page's visible text (`document.body.innerText`).
    pub async fn body_text(&self) -> Result<String> {
        let value = self
            .eval("return document.body ? document.body.innerText : ''", vec![])
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }
}

impl Browser {
    /// The console messages since the last call (chromedriver's log endpoint, not W3C), one a line.
    pub async fn console(&self) -> Result<String> {
        let session = self
            .client
            .session_id()
            .await
            .map_err(|e| anyhow!("{}: session id: {e}", self.name))?
            .context("no session")?;
        let body: Value = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.driver))
            .json(&json!({ "type": "browser" }))
            .send()
            .await?
            .json()
            .await?;
        let lines: Vec<String> = body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                format!(
                    "{} {}",
                    entry["level"].as_str().unwrap_or("?"),
                    entry["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        Ok(lines.join("\n"))
    }
}

/// A command of the browser's WebDriver session that fantoccini has no method for,
/// `{method} /session/{id}/{path}`, sent through `Client::issue_cmd`: WebAuthn's virtual
/// authenticators (W3C WebAuthn, "WebDriver Extensions"; docs/research/webauthn-rs.md, section 5).
/// `reqwest`'s `Method` and `Url` are the `http` 1 and `url` 2 types fantoccini's trait names.
#[derive(Debug)]
struct SessionCmd {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCmd {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, <Url as std::str::FromStr>::Err> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        // chromedriver wants a JSON body on every POST: `{}` when there is nothing to say.
        let body = match (&self.body, &self.method) {
            (Some(body), _) => Some(body.to_string()),
            (None, method) if *method == Method::POST => Some("{}".to_owned()),
            (None, _) => None,
        };
        (self.method.clone(), body)
    }
}

impl Browser {
    async fn session_cmd(&self, method: Method, path: String, body: Option<Value>) -> Result<Value> {
        let what = format!("{method} {path}");
        self.client
            .issue_cmd(SessionCmd { method, path, body })
            .await
            .map_err(|e| anyhow!("{}: {what}: {e}", self.name))
    }

    /// Adds a virtual authenticator to the browser: a platform passkey provider (CTAP2, internal
    /// transport, resident keys, user verification present and passing) that answers the page's
    /// `navigator.credentials.create()` and `.get()` without any UI. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> Result<String> {
        let id = self
            .session_cmd(
                Method::POST,
                "webauthn/authenticator".to_owned(),
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserConsenting": true,
                    "isUserVerified": true,
                })),
            )
            .await?;
        id.as_str()
            .map(str::to_owned)
            .with_context(|| format!("{}: a virtual authenticator's id, not {id}", self.name))
    }

    /// The credentials a virtual authenticator holds (`credentialId`, `isResidentCredential`,
    /// `rpId`, `userHandle`, `signCount`…).
    pub async fn virtual_credentials(&self, authenticator: &str) -> Result<Vec<Value>> {
        let list = self
            .session_cmd(
                Method::GET,
                format!("webauthn/authenticator/{authenticator}/credentials"),
                None,
            )
            .await?;
        serde_json::from_value(list).with_context(|| format!("{}: the virtual credentials", self.name))
    }

    pub async fn remove_virtual_authenticator(&self, authenticator: &str) -> Result<()> {
        self.session_cmd(Method::DELETE, format!("webauthn/authenticator/{authenticator}"), None)
            .await
            .map(drop)
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `step-name` from "Step name".
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_owned()
}

/// Runs one step of the scenario. When it fails, the screenshot of `browser` goes to
/// `target/e2e/<step-name>.png` and its text to `target/e2e/<step-name>.txt`, then the test fails
/// naming the step.
pub async fn step(name: &str, browser: &Browser, body: impl Future<Output = Result<()>>) {
    let started = Instant::now();
    eprintln!("==> {name}");
    let Err(error) = body.await else {
        eprintln!("<== {name} ok ({:.1?})", started.elapsed());
        return;
    };
    let base = artefacts_dir().join(slug(name));
    let png = base.with_extension("png");
    let txt = base.with_extension("txt");
    let shot = match browser.screenshot(&png).await {
        Ok(()) => format!("screenshot of browser {}: {}", browser.name, png.display()),
        Err(e) => format!("no screenshot: {e:#}"),
    };
    let text = match browser.body_text().await {
        Ok(text) => match std::fs::write(&txt, &text) {
            Ok(()) => format!("page text: {}", txt.display()),
            Err(e) => format!("page text not saved ({e}):\n{text}"),
        },
        Err(e) => format!("no page text: {e:#}"),
    };
    let requests = match browser
        .eval(
            "return performance.getEntriesByType('resource')\
                .map(e => `${e.responseStatus ?? '?'} ${e.name} (${Math.round(e.duration)} ms)`).join('\\n')",
            vec![],
        )
        .await
    {
        Ok(list) => format!("requests of the page:\n{}", list.as_str().unwrap_or_default()),
        Err(e) => format!("no requests: {e:#}"),
    };
    let console = match browser.console().await {
        Ok(log) if log.is_empty() => "console: empty".to_owned(),
        Ok(log) => {
            let path = base.with_extension("console.txt");
            drop(std::fs::write(&path, &log));
            format!("console ({}):\n{log}", path.display())
        }
        Err(e) => format!("no console: {e:#}"),
    };
    let netlog = netlog(browser.name);
    panic!(
        "step '{name}' failed: {error:#}\n{shot}\n{text}\n{requests}\n{console}\nnetwork log (complete once the \
         browser has quit): {}",
        netlog.display()
    );
}
