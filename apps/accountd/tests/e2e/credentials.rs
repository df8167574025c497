//! Personal API tokens and everything that can sign in as you on the account page (issue 20), in
//! headless Chromium with two browsers signed in as the same user: create a read token from the
//! page (shown once, then gone from the page) and see it work over plain HTTP within its scope, a
//! lifetime the server refuses shown by its field, a full token after proving it is you again, the
//! one list of credentials, a token revoked from its list, and "sign out everywhere else and revoke
//! every token" ending the other browser's session and every token but not this session. The
//! API-level cases are in `tests/api/tokens.rs`. The server runs on the test's manual clock, so the
//! test decides when the sign-in is too old to create a token.

use super::{USER, expect_labelled, expect_lang, field_error, focused, sign_in, wait_text};
use crate::browser::{Browser, Driver, Options, step, tools_available};
use crate::helpers::{DEMO_PASSWORD, Spawn, TestApp, spawn_with};
use anyhow::{Result, anyhow, bail, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How long a proof lasts for sensitive changes on this server (`security.reauth_max_age_seconds`).
const REAUTH_MAX_AGE: i64 = 300;
/// `tokens.max_lifetime_days` on this server: the page's "90 days" is refused.
const MAX_LIFETIME_DAYS: u32 = 60;
const PRINCIPAL: &str = "/api/v1/User/currentPrincipal";
const CURRENT_USER: &str = "/api/portal/v1.3/currentuser/";

#[actix_web::test]
async fn api_tokens_and_credentials_end_to_end() {
    if !tools_available() {
        return;
    }
    let app = spawn_with(Spawn {
        configure: Box::new(|config| {
            config.security.reauth_max_age_seconds = REAUTH_MAX_AGE;
            config.tokens.max_lifetime_days = MAX_LIFETIME_DAYS;
        }),
        ..Spawn::default()
    })
    .await;
    let page = app.url("/account/");
    let driver = Driver::start().await.expect("chromedriver");
    let a = Browser::start(&driver, "credentials A", Options::default())
        .await
        .expect("browser credentials A");
    let b = Browser::start(&driver, "credentials B", Options::default())
        .await
        .expect("browser credentials B");

    step("two browsers sign in as the same user", &a, async {
        a.goto(&page).await?;
        sign_in(&a, USER, DEMO_PASSWORD).await?;
        b.goto(&page).await?;
        sign_in(&b, USER, DEMO_PASSWORD).await?;
        a.reload().await?;
        a.wait_state("signed-in").await?;
        wait_tokens(&a, &[]).await?;
        ensure!(
            a.attr("#token-empty", "hidden").await?.is_none(),
            "#token-empty is hidden without tokens"
        );
        wait_kinds(&a, &["password", "pin", "session", "session"]).await?;
        let defaults = a
            .eval(
                "return [document.getElementById('token-scope').value, document.getElementById('token-days').value]",
                vec![],
            )
            .await?;
        ensure!(defaults == json!(["read", "30"]), "the form's defaults: {defaults}");
        expect_labelled(&a).await
    })
    .await;

    let mut dashboard = String::new();
    step("create a read token", &a, async {
        // A name is needed.
        a.click("#token-create").await?;
        field_error(&a, "token-name").await?;
        // A lifetime past tokens.max_lifetime_days: the server's refusal by its field.
        a.fill("#token-name", "dashboard").await?;
        select(&a, "#token-days", "90").await?;
        a.click("#token-create").await?;
        let error = field_error(&a, "token-days").await?;
        ensure!(
            error.contains(&MAX_LIFETIME_DAYS.to_string()),
            "#token-days-error says {error:?}"
        );
        wait_tokens(&a, &[]).await?;

        select(&a, "#token-days", "30").await?;
        a.click("#token-create").await?;
        dashboard = shown_secret(&a).await?;
        ensure!(
            a.attr("#token-days", "aria-invalid").await?.is_none(),
            "#token-days still marked invalid"
        );
        let status = wait_text(&a, "#tokens-status", "dashboard").await?;
        ensure!(status.contains("created"), "#tokens-status says {status:?}");
        wait_tokens(&a, &["dashboard"]).await?;
        let item = a.text("#token-list li").await?;
        ensure!(
            item.contains("Read only") && item.contains("Never used"),
            "the new token's item says {item:?}"
        );
        expect_labelled(&a).await?;
        a.scroll_to("#tokens-section", "start").await?;
        a.save_screen("api-token-created").await?;

        // Over plain HTTP: it reads, and may not change anything.
        let principal = bearer(&app, Method::GET, PRINCIPAL, &dashboard, None).await?;
        ensure!(
            principal.status() == StatusCode::OK,
            "GET {PRINCIPAL} with the read token: {}",
            principal.status()
        );
        let refused = bearer(&app, Method::PUT, CURRENT_USER, &dashboard, Some(json!({"name": "X"}))).await?;
        let status = refused.status();
        let problem: Value = refused.json().await.unwrap_or_default();
        ensure!(
            status == StatusCode::FORBIDDEN && problem["type"] == "urn:accountd:problem:read-only-token",
            "PUT {CURRENT_USER} with the read token: {status} {problem}"
        );

        // Put away: gone from the page.
        a.click("#token-done").await?;
        a.wait_js(
            "#token-new to hide the token",
            "return document.getElementById('token-new').hidden \
                && document.getElementById('token-secret').value === ''",
            vec![],
        )
        .await?;
        expect_nowhere(&a, &dashboard).await?;
        // Its use over HTTP shows on the list.
        a.reload().await?;
        a.wait_state("signed-in").await?;
        wait_tokens(&a, &["dashboard"]).await?;
        let item = a.text("#token-list li").await?;
        ensure!(!item.contains("Never used"), "the used token's item says {item:?}");
        expect_nowhere(&a, &dashboard).await
    })
    .await;

    // Later than a sign-in proves anything for: the next token needs the password again.
    app.clock.advance_seconds(REAUTH_MAX_AGE + 1);
    let mut script = String::new();
    step("a full token after proving it again", &a, async {
        a.fill("#token-name", "script").await?;
        select(&a, "#token-scope", "full").await?;
        a.click("#token-create").await?;
        a.wait_visible("#reauth-secret").await?;
        let focused = focused(&a).await?;
        ensure!(
            focused == "reauth-secret",
            "the focus went to {focused}, not the proof's field"
        );
        let label = a.text("#reauth-label").await?;
        ensure!(label == "Password", "#reauth-secret's label says {label:?}");
        wait_tokens(&a, &["dashboard"]).await?;
        a.fill("#reauth-secret", DEMO_PASSWORD).await?;
        a.click("#reauth-submit").await?;
        script = shown_secret(&a).await?;
        ensure!(script != dashboard, "the same secret twice");
        ensure!(
            a.attr("#reauth-section", "hidden").await?.is_some(),
            "the proof's form is still shown"
        );
        wait_tokens(&a, &["script", "dashboard"]).await?;
        let full = a.text("#token-list li[data-scope=\"full\"]").await?;
        ensure!(full.contains("Full access"), "the full token's item says {full:?}");
        let works = bearer(&app, Method::GET, PRINCIPAL, &script, None).await?;
        ensure!(
            works.status() == StatusCode::OK,
            "GET {PRINCIPAL} with the full token: {}",
            works.status()
        );
        a.click("#token-done").await?;
        expect_nowhere(&a, &script).await
    })
    .await;

    step("everything that can sign in, in one list", &a, async {
        wait_kinds(&a, &["password", "pin", "session", "session", "api_token", "api_token"]).await?;
        let current = a
            .count("#credential-list li[data-kind=\"session\"][data-current=\"true\"]")
            .await?;
        ensure!(current == 1, "{current} sessions marked current");
        let this = a
            .text("#credential-list li[data-kind=\"session\"][data-current=\"true\"]")
            .await?;
        ensure!(
            this.contains("This session") && this.contains("Chrome"),
            "the current session says {this:?}"
        );
        // A Revoke button for the other session and the tokens, none for the password, the PIN
        // or this session.
        let revocable = a
            .eval(
                "return [...document.querySelectorAll('#credential-list li')] \
                    .filter(li => li.querySelector('button.credential-revoke')) \
                    .map(li => li.dataset.kind + ':' + li.dataset.current)",
                vec![],
            )
            .await?;
        ensure!(
            revocable == json!(["session:false", "api_token:false", "api_token:false"]),
            "Revoke buttons on {revocable}"
        );
        let tokens = a.text("#credential-list").await?;
        ensure!(
            tokens.contains("API token: script (Full access)") && tokens.contains("API token: dashboard (Read only)"),
            "the list says {tokens:?}"
        );
        expect_labelled(&a).await?;
        a.scroll_to("#credentials-section", "start").await?;
        a.save_screen("credentials").await
    })
    .await;

    step("revoke a token from its list", &a, async {
        let selector = token_button(&a, "dashboard").await?;
        let label = a.attr(&selector, "aria-label").await?;
        ensure!(
            label.as_deref() == Some("Revoke the token dashboard"),
            "the Revoke button is labelled {label:?}"
        );
        a.click(&selector).await?;
        wait_tokens(&a, &["script"]).await?;
        let status = wait_text(&a, "#tokens-status", "dashboard").await?;
        ensure!(status.contains("revoked"), "#tokens-status says {status:?}");
        wait_kinds(&a, &["password", "pin", "session", "session", "api_token"]).await?;
        let gone = bearer(&app, Method::GET, PRINCIPAL, &dashboard, None).await?;
        ensure!(
            gone.status() == StatusCode::UNAUTHORIZED,
            "the revoked token answers {}",
            gone.status()
        );
        Ok(())
    })
    .await;

    step("sign out everywhere else and revoke every token", &a, async {
        a.click("#revoke-everything").await?;
        a.wait_visible("#revoke-everything-confirm").await?;
        let focused = focused(&a).await?;
        ensure!(
            focused == "revoke-everything-confirm",
            "the focus went to {focused}, not the confirmation"
        );
        // Cancel changes nothing; asked again, yes.
        a.click("#revoke-everything-cancel").await?;
        ensure!(
            a.attr("#revoke-everything-box", "hidden").await?.is_some(),
            "the confirmation stays after Cancel"
        );
        wait_kinds(&a, &["password", "pin", "session", "session", "api_token"]).await?;
        a.click("#revoke-everything").await?;
        a.scroll_to("#credentials-section", "start").await?;
        a.save_screen("revoke-everything").await?;
        a.click("#revoke-everything-confirm").await?;
        let status = wait_text(&a, "#credentials-status", "Ended").await?;
        ensure!(
            status == "Ended 1 session and revoked 1 token.",
            "#credentials-status says {status:?}"
        );
        wait_kinds(&a, &["password", "pin", "session"]).await?;
        wait_tokens(&a, &[]).await?;
        let gone = bearer(&app, Method::GET, PRINCIPAL, &script, None).await?;
        ensure!(
            gone.status() == StatusCode::UNAUTHORIZED,
            "the full token answers {} after revoking everything",
            gone.status()
        );
        // This session stays.
        a.reload().await?;
        a.wait_state("signed-in").await?;
        wait_kinds(&a, &["password", "pin", "session"]).await
    })
    .await;

    step("the other browser was signed out", &b, async {
        b.reload().await?;
        b.wait_state("signed-out").await
    })
    .await;

    step("in French", &a, async {
        a.find("#lang-select")
            .await?
            .select_by_value("fr")
            .await
            .map_err(|e| anyhow!("choosing French: {e}"))?;
        expect_lang(&a, "fr").await?;
        wait_text(&a, "#tokens-title", "Jetons d'API").await?;
        let title = a.text("#credentials-title").await?;
        ensure!(
            title == "Tout ce qui peut se connecter en votre nom",
            "#credentials-title says {title:?}"
        );
        let create = a.text("#token-create").await?;
        ensure!(create == "Créer un jeton", "#token-create says {create:?}");
        let label = a.text("label[for=\"token-name\"]").await?;
        ensure!(label == "Nom du jeton", "#token-name's label says {label:?}");
        let list = a.text("#credential-list").await?;
        ensure!(
            list.contains("Mot de passe") && list.contains("Cette session"),
            "the list in French says {list:?}"
        );
        expect_labelled(&a).await?;
        a.scroll_to("#tokens-section", "start").await?;
        a.save_screen("credentials-french").await
    })
    .await;

    for browser in [&a, &b] {
        step(
            "no script error or policy violation",
            browser,
            super::console_is_clean(browser),
        )
        .await;
    }
    for browser in [a, b] {
        browser.close().await;
    }
    drop(driver);
}

/// `method path` with `Authorization: Bearer token` (and a JSON body), without cookies.
async fn bearer(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Result<reqwest::Response> {
    let mut request = app.fresh_client().request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Ok(request.send().await?)
}

async fn select(browser: &Browser, selector: &str, value: &str) -> Result<()> {
    browser
        .wait_visible(selector)
        .await?
        .select_by_value(value)
        .await
        .map_err(|e| anyhow!("{}: choosing {value} in {selector}: {e}", browser.name))
}

/// The new token in `#token-secret`, once shown: it has the focus and its warning describes it.
async fn shown_secret(browser: &Browser) -> Result<String> {
    let secret = browser
        .wait_js(
            "a new token in #token-secret",
            "const box = document.getElementById('token-new'); \
             const input = document.getElementById('token-secret'); \
             return !box.hidden && input.value.length > 30 ? input.value : ''",
            vec![],
        )
        .await?;
    let secret = secret.as_str().unwrap_or_default().to_owned();
    let focused = focused(browser).await?;
    ensure!(
        focused == "token-secret",
        "the focus went to {focused}, not the new token"
    );
    let described = browser.attr("#token-secret", "aria-describedby").await?;
    ensure!(
        described.as_deref() == Some("token-secret-save"),
        "#token-secret is described by {described:?}"
    );
    let warning = browser.text("#token-secret-save").await?;
    ensure!(
        warning.contains("will not be shown again"),
        "#token-secret-save says {warning:?}"
    );
    Ok(secret)
}

/// Neither the page's text nor any field's value holds `secret`.
async fn expect_nowhere(browser: &Browser, secret: &str) -> Result<()> {
    let found = browser
        .eval(
            "const s = arguments[0]; \
             return document.body.innerText.includes(s) \
                || document.documentElement.outerHTML.includes(s) \
                || [...document.querySelectorAll('input, textarea')].some(e => e.value.includes(s))",
            vec![json!(secret)],
        )
        .await?;
    ensure!(found == json!(false), "the token is still on the page");
    Ok(())
}

/// Waits until `#token-list` names exactly `names`, in this order.
async fn wait_tokens(browser: &Browser, names: &[&str]) -> Result<()> {
    browser
        .wait_js(
            &format!("#token-list to name {names:?}"),
            "const names = [...document.querySelectorAll('#token-list li .token-name')] \
                .map(e => e.textContent.trim()); \
             return JSON.stringify(names) === JSON.stringify(arguments[0])",
            vec![json!(names)],
        )
        .await
        .map(drop)
}

/// Waits until `#credential-list` lists exactly these kinds, in this order.
async fn wait_kinds(browser: &Browser, kinds: &[&str]) -> Result<()> {
    browser
        .wait_js(
            &format!("#credential-list to list {kinds:?}"),
            "const kinds = [...document.querySelectorAll('#credential-list li')].map(li => li.dataset.kind); \
             return JSON.stringify(kinds) === JSON.stringify(arguments[0])",
            vec![json!(kinds)],
        )
        .await
        .map(drop)
}

/// The selector of the Revoke button of the token `name` in `#token-list`.
async fn token_button(browser: &Browser, name: &str) -> Result<String> {
    let id = browser
        .eval(
            "const li = [...document.querySelectorAll('#token-list li')] \
                .find(li => li.querySelector('.token-name').textContent.trim() === arguments[0]); \
             return li ? li.dataset.tokenId : null",
            vec![json!(name)],
        )
        .await?;
    let Some(id) = id.as_str() else {
        bail!("no token {name:?} in #token-list");
    };
    Ok(format!("#token-list li[data-token-id=\"{id}\"] button.token-revoke"))
}
