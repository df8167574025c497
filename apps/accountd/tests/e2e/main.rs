//! The account page (/account/) end to end in headless Chromium: two independent browsers against
//! one in-process server (tests/api's `spawn_app`), step by step. Needs /usr/bin/chromium and
//! /usr/bin/chromedriver (`cargo xtask ci` installs them); without them the test is skipped, or
//! fails under CI. A failing step leaves `target/e2e/<step>.png` and `.txt`; a passing run leaves
//! the docs' screenshots in `target/e2e/screens/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod credentials;
mod email_change;
mod factors;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod passkeys;
mod reset;
#[path = "../common/smtp_sink.rs"]
mod smtp_sink;
mod timeline;

use anyhow::{Context, Result, anyhow, bail, ensure};
use browser::{Browser, Driver, Options, step, tools_available};
use helpers::{DEMO_PASSWORD, TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const USER: &str = "foouser";
const NEW_PASSWORD: &str = "Quartz-Lantern-93!x";
const FIRST_NAME: &str = "Frieda";
const LAST_NAME: &str = "Lindqvist";
const NEW_PIN: &str = "583920";

/// `[...]` of the ids of inputs, selects and textareas that no label names.
const UNLABELLED: &str = "return [...document.querySelectorAll('input,select,textarea')]\
    .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id || e.name || e.outerHTML)";

#[actix_web::test]
async fn account_page_end_to_end() {
    if !tools_available() {
        return;
    }
    browser::clear_artefacts();
    let app = spawn_app().await;
    let page = app.url("/account/");
    let driver = Driver::start().await.expect("chromedriver");
    let a = Browser::start(&driver, "A", Options::default())
        .await
        .expect("browser A");

    step("page headers", &a, async {
        let response = app.fresh_client().get(&page).send().await?;
        ensure!(
            response.status() == StatusCode::OK,
            "GET /account/: {}",
            response.status()
        );
        let csp = response
            .headers()
            .get("content-security-policy")
            .context("no Content-Security-Policy header")?
            .to_str()?
            .to_owned();
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .with_context(|| format!("no script-src in {csp:?}"))?;
        ensure!(
            script_src.split_whitespace().any(|s| s == "'self'"),
            "script-src without 'self': {csp:?}"
        );
        ensure!(!csp.contains("'unsafe-inline'"), "CSP allows 'unsafe-inline': {csp:?}");
        Ok(())
    })
    .await;

    step("sign in", &a, async {
        a.goto(&page).await?;
        a.wait_state("signed-out").await?;
        expect_labelled(&a).await?;
        a.save_screen("signin").await?;
        sign_in(&a, USER, DEMO_PASSWORD).await?;
        let whoami = a.text("#whoami").await?;
        ensure!(whoami.contains(USER), "#whoami says {whoami:?}");
        expect_labelled(&a).await
    })
    .await;

    step("edit the profile", &a, async {
        a.wait_js(
            "the profile to load",
            "const e = document.querySelector('#profile-firstName'); return !!e && e.value !== ''",
            vec![],
        )
        .await?;
        a.fill("#profile-firstName", FIRST_NAME).await?;
        a.fill("#profile-lastName", LAST_NAME).await?;
        a.click("#profile-submit").await?;
        let status = wait_status(&a, "#profile-form", "#profile-status").await?;
        ensure!(
            status.to_lowercase().contains("saved"),
            "#profile-status says {status:?}"
        );
        // The keyboard user stays where they were, not thrown back to the top of the page.
        let focused = a
            .eval("return document.activeElement && document.activeElement.id", vec![])
            .await?;
        ensure!(focused == "profile-submit", "the focus went to {focused} after saving");
        a.save_screen("profile").await?;

        let info = json_as(&app, "/api/v1/session/user_login_info/", DEMO_PASSWORD).await?;
        ensure!(
            info["profile"]["first_name"] == FIRST_NAME && info["profile"]["last_name"] == LAST_NAME,
            "APIO user_login_info: {info}"
        );
        let axway = json_as(&app, "/api/portal/v1.3/currentuser/", DEMO_PASSWORD).await?;
        ensure!(
            axway["name"] == format!("{FIRST_NAME} {LAST_NAME}") && axway["surname"] == LAST_NAME,
            "Axway currentuser: {axway}"
        );
        Ok(())
    })
    .await;

    step("an invalid email address", &a, async {
        let email = a
            .eval("return document.querySelector('#profile-emailAddress').value", vec![])
            .await?;
        a.fill("#profile-emailAddress", "not an address").await?;
        a.click("#profile-submit").await?;
        a.wait_js(
            "an error on #profile-emailAddress",
            "const i = document.querySelector('#profile-emailAddress'); \
             const e = document.querySelector('#profile-emailAddress-error'); \
             return i.getAttribute('aria-invalid') === 'true' && !!e && e.textContent.trim() !== ''",
            vec![],
        )
        .await?;
        let described = a.attr("#profile-emailAddress", "aria-describedby").await?;
        ensure!(
            described.is_some_and(|d| d.split_whitespace().any(|id| id == "profile-emailAddress-error")),
            "#profile-emailAddress is not described by its error"
        );
        // Back to the stored address: the error goes away.
        a.fill("#profile-emailAddress", email.as_str().unwrap_or_default())
            .await?;
        a.click("#profile-submit").await?;
        a.wait_js(
            "the error on #profile-emailAddress to clear",
            "return document.querySelector('#profile-emailAddress').getAttribute('aria-invalid') !== 'true'",
            vec![],
        )
        .await?;
        Ok(())
    })
    .await;

    let b = Browser::start(&driver, "B", Options::default())
        .await
        .expect("browser B");
    step("second browser signs in", &b, async {
        b.goto(&page).await?;
        b.wait_state("signed-out").await?;
        sign_in(&b, USER, DEMO_PASSWORD).await
    })
    .await;

    step("live password rules", &a, async {
        a.fill("#password-new", "abc").await?;
        wait_rule(&a, "#password-rules", "password_too_short", "fail").await?;
        let failing = a.count("#password-rules li[data-state=\"fail\"]").await?;
        ensure!(failing >= 2, "only {failing} rule(s) fail for \"abc\"");
        a.scroll_to("#password-form", "start").await?;
        a.save_screen("password-rules").await
    })
    .await;

    step("the server's verdict by the field", &a, async {
        // Reuse is only checked by the change itself (the live checks leave it open).
        a.fill("#password-old", DEMO_PASSWORD).await?;
        a.fill("#password-new", DEMO_PASSWORD).await?;
        a.fill("#password-confirm", DEMO_PASSWORD).await?;
        a.click("#password-submit").await?;
        let error = a
            .wait_js(
                "#password-new-error to name the refused rule",
                "const e = document.getElementById('password-new-error'); \
                 return e.textContent.trim() !== '' \
                    && document.getElementById('password-new').getAttribute('aria-invalid') === 'true' \
                    ? e.textContent.trim() : ''",
                vec![],
            )
            .await?;
        ensure!(
            error.as_str().is_some_and(|e| e.contains("previous")),
            "#password-new-error says {error}"
        );
        // Nothing changed: the demo password still signs in.
        json_as(&app, "/api/v1/session/user_login_info/", DEMO_PASSWORD).await?;
        Ok(())
    })
    .await;

    step("change the password", &a, async {
        a.fill("#password-old", DEMO_PASSWORD).await?;
        a.fill("#password-new", NEW_PASSWORD).await?;
        a.fill("#password-confirm", NEW_PASSWORD).await?;
        a.wait_js(
            "every password rule to pass",
            "const lis = [...document.querySelectorAll('#password-rules li')]; \
             return lis.length > 0 \
                && lis.every(li => li.dataset.state === 'pass' \
                    || (li.dataset.code === 'password_reused' && li.dataset.state === 'pending')) \
                && lis.some(li => li.dataset.code === 'password_too_short' && li.dataset.state === 'pass')",
            vec![],
        )
        .await?;
        a.click("#password-submit").await?;
        let status = wait_status(&a, "#password-form", "#password-status").await?;
        eprintln!("#password-status: {status:?}");
        // The new password works; the old one no longer does.
        json_as(&app, "/api/v1/session/user_login_info/", NEW_PASSWORD).await?;
        let old = basic(&app, "/api/v1/session/user_login_info/", DEMO_PASSWORD).await?;
        ensure!(
            old.status() == StatusCode::UNAUTHORIZED,
            "the old password still works: {}",
            old.status()
        );
        a.wait_state("signed-in").await
    })
    .await;

    step("change the PIN", &a, async {
        a.fill("#pin-new", "1111").await?;
        wait_rule(&a, "#pin-rules", "pin_repeated_digits", "fail").await?;
        a.fill("#pin-old", "987654").await?;
        a.fill("#pin-new", NEW_PIN).await?;
        a.wait_js(
            "no PIN rule to fail",
            "const lis = [...document.querySelectorAll('#pin-rules li')]; \
             return lis.length > 0 && !lis.some(li => li.dataset.state === 'fail') \
                && lis.some(li => li.dataset.code === 'pin_too_short' && li.dataset.state === 'pass')",
            vec![],
        )
        .await?;
        a.click("#pin-submit").await?;
        wait_status(&a, "#pin-form", "#pin-status").await?;
        // The stored PIN is the new one: as the current PIN it verifies, and is refused for reuse.
        let verdict = app
            .fresh_client()
            .post(app.url("/api/v1/session/pincode_policy/"))
            .basic_auth(USER, Some(NEW_PASSWORD))
            .json(&json!({"pinCode": NEW_PIN, "oldPinCode": NEW_PIN}))
            .send()
            .await?;
        ensure!(
            verdict.status() == StatusCode::OK,
            "checking the new PIN: {}",
            verdict.status()
        );
        let verdict: Value = verdict.json().await?;
        ensure!(
            verdict["errors"][0]["code"] == "pin_reused",
            "the new PIN is not the stored one: {verdict}"
        );
        Ok(())
    })
    .await;

    step("the other browser was signed out", &b, async {
        b.reload().await?;
        b.wait_state("signed-out").await?;
        sign_in_by_keyboard(&b, USER, NEW_PASSWORD).await
    })
    .await;

    step("end the other sessions", &a, async {
        a.reload().await?;
        a.wait_state("signed-in").await?;
        wait_sessions(&a, 2).await?;
        let current = a.count("#sessions-list li[data-current=\"true\"]").await?;
        ensure!(current == 1, "{current} sessions marked current");
        let list = a.text("#sessions-list").await?;
        ensure!(
            list.contains("Chrome") && list.contains("on Linux"),
            "the sessions' browsers: {list:?}"
        );
        a.scroll_to("#sessions-list", "center").await?;
        a.save_screen("sessions").await?;
        a.click("#sessions-end-others").await?;
        wait_sessions(&a, 1).await?;
        Ok(())
    })
    .await;

    step("the other browser was signed out again", &b, async {
        b.reload().await?;
        b.wait_state("signed-out").await
    })
    .await;

    step("sign out one other session", &a, async {
        sign_in(&b, USER, NEW_PASSWORD).await?;
        a.reload().await?;
        a.wait_state("signed-in").await?;
        wait_sessions(&a, 2).await?;
        a.click("#sessions-list li[data-current=\"false\"] button.session-end")
            .await?;
        wait_sessions(&a, 1).await?;
        b.reload().await?;
        b.wait_state("signed-out").await
    })
    .await;

    step("phone width", &a, async {
        a.set_viewport(390, 844).await?;
        let fits = a
            .wait_js(
                "a 390 px wide viewport without horizontal scrolling",
                "return window.innerWidth <= 400 \
                    && [document.documentElement.scrollWidth <= window.innerWidth, \
                        document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await?;
        ensure!(
            fits[0] == json!(true),
            "the page scrolls sideways at phone width: [fits, scrollWidth, innerWidth] = {fits}"
        );
        a.eval("window.scrollTo(0, 0)", vec![]).await?;
        a.save_screen("phone").await?;
        a.set_size(1280, 900).await
    })
    .await;

    step("sign out", &a, async {
        a.click("#signout").await?;
        a.wait_state("signed-out").await?;
        a.reload().await?;
        a.wait_state("signed-out").await
    })
    .await;

    let fr = Browser::start(&driver, "FR", Options { language: Some("fr") })
        .await
        .expect("French browser");
    step("in French", &fr, async {
        fr.goto(&page).await?;
        fr.wait_state("signed-out").await?;
        expect_lang(&fr, "fr").await?;
        // jbloggs has no language in his profile: the browser's stays.
        sign_in(&fr, "jbloggs", DEMO_PASSWORD).await?;
        expect_lang(&fr, "fr").await?;
        fr.save_screen("french").await
    })
    .await;

    for browser in [&a, &b, &fr] {
        step(
            "no script error or policy violation",
            browser,
            console_is_clean(browser),
        )
        .await;
    }
    for browser in [a, b, fr] {
        browser.close().await;
    }
    drop(driver);
}

/// Waits until the rule `code` of the list `rules` (`#password-rules`, `#pin-rules`) is in `state`.
async fn wait_rule(browser: &Browser, rules: &str, code: &str, state: &str) -> Result<()> {
    browser
        .wait_js(
            &format!("{rules} {code} to be {state}"),
            "const li = document.querySelector(`${arguments[0]} li[data-code=\"${arguments[1]}\"]`); \
             return !!li && li.dataset.state === arguments[2]",
            vec![json!(rules), json!(code), json!(state)],
        )
        .await
        .map(drop)
}

/// Waits until `#sessions-list` lists `n` sessions (the current one among them).
async fn wait_sessions(browser: &Browser, n: usize) -> Result<()> {
    browser
        .wait_js(
            &format!("{n} session(s) in #sessions-list"),
            "const lis = [...document.querySelectorAll('#sessions-list li')]; \
             return lis.length === arguments[0] && lis.filter(li => li.dataset.current === 'true').length === 1",
            vec![json!(n)],
        )
        .await
        .map(drop)
}

/// Signs in through the form and waits for the signed-in page.
/// No script error, CSP or Trusted Types violation in the browser's console.
async fn console_is_clean(browser: &Browser) -> Result<()> {
    let console = browser.console().await?;
    let bad: Vec<&str> = console
        .lines()
        .filter(|line| {
            ["Uncaught", "Content Security Policy", "Trusted Type", "TrustedHTML"]
                .iter()
                .any(|needle| line.contains(needle))
        })
        .collect();
    ensure!(bad.is_empty(), "browser {}'s console: {bad:#?}", browser.name);
    Ok(())
}

async fn sign_in(browser: &Browser, username: &str, password: &str) -> Result<()> {
    browser.wait_state("signed-out").await?;
    browser.fill("#signin-username", username).await?;
    browser.fill("#signin-password", password).await?;
    browser.click("#signin-submit").await?;
    if let Err(e) = browser.wait_state("signed-in").await {
        let error = browser.text("#signin-error").await.unwrap_or_default();
        bail!("{e:#}; #signin-error says {error:?}");
    }
    Ok(())
}

/// Signs in by keyboard: once the username field has the focus, typing, Tab to the password and
/// Enter must be enough (labels, tab order, submit on Enter).
async fn sign_in_by_keyboard(browser: &Browser, username: &str, password: &str) -> Result<()> {
    const TAB: &str = "\u{E004}";
    const ENTER: &str = "\u{E007}";
    browser.wait_state("signed-out").await?;
    browser.find("#signin-username").await?.click().await?;
    let keys = format!("{username}{TAB}{password}{ENTER}");
    browser.client.active_element().await?.send_keys(&keys).await?;
    if let Err(e) = browser.wait_state("signed-in").await {
        let error = browser.text("#signin-error").await.unwrap_or_default();
        bail!("{e:#}; #signin-error says {error:?}");
    }
    Ok(())
}

async fn focused(browser: &Browser) -> Result<String> {
    let id = browser
        .eval("return document.activeElement && document.activeElement.id", vec![])
        .await?;
    Ok(id.as_str().unwrap_or_default().to_owned())
}

/// Waits for an error by the field `id` (its `-error` line, `aria-invalid`); returns the error.
async fn field_error(browser: &Browser, id: &str) -> Result<String> {
    let text = browser
        .wait_js(
            &format!("an error on #{id}"),
            "const f = document.getElementById(arguments[0]); \
             const e = document.getElementById(arguments[0] + '-error'); \
             return f.getAttribute('aria-invalid') === 'true' ? e.textContent.trim() : ''",
            vec![json!(id)],
        )
        .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

/// Waits until `selector`'s text contains `needle`; returns the text.
async fn wait_text(browser: &Browser, selector: &str, needle: &str) -> Result<String> {
    let text = browser
        .wait_js(
            &format!("{selector} to say {needle:?}"),
            "const e = document.querySelector(arguments[0]); \
             const t = e ? e.textContent.trim() : ''; \
             return t.includes(arguments[1]) ? t : ''",
            vec![json!(selector), json!(needle)],
        )
        .await?;
    Ok(text.as_str().map(str::to_owned).unwrap_or_default())
}

/// Waits for a non-empty `status` of `form` and checks that no field of the form has an error.
async fn wait_status(browser: &Browser, form: &str, status: &str) -> Result<String> {
    let text = browser
        .wait_js(
            &format!("{status} to say something"),
            "const s = document.querySelector(arguments[0]); \
             const t = s ? s.textContent.trim() : ''; \
             return t !== '' && !/(\\u2026|\\.\\.\\.)$/.test(t) ? t : ''",
            vec![json!(status)],
        )
        .await?;
    let invalid = browser
        .eval(
            "return [...document.querySelectorAll(arguments[0] + ' [aria-invalid=\"true\"]')].map(e => e.id)",
            vec![json!(form)],
        )
        .await?;
    ensure!(
        invalid == json!([]),
        "{status} says {text} but fields are invalid: {invalid}"
    );
    Ok(text.as_str().unwrap_or_default().to_owned())
}

/// Every input, select and textarea has a label.
async fn expect_labelled(browser: &Browser) -> Result<()> {
    let unlabelled = browser.eval(UNLABELLED, vec![]).await?;
    ensure!(unlabelled == json!([]), "fields without a label: {unlabelled}");
    Ok(())
}

async fn expect_lang(browser: &Browser, lang: &str) -> Result<()> {
    let actual = browser.attr("html", "lang").await?;
    ensure!(
        actual.as_deref() == Some(lang),
        "html[lang] is {actual:?}, expected {lang:?}"
    );
    Ok(())
}

/// `GET path` as foouser with Basic authentication.
async fn basic(app: &TestApp, path: &str, password: &str) -> Result<reqwest::Response> {
    Ok(app
        .fresh_client()
        .get(app.url(path))
        .basic_auth(USER, Some(password))
        .send()
        .await?)
}

/// `GET path` as foouser with Basic authentication, expecting 200 and JSON.
async fn json_as(app: &TestApp, path: &str, password: &str) -> Result<Value> {
    let response = basic(app, path, password).await?;
    ensure!(response.status() == StatusCode::OK, "GET {path}: {}", response.status());
    Ok(response.json().await?)
}

/// The link's token has left the address bar (and so the history entry).
async fn expect_no_token(browser: &Browser, token: &str) -> Result<()> {
    let location = browser
        .eval("return [window.location.hash, window.location.href]", vec![])
        .await?;
    ensure!(
        location[0] == "" && !location[1].as_str().unwrap_or_default().contains(token),
        "the address still holds the token: {location}"
    );
    let url = browser
        .client
        .current_url()
        .await
        .map_err(|e| anyhow!("{}: the current URL: {e}", browser.name))?;
    ensure!(url.fragment().is_none(), "the address bar says {url}");
    Ok(())
}
