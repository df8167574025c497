//! The security timeline, "this wasn't me" and the data export on the account page (issue 21), in
//! headless Chromium with two browsers signed in as the same user, each with its own User-Agent
//! (set through the DevTools protocol, so the timeline can tell them apart): a refused sign-in and
//! two sign-ins shown newest first with address and browser; the export downloaded from the page
//! and scanned for secrets; "This wasn't me" on the other browser's sign-in, confirmed on the page,
//! ending both sessions and an API token; the next sign-in held to a password change (the notice
//! and the password form alone, a reload included) until the password is changed; older pages of
//! the timeline; French. The API-level cases are in `tests/api/timeline.rs` and `wasnt_me.rs`. The
//! server runs on the test's manual clock, so the events' times differ.

use super::{USER, console_is_clean, expect_labelled, expect_lang, focused, sign_in, wait_status};
use crate::browser::{Browser, Driver, Options, step, tools_available};
use crate::helpers::{DEMO_PASSWORD, TestApp, spawn_app};
use accountd_domain::ids::Username;
use accountd_domain::ports::Store;
use anyhow::{Context, Result, anyhow, ensure};
use fantoccini::wd::WebDriverCompatibleCommand;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

/// The browsers' User-Agents: Chrome's, each with a mark of its own.
const AGENT_A: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
    Chrome/131.0.0.0 Safari/537.36 accountd-e2e/A";
const AGENT_B: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
    Chrome/131.0.0.0 Safari/537.36 accountd-e2e/B";
/// The password chosen after the report.
const FRESH_PASSWORD: &str = "Fresh-Passw0rd!7";
/// Events per page of the page's timeline (`EVENTS_PAGE` in account.js).
const PAGE: usize = 20;
const EXPORT: &str = "/api/v1/session/export/";
const PRINCIPAL: &str = "/api/v1/User/currentPrincipal";
const HELD: &str = "urn:accountd:problem:password-change-required";

/// One event of `#timeline-list` as the page shows it (JSON: id, action, outcome, label, badge,
/// agent, at, text).
const EVENTS_JS: &str = "return [...document.querySelectorAll('#timeline-list > li')].map(li => ({ \
    id: Number(li.dataset.eventId), action: li.dataset.action, outcome: li.dataset.outcome, \
    label: li.querySelector('.event-action').textContent.trim(), \
    badge: (li.querySelector('.event-outcome') || {}).textContent || null, \
    agent: (li.querySelector('.event-agent') || {}).title || null, \
    at: (li.querySelector('time') || {}).dateTime || null, \
    button: li.querySelector('button.event-report').textContent.trim(), \
    text: li.innerText }))";

#[actix_web::test]
async fn timeline_and_this_wasnt_me_end_to_end() {
    if !tools_available() {
        return;
    }
    let app = spawn_app().await;
    let page = app.url("/account/");
    let driver = Driver::start().await.expect("chromedriver");
    let a = Browser::start(&driver, "timeline A", Options::default())
        .await
        .expect("browser timeline A");
    let b = Browser::start(&driver, "timeline B", Options::default())
        .await
        .expect("browser timeline B");
    set_user_agent(&a, AGENT_A).await.expect("A's User-Agent");
    set_user_agent(&b, AGENT_B).await.expect("B's User-Agent");

    step("a refused sign-in, then two sign-ins, newest first", &a, async {
        b.goto(&page).await?;
        b.wait_state("signed-out").await?;
        b.fill("#signin-username", USER).await?;
        b.fill("#signin-password", "Wrong-Passw0rd!").await?;
        b.click("#signin-submit").await?;
        b.wait_js(
            "#signin-error to say the password is wrong",
            "return document.getElementById('signin-error').textContent.trim()",
            vec![],
        )
        .await?;
        app.clock.advance_seconds(1);
        a.goto(&page).await?;
        sign_in(&a, USER, DEMO_PASSWORD).await?;
        app.clock.advance_seconds(1);
        sign_in(&b, USER, DEMO_PASSWORD).await?;
        a.reload().await?;
        a.wait_state("signed-in").await?;
        let events = wait_events(&a, "B's sign-in on top", |events| {
            events.first().is_some_and(|e| e["agent"] == AGENT_B)
        })
        .await?;
        let top: Vec<(&str, &str, &str)> = events
            .iter()
            .take(3)
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default(),
                    e["outcome"].as_str().unwrap_or_default(),
                    e["agent"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        ensure!(
            top == [
                ("login", "success", AGENT_B),
                ("login", "success", AGENT_A),
                ("login", "denied", AGENT_B)
            ],
            "the newest events: {top:?}"
        );
        for e in &events[..3] {
            let text = e["text"].as_str().unwrap_or_default();
            ensure!(
                e["label"] == "Sign-in" && text.contains("127.0.0.1") && e["button"] == "This wasn't me",
                "an event says {e}"
            );
        }
        ensure!(
            events[0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Chrome 131 on Windows"))
                && events[1]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("Chrome 131 on Linux")),
            "the browsers, for people: {} / {}",
            events[0]["text"],
            events[1]["text"]
        );
        // Only the refusal is marked, visibly.
        ensure!(
            events[0]["badge"].is_null() && events[1]["badge"].is_null() && events[2]["badge"] == "Refused",
            "the outcome badges: {} {} {}",
            events[0]["badge"],
            events[1]["badge"],
            events[2]["badge"]
        );
        let times: Vec<&str> = events[..3]
            .iter()
            .map(|e| e["at"].as_str().unwrap_or_default())
            .collect();
        ensure!(times[0] > times[1] && times[1] > times[2], "the times: {times:?}");
        expect_labelled(&a).await?;
        a.scroll_to("#timeline-section", "start").await?;
        a.save_screen("timeline").await
    })
    .await;

    step("download my data", &a, async {
        let button = a.wait_visible("#export-download").await?;
        let tag = button.tag_name().await.map_err(|e| anyhow!("{e}"))?;
        let name = a.text("#export-download").await?;
        ensure!(
            tag == "button" && name == "Download my data",
            "the export's control: <{tag}> {name:?}"
        );
        let described = a.attr("#export-download", "aria-describedby").await?;
        ensure!(
            described.as_deref() == Some("export-intro"),
            "#export-download is described by {described:?}"
        );
        // The browser saves the file where the test reads it.
        let downloads = tempfile::tempdir()?;
        allow_downloads(&a, downloads.path()).await?;
        a.click("#export-download").await?;
        let status = wait_status(&a, "#export-section", "#export-status").await?;
        ensure!(
            status == "Your data was downloaded (accountd-export.json).",
            "#export-status says {status:?}"
        );
        let text = downloaded(&downloads.path().join("accountd-export.json")).await?;
        let data: Value = serde_json::from_str(&text).context("the file is JSON")?;
        ensure!(
            data["profile"]["apio"]["username"] == USER,
            "the export's profile: {}",
            data["profile"]
        );

        // The same from the page's own fetch: an attachment.
        let fetched = a
            .eval(
                "return fetch(arguments[0]).then(async r => ({ status: r.status, \
                    disposition: r.headers.get('content-disposition'), text: await r.text() }))",
                vec![json!(EXPORT)],
            )
            .await?;
        ensure!(
            fetched["status"] == 200
                && fetched["disposition"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("attachment") && d.contains("accountd-export.json")),
            "GET {EXPORT}: {} {}",
            fetched["status"],
            fetched["disposition"]
        );

        // No secret in either.
        let session = a
            .client
            .get_named_cookie("sessionid")
            .await
            .map_err(|e| anyhow!("the session cookie: {e}"))?
            .value()
            .to_owned();
        let hash = password_hash(&app);
        let secrets = [
            ("the password", DEMO_PASSWORD),
            ("the PIN", accountd_service::demo::DEMO_PIN),
            ("the session cookie", session.as_str()),
            ("the password hash", hash.as_str()),
        ];
        for document in [text.as_str(), fetched["text"].as_str().unwrap_or_default()] {
            for (what, secret) in secrets {
                ensure!(
                    !secret.is_empty() && !document.contains(secret),
                    "the export holds {what}"
                );
            }
        }
        // The export is in the timeline.
        wait_events(&a, "the export on top", |events| {
            events.first().is_some_and(|e| e["action"] == "data_export")
        })
        .await?;
        Ok(())
    })
    .await;

    let mut token = String::new();
    step("an API token from the page", &a, async {
        a.fill("#token-name", "script").await?;
        a.click("#token-create").await?;
        let secret = a
            .wait_js(
                "a new token in #token-secret",
                "const box = document.getElementById('token-new'); \
                 const input = document.getElementById('token-secret'); \
                 return !box.hidden && input.value.length > 30 ? input.value : ''",
                vec![],
            )
            .await?;
        token = secret.as_str().unwrap_or_default().to_owned();
        a.click("#token-done").await?;
        let works = bearer(&app, &token).await?;
        ensure!(works == StatusCode::OK, "GET {PRINCIPAL} with the token: {works}");
        Ok(())
    })
    .await;

    step("this wasn't me", &a, async {
        a.reload().await?;
        a.wait_state("signed-in").await?;
        let events = wait_events(&a, "B's sign-in", |events| {
            events
                .iter()
                .any(|e| e["action"] == "login" && e["outcome"] == "success" && e["agent"] == AGENT_B)
        })
        .await?;
        let id = events
            .iter()
            .find(|e| e["action"] == "login" && e["outcome"] == "success" && e["agent"] == AGENT_B)
            .and_then(|e| e["id"].as_i64())
            .context("B's sign-in")?;
        let report = format!("#timeline-list li[data-event-id=\"{id}\"] button.event-report");
        let label = a.attr(&report, "aria-label").await?.unwrap_or_default();
        ensure!(
            label.starts_with("This wasn't me: Sign-in, "),
            "the button is labelled {label:?}"
        );
        // It asks first, on the page, saying what happens; Cancel changes nothing.
        a.click(&report).await?;
        a.wait_visible("#report-confirm").await?;
        ensure!(
            focused(&a).await? == "report-confirm",
            "the focus is not on the confirmation"
        );
        let expanded = a.attr(&report, "aria-expanded").await?;
        ensure!(expanded.as_deref() == Some("true"), "aria-expanded is {expanded:?}");
        let question = a.text("#report-question").await?;
        ensure!(
            question.contains("ends every session, this one included")
                && question.contains("every API token")
                && question.contains("change your password at your next sign-in"),
            "#report-question says {question:?}"
        );
        a.click("#report-cancel").await?;
        ensure!(
            a.count("#report-box").await? == 0,
            "the confirmation stays after Cancel"
        );
        ensure!(
            focused(&a).await?.is_empty() && a.count(&format!("{report}:focus")).await? == 1,
            "the focus did not go back to the button"
        );
        a.wait_state("signed-in").await?;
        a.click(&report).await?;
        a.scroll_to("#report-box", "center").await?;
        a.save_screen("this-wasnt-me").await?;
        a.click("#report-confirm").await?;
        a.wait_state("signed-out").await?;
        let status = a
            .wait_js(
                "#signin-status to say what happened",
                "return document.getElementById('signin-status').textContent.trim()",
                vec![],
            )
            .await?;
        ensure!(
            status
                == "Reported. Ended 2 sessions (this one too) and revoked 1 API token. When you sign in again, \
                    you will have to change your password first.",
            "#signin-status says {status}"
        );
        a.save_screen("reported").await?;
        // The other browser's session ended, and the token.
        b.reload().await?;
        b.wait_state("signed-out").await?;
        let refused = bearer(&app, &token).await?;
        ensure!(
            refused == StatusCode::UNAUTHORIZED,
            "GET {PRINCIPAL} with the token after the report: {refused}"
        );
        Ok(())
    })
    .await;

    step("the next sign-in may only change the password", &a, async {
        a.fill("#signin-username", USER).await?;
        a.fill("#signin-password", DEMO_PASSWORD).await?;
        a.click("#signin-submit").await?;
        a.wait_state("password-change").await?;
        expect_held(&a).await?;
        ensure!(
            focused(&a).await? == "password-required",
            "the focus is not on the notice"
        );
        // Nothing else is offered, nor answered.
        let profile = a
            .eval(
                "return fetch('/api/v1/session/profile/').then(async r => [r.status, (await r.json()).type])",
                vec![],
            )
            .await?;
        ensure!(profile == json!([403, HELD]), "GET profile from the page: {profile}");
        a.save_screen("password-change-required").await?;
        // Reloaded, the page is held the same.
        a.reload().await?;
        a.wait_state("password-change").await?;
        expect_held(&a).await?;
        expect_labelled(&a).await?;

        a.fill("#password-old", DEMO_PASSWORD).await?;
        a.fill("#password-new", FRESH_PASSWORD).await?;
        a.fill("#password-confirm", FRESH_PASSWORD).await?;
        a.wait_js(
            "the password rules to pass",
            "const lis = [...document.querySelectorAll('#password-rules li')]; \
             return lis.length > 0 && !lis.some(li => li.dataset.state === 'fail') \
                && lis.some(li => li.dataset.code === 'password_too_short' && li.dataset.state === 'pass')",
            vec![],
        )
        .await?;
        a.click("#password-submit").await?;
        a.wait_state("signed-in").await?;
        let status = wait_status(&a, "#password-form", "#password-status").await?;
        ensure!(status.contains("changed"), "#password-status says {status:?}");
        a.wait_visible("#profile-form").await?;
        a.wait_visible("#tokens-section").await?;
        ensure!(
            a.attr("#password-required", "hidden").await?.is_some(),
            "the notice stays after the change"
        );
        let events = wait_events(&a, "the report in the timeline", |events| {
            events.iter().any(|e| e["action"] == "compromise_report")
        })
        .await?;
        let report = events
            .iter()
            .find(|e| e["action"] == "compromise_report")
            .context("the report")?;
        ensure!(
            report["label"] == "Reported: this wasn't me" && report["outcome"] == "success",
            "the report says {report}"
        );
        let whoami = a.text("#whoami").await?;
        ensure!(whoami == USER, "#whoami says {whoami:?}");
        Ok(())
    })
    .await;

    step("older events", &a, async {
        // More than a page: profile changes over HTTP Basic, as many as it takes.
        let total = all_events(&a).await?;
        eprintln!("{total} events in foouser's timeline");
        for i in 0..(PAGE + 1).saturating_sub(total) {
            let name = if i % 2 == 0 { "Tess" } else { "Test" };
            let changed = app
                .fresh_client()
                .put(app.url("/api/v1/session/profile/"))
                .basic_auth(USER, Some(FRESH_PASSWORD))
                .json(&json!({"firstName": name}))
                .send()
                .await?;
            ensure!(changed.status() == StatusCode::OK, "PUT profile: {}", changed.status());
        }
        let total = all_events(&a).await?;
        ensure!(total > PAGE, "only {total} events");
        a.reload().await?;
        a.wait_state("signed-in").await?;
        let first = wait_events(&a, "a whole page", |events| events.len() == PAGE).await?;
        a.click("#timeline-more").await?;
        let all = wait_events(&a, "the next page", |events| events.len() > PAGE).await?;
        ensure!(
            all.len() == total.min(2 * PAGE),
            "{} events after one more page, of {total}",
            all.len()
        );
        ensure!(all[..PAGE] == first[..], "the first page changed");
        let ids: Vec<i64> = all.iter().filter_map(|e| e["id"].as_i64()).collect();
        ensure!(
            ids.windows(2).all(|w| w[0] > w[1]),
            "not newest first, or twice: {ids:?}"
        );
        let more_hidden = a.attr("#timeline-more", "hidden").await?.is_some();
        ensure!(
            more_hidden == (total <= 2 * PAGE),
            "\"Load older events\" hidden: {more_hidden}, with {total} events"
        );
        let focus = a
            .eval(
                "const li = document.activeElement; return li && li.dataset ? Number(li.dataset.eventId) : null",
                vec![],
            )
            .await?;
        ensure!(
            focus == json!(ids[PAGE]),
            "the focus is on {focus}, not the first older event"
        );
        Ok(())
    })
    .await;

    step("in French", &a, async {
        a.find("#lang-select")
            .await?
            .select_by_value("fr")
            .await
            .map_err(|e| anyhow!("choosing French: {e}"))?;
        expect_lang(&a, "fr").await?;
        let title = a.text("#timeline-title").await?;
        ensure!(title == "Historique de sécurité", "#timeline-title says {title:?}");
        let events = wait_events(&a, "the timeline in French", |events| {
            events.first().is_some_and(|e| e["button"] == "Ce n'était pas moi")
        })
        .await?;
        let report = events
            .iter()
            .find(|e| e["action"] == "compromise_report")
            .context("the report")?;
        ensure!(
            report["label"] == "Signalement\u{a0}: ce n'était pas moi",
            "the report in French: {}",
            report["label"]
        );
        let login = events.iter().find(|e| e["action"] == "login").context("a sign-in")?;
        ensure!(login["label"] == "Connexion", "a sign-in in French: {}", login["label"]);
        let export = a.text("#export-download").await?;
        ensure!(export == "Télécharger mes données", "#export-download says {export:?}");
        expect_labelled(&a).await?;
        a.scroll_to("#timeline-section", "start").await?;
        a.save_screen("timeline-french").await
    })
    .await;

    for browser in [&a, &b] {
        step(
            "no script error or policy violation",
            browser,
            console_is_clean(browser),
        )
        .await;
    }
    for browser in [a, b] {
        browser.close().await;
    }
    drop(driver);
}

/// A DevTools command through chromedriver (`POST /session/{id}/goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, <Url as std::str::FromStr>::Err> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

/// Makes `browser` send `agent` as its User-Agent (pages' requests and `navigator.userAgent`).
async fn set_user_agent(browser: &Browser, agent: &str) -> Result<()> {
    browser
        .client
        .issue_cmd(Cdp {
            cmd: "Network.setUserAgentOverride",
            params: json!({ "userAgent": agent }),
        })
        .await
        .map(drop)
        .map_err(|e| anyhow!("{}: setting the User-Agent: {e}", browser.name))
}

/// Makes `browser` save downloads in `dir`, without asking.
async fn allow_downloads(browser: &Browser, dir: &std::path::Path) -> Result<()> {
    browser
        .client
        .issue_cmd(Cdp {
            cmd: "Browser.setDownloadBehavior",
            params: json!({ "behavior": "allow", "downloadPath": dir.display().to_string() }),
        })
        .await
        .map(drop)
        .map_err(|e| anyhow!("{}: allowing downloads: {e}", browser.name))
}

/// The text of the file at `path` once the browser has saved it whole.
async fn downloaded(path: &std::path::Path) -> Result<String> {
    let started = std::time::Instant::now();
    loop {
        let partial = path.with_extension("json.crdownload");
        if let Ok(text) = std::fs::read_to_string(path)
            && !partial.exists()
            && !text.is_empty()
        {
            return Ok(text);
        }
        ensure!(
            started.elapsed() < crate::browser::WAIT,
            "no file at {} after {:?}",
            path.display(),
            crate::browser::WAIT
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until the events of `#timeline-list` (see [`EVENTS_JS`]) satisfy `ready`; returns them.
async fn wait_events(browser: &Browser, what: &str, ready: impl Fn(&[Value]) -> bool) -> Result<Vec<Value>> {
    let started = std::time::Instant::now();
    loop {
        let events = browser.eval(EVENTS_JS, vec![]).await?;
        let events = events.as_array().cloned().unwrap_or_default();
        if ready(&events) {
            return Ok(events);
        }
        ensure!(
            started.elapsed() < crate::browser::WAIT,
            "{}: timed out waiting for {what} in #timeline-list: {events:#?}",
            browser.name
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// How many events the user's timeline holds, read from the page's origin.
async fn all_events(browser: &Browser) -> Result<usize> {
    let n = browser
        .eval(
            "return fetch('/api/v1/session/events/?limit=200').then(r => r.json()).then(d => d.events.length)",
            vec![],
        )
        .await?;
    n.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .with_context(|| format!("the number of events, not {n}"))
}

/// The held view: the notice and the password form (and sign out), nothing else.
async fn expect_held(browser: &Browser) -> Result<()> {
    browser.wait_visible("#password-required").await?;
    browser.wait_visible("#password-form").await?;
    browser.wait_visible("#signout").await?;
    let notice = browser.text("#password-required").await?;
    ensure!(
        notice == "Someone may have used your account: change your password to continue.",
        "#password-required says {notice:?}"
    );
    let shown = browser
        .eval(
            "return [...document.querySelectorAll('#account > section')] \
                .filter(s => s.getClientRects().length > 0).map(s => s.id)",
            vec![],
        )
        .await?;
    ensure!(shown == json!(["password-section"]), "sections shown: {shown}");
    let whoami = browser.text("#whoami").await?;
    ensure!(whoami == USER, "#whoami says {whoami:?}");
    Ok(())
}

/// `GET currentPrincipal` with `Authorization: Bearer token`, without cookies.
async fn bearer(app: &TestApp, token: &str) -> Result<StatusCode> {
    let response = app
        .fresh_client()
        .get(app.url(PRINCIPAL))
        .bearer_auth(token)
        .send()
        .await?;
    Ok(response.status())
}

/// foouser's stored password hash.
fn password_hash(app: &TestApp) -> String {
    let username = Username::parse(USER).unwrap();
    let key = app
        .db
        .read(|r| r.user_by_username(&username))
        .unwrap()
        .expect("foouser")
        .key;
    let password = app.db.read(|r| r.password(key)).unwrap().expect("a password");
    password.hash.as_str().to_owned()
}
