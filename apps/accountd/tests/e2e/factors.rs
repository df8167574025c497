//! Two-step verification on the account page (issue 18), in headless Chromium: set up TOTP from
//! the page (secret and QR code), the recovery codes shown once, the sign-in form's second step
//! with a code and with a recovery code (each refused when used again), re-authentication before a
//! sensitive change, and HTTP Basic refused for the account. The server runs on the test's manual
//! clock (tests/api's `spawn_app`), so the TOTP steps are the test's to choose: no race with a
//! step boundary.

use super::{USER, expect_labelled, sign_in};
use crate::browser::{Browser, Driver, Options, step, tools_available};
use crate::helpers::{DEMO_PASSWORD, Spawn, TestApp, spawn_with};
use accountd_domain::ports::Clock;
use accountd_policy::factors::TotpSecret;
use anyhow::{Context, Result, bail, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// How long a proof lasts for sensitive changes on this server (`security.reauth_max_age_seconds`).
const REAUTH_MAX_AGE: i64 = 300;

#[actix_web::test]
async fn two_step_verification_end_to_end() {
    if !tools_available() {
        return;
    }
    let app = spawn_with(Spawn {
        configure: Box::new(|config| config.security.reauth_max_age_seconds = REAUTH_MAX_AGE),
        ..Spawn::default()
    })
    .await;
    let page = app.url("/account/");
    let driver = Driver::start().await.expect("chromedriver");
    let t = Browser::start(&driver, "TOTP", Options::default())
        .await
        .expect("browser TOTP");

    let mut secret = None;
    let mut codes = Vec::new();
    step("set up two-step verification", &t, async {
        t.goto(&page).await?;
        sign_in(&t, USER, DEMO_PASSWORD).await?;
        wait_factor_state(&t, "none").await?;
        ensure!(
            t.attr("#recovery-section", "hidden").await?.is_some(),
            "the recovery codes section is shown without two-step verification"
        );
        t.click("#totp-setup").await?;
        t.wait_visible("#totp-secret").await?;
        wait_factor_state(&t, "pending").await?;
        // The server's QR code, rebuilt as a live <svg> (no HTML string sink, no data: URL).
        let paths = t.count("#totp-qr svg path, #totp-qr svg rect").await?;
        ensure!(paths > 0, "no QR code drawn in #totp-qr");
        let text: String = t.text("#totp-secret").await?.split_whitespace().collect();
        let totp = TotpSecret::from_base32(&text).with_context(|| format!("#totp-secret says {text:?}"))?;
        expect_labelled(&t).await?;
        t.scroll_to("#factors-section", "start").await?;
        t.save_screen("two-step-setup").await?;

        // A wrong code is refused by the field.
        t.fill("#totp-code", &wrong_code(&totp.code_at_step(step_now(&app))))
            .await?;
        t.click("#totp-confirm").await?;
        t.wait_js(
            "an error on #totp-code",
            "return document.getElementById('totp-code').getAttribute('aria-invalid') === 'true' \
                && document.getElementById('totp-code-error').textContent.trim() !== ''",
            vec![],
        )
        .await?;

        t.fill("#totp-code", &totp.code_at_step(step_now(&app))).await?;
        t.click("#totp-confirm").await?;
        codes = shown_codes(&t).await?;
        wait_factor_state(&t, "enabled").await?;
        let focused = t
            .eval("return document.activeElement && document.activeElement.id", vec![])
            .await?;
        ensure!(
            focused == "codes-title",
            "the focus went to {focused}, not the new codes"
        );
        t.scroll_to("#codes-card", "start").await?;
        t.save_screen("recovery-codes").await?;
        t.click("#codes-done").await?;
        t.wait_js(
            "#codes-card to hide its codes",
            "return document.getElementById('codes-card').hidden \
                && document.querySelectorAll('#codes-list li').length === 0",
            vec![],
        )
        .await?;
        let left = t.text("#recovery-left").await?;
        ensure!(left.contains("10"), "#recovery-left says {left:?}");
        secret = Some(totp);
        Ok(())
    })
    .await;
    let totp = secret.expect("the secret");

    step("HTTP Basic refused", &t, async {
        let response = app
            .fresh_client()
            .get(app.url("/api/v1/session/user_login_info/"))
            .basic_auth(USER, Some(DEMO_PASSWORD))
            .send()
            .await?;
        ensure!(
            response.status() == StatusCode::UNAUTHORIZED,
            "HTTP Basic with the right password: {}",
            response.status()
        );
        let problem: Value = response.json().await?;
        ensure!(
            problem["type"] == "urn:accountd:problem:second-factor-basic-refused",
            "HTTP Basic with the right password: {problem}"
        );
        Ok(())
    })
    .await;

    // The code that confirmed the app used up its step: sign in at the next one.
    app.clock.advance_seconds(30);
    let used = totp.code_at_step(step_now(&app));
    step("sign in with a code", &t, async {
        sign_out(&t).await?;
        second_step(&t, USER, DEMO_PASSWORD).await?;
        t.save_screen("signin-code").await?;
        t.fill("#signin-code", &used).await?;
        t.click("#signin-factor-submit").await?;
        signed_in(&t).await?;
        wait_factor_state(&t, "enabled").await
    })
    .await;

    step("the same code again is refused", &t, async {
        // The clock has not moved: the same 30-s step, already used.
        sign_out(&t).await?;
        second_step(&t, USER, DEMO_PASSWORD).await?;
        t.fill("#signin-code", &used).await?;
        t.click("#signin-factor-submit").await?;
        refused(&t).await
    })
    .await;

    step("sign in with a recovery code", &t, async {
        // The same challenge, with a recovery code instead.
        t.click("#signin-use-recovery").await?;
        let label = t.text("#signin-code-label").await?;
        ensure!(
            label.to_lowercase().contains("recovery"),
            "#signin-code's label says {label:?}"
        );
        t.fill("#signin-code", &codes[0]).await?;
        t.click("#signin-factor-submit").await?;
        signed_in(&t).await?;
        wait_text(&t, "#recovery-left", "9").await
    })
    .await;

    step("the same recovery code again is refused", &t, async {
        sign_out(&t).await?;
        second_step(&t, USER, DEMO_PASSWORD).await?;
        t.click("#signin-use-recovery").await?;
        t.fill("#signin-code", &codes[0]).await?;
        t.click("#signin-factor-submit").await?;
        refused(&t).await?;
        t.fill("#signin-code", &codes[1]).await?;
        t.click("#signin-factor-submit").await?;
        signed_in(&t).await?;
        wait_text(&t, "#recovery-left", "8").await
    })
    .await;

    // Later than a sign-in proves anything for: a new set of codes needs a fresh proof.
    app.clock.advance_seconds(REAUTH_MAX_AGE + 30);
    step("new recovery codes after proving it again", &t, async {
        t.click("#recovery-generate").await?;
        t.wait_visible("#reauth-secret").await?;
        let focused = t
            .eval("return document.activeElement && document.activeElement.id", vec![])
            .await?;
        ensure!(
            focused == "reauth-secret",
            "the focus went to {focused}, not the proof's field"
        );
        expect_labelled(&t).await?;
        t.fill("#reauth-secret", &totp.code_at_step(step_now(&app))).await?;
        t.click("#reauth-submit").await?;
        let fresh = shown_codes(&t).await?;
        ensure!(
            fresh.iter().all(|c| !codes.contains(c)),
            "the new codes repeat old ones"
        );
        ensure!(
            t.attr("#reauth-section", "hidden").await?.is_some(),
            "the proof's form is still shown"
        );
        t.click("#codes-done").await?;
        wait_text(&t, "#recovery-left", "10").await?;
        // The old set is gone.
        sign_out(&t).await?;
        second_step(&t, USER, DEMO_PASSWORD).await?;
        t.click("#signin-use-recovery").await?;
        t.fill("#signin-code", &codes[2]).await?;
        t.click("#signin-factor-submit").await?;
        refused(&t).await?;
        t.fill("#signin-code", &fresh[0]).await?;
        t.click("#signin-factor-submit").await?;
        signed_in(&t).await
    })
    .await;

    step("turning it off brings back the password-only sign-in", &t, async {
        t.click("#totp-remove").await?;
        wait_factor_state(&t, "none").await?;
        sign_out(&t).await?;
        super::sign_in(&t, USER, DEMO_PASSWORD).await?;
        signed_in(&t).await
    })
    .await;

    step("no script error or policy violation", &t, super::console_is_clean(&t)).await;
    t.close().await;
    drop(driver);
}

/// The TOTP step of the server's (manual) clock.
fn step_now(app: &TestApp) -> i64 {
    app.clock.now().as_millis().div_euclid(1000).div_euclid(30)
}

/// Another six digits than `code`.
fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap_or(0) + 1) % 10, 10).unwrap_or('0'))
        .collect()
}

async fn wait_factor_state(browser: &Browser, state: &str) -> Result<()> {
    browser
        .wait_js(
            &format!("#factors-state to be {state}"),
            "const e = document.getElementById('factors-state'); return !!e && e.dataset.state === arguments[0]",
            vec![json!(state)],
        )
        .await
        .map(drop)
}

async fn wait_text(browser: &Browser, selector: &str, needle: &str) -> Result<()> {
    browser
        .wait_js(
            &format!("{selector} to say {needle:?}"),
            "const e = document.querySelector(arguments[0]); return !!e && e.textContent.includes(arguments[1])",
            vec![json!(selector), json!(needle)],
        )
        .await
        .map(drop)
}

/// The ten recovery codes of `#codes-card`, once shown.
async fn shown_codes(browser: &Browser) -> Result<Vec<String>> {
    let codes = browser
        .wait_js(
            "ten recovery codes in #codes-list",
            "const card = document.getElementById('codes-card'); \
             const lis = [...document.querySelectorAll('#codes-list li')]; \
             return !card.hidden && lis.length === 10 ? lis.map(li => li.textContent.trim()) : null",
            vec![],
        )
        .await?;
    let codes: Vec<String> = serde_json::from_value(codes)?;
    for code in &codes {
        ensure!(
            code.len() == 19 && code.split('-').count() == 4,
            "a recovery code like {code:?}"
        );
    }
    Ok(codes)
}

/// Types the username and password and waits for the form's second step.
async fn second_step(browser: &Browser, username: &str, password: &str) -> Result<()> {
    browser.wait_state("signed-out").await?;
    browser.fill("#signin-username", username).await?;
    browser.fill("#signin-password", password).await?;
    browser.click("#signin-submit").await?;
    if let Err(e) = browser.wait_state("second-factor").await {
        let error = browser.text("#signin-error").await.unwrap_or_default();
        bail!("{e:#}; #signin-error says {error:?}");
    }
    let focused = browser
        .eval("return document.activeElement && document.activeElement.id", vec![])
        .await?;
    ensure!(
        focused == "signin-code",
        "the focus went to {focused}, not the code field"
    );
    expect_labelled(browser).await
}

async fn signed_in(browser: &Browser) -> Result<()> {
    if let Err(e) = browser.wait_state("signed-in").await {
        let error = browser.text("#signin-factor-error").await.unwrap_or_default();
        bail!("{e:#}; #signin-factor-error says {error:?}");
    }
    Ok(())
}

/// The second step refused its code: an error by the field, still on the second step.
async fn refused(browser: &Browser) -> Result<()> {
    browser
        .wait_js(
            "#signin-factor-error to say the code is refused",
            "return document.getElementById('signin-factor-error').textContent.trim() !== '' \
                && document.getElementById('signin-code').getAttribute('aria-invalid') === 'true'",
            vec![],
        )
        .await?;
    let state = browser.eval("return document.body.dataset.state", vec![]).await?;
    ensure!(state == "second-factor", "after a refused code the page is {state}");
    Ok(())
}

async fn sign_out(browser: &Browser) -> Result<()> {
    browser.click("#signout").await?;
    browser.wait_state("signed-out").await
}
