//! Passkeys on the account page (issue 19), in headless Chromium with WebDriver's virtual
//! authenticator (a platform authenticator with resident keys and user verification, which answers
//! the page's `navigator.credentials.create()` and `.get()` without any UI): add a passkey from the
//! page, sign in with it alone (a discoverable credential: no username), use it as the second step
//! after the password, prove it is you with it once the last proof is too old, remove it, and see
//! it refused although the authenticator still holds it and offers it. The API-level cases (forged
//! and cloned answers, ceremonies across instances) are in `tests/api/passkeys.rs`.
//!
//! WebAuthn refuses IP addresses: the page is browsed at `http://localhost:PORT/`, the default
//! `passkeys.rp_id`, and the server accepts any port of its origins (`passkeys.allow_any_port`).
//! It runs on the test's manual clock, so the test decides when a proof is too old.

use super::{USER, expect_labelled, expect_lang, sign_in, wait_text};
use crate::browser::{Browser, Driver, Options, step, tools_available};
use crate::helpers::{DEMO_PASSWORD, Spawn, TestApp, spawn_with};
use anyhow::{Result, anyhow, bail, ensure};
use serde_json::json;

/// How long a proof lasts for sensitive changes on this server (`security.reauth_max_age_seconds`).
const REAUTH_MAX_AGE: i64 = 300;
const NAME: &str = "Laptop";

#[actix_web::test]
async fn passkeys_end_to_end() {
    if !tools_available() {
        return;
    }
    let app = spawn_with(Spawn {
        configure: Box::new(|config| {
            config.passkeys.allow_any_port = true;
            config.security.reauth_max_age_seconds = REAUTH_MAX_AGE;
        }),
        ..Spawn::default()
    })
    .await;
    let page = localhost(&app, "/account/");
    let driver = Driver::start().await.expect("chromedriver");
    let p = Browser::start(&driver, "passkeys", Options::default())
        .await
        .expect("browser passkeys");
    // Before the page asks anything of `navigator.credentials`.
    let authenticator = p.add_virtual_authenticator().await.expect("a virtual authenticator");

    step("add a passkey", &p, async {
        p.goto(&page).await?;
        p.wait_state("signed-out").await?;
        let button = p.text("#passkey-sign-in").await?;
        ensure!(button == "Sign in with a passkey", "#passkey-sign-in says {button:?}");
        sign_in(&p, USER, DEMO_PASSWORD).await?;
        p.wait_visible("#passkey-add").await?;
        wait_passkeys(&p, &[]).await?;
        ensure!(
            p.attr("#passkey-empty", "hidden").await?.is_none(),
            "#passkey-empty is hidden without passkeys"
        );
        expect_labelled(&p).await?;
        // A passkey needs a name.
        p.click("#passkey-add").await?;
        p.wait_js(
            "an error on #passkey-name",
            "return document.getElementById('passkey-name').getAttribute('aria-invalid') === 'true' \
                && document.getElementById('passkey-name-error').textContent.trim() !== ''",
            vec![],
        )
        .await?;
        ensure!(
            p.virtual_credentials(&authenticator).await?.is_empty(),
            "a credential was created without a name"
        );

        p.fill("#passkey-name", NAME).await?;
        p.click("#passkey-add").await?;
        wait_passkeys(&p, &[NAME]).await?;
        let status = wait_text(&p, "#passkeys-status", NAME).await?;
        ensure!(status.contains("added"), "#passkeys-status says {status:?}");
        let item = p.text("#passkey-list li").await?;
        ensure!(item.contains("Never used"), "the new passkey's item says {item:?}");
        let remove = p.attr("#passkey-list li button", "aria-label").await?;
        ensure!(
            remove.as_deref() == Some("Remove the passkey Laptop"),
            "the Remove button is labelled {remove:?}"
        );
        ensure!(
            p.attr("#passkey-empty", "hidden").await?.is_some(),
            "#passkey-empty is shown beside a passkey"
        );
        // A discoverable credential for this site, made by the authenticator.
        let held = p.virtual_credentials(&authenticator).await?;
        ensure!(held.len() == 1, "the authenticator holds {held:?}");
        ensure!(
            held[0]["isResidentCredential"] == json!(true) && held[0]["rpId"] == json!("localhost"),
            "the authenticator holds {}",
            held[0]
        );
        ensure!(
            p.attr("#recovery-section", "hidden").await?.is_none(),
            "the recovery codes section is hidden for a user with a passkey"
        );
        expect_labelled(&p).await?;
        p.scroll_to("#passkeys-section", "start").await?;
        p.save_screen("passkeys").await
    })
    .await;

    step("sign in with the passkey alone", &p, async {
        sign_out(&p).await?;
        p.save_screen("signin-passkey").await?;
        p.click("#passkey-sign-in").await?;
        signed_in(&p, "#signin-error").await?;
        let whoami = p.text("#whoami").await?;
        ensure!(whoami.contains(USER), "#whoami says {whoami:?}");
        // It has been used now.
        p.wait_js(
            "the passkey's last use on the list",
            "const li = document.querySelector('#passkey-list li'); \
             return !!li && !li.textContent.includes('Never used')",
            vec![],
        )
        .await
        .map(drop)
    })
    .await;

    step("the passkey as the second step", &p, async {
        sign_out(&p).await?;
        p.fill("#signin-username", USER).await?;
        p.fill("#signin-password", DEMO_PASSWORD).await?;
        p.click("#signin-submit").await?;
        if let Err(e) = p.wait_state("second-factor").await {
            let error = p.text("#signin-error").await.unwrap_or_default();
            bail!("{e:#}; #signin-error says {error:?}");
        }
        // No authenticator app here: no code to type, the passkey is the way (and has the focus).
        ensure!(
            p.attr("#signin-code-field", "hidden").await?.is_some(),
            "the code field is shown to a user without an authenticator app"
        );
        let focused = p
            .eval("return document.activeElement && document.activeElement.id", vec![])
            .await?;
        ensure!(
            focused == "second-step-passkey",
            "the focus went to {focused}, not the passkey's button"
        );
        expect_labelled(&p).await?;
        p.save_screen("signin-second-step-passkey").await?;
        p.click("#second-step-passkey").await?;
        signed_in(&p, "#signin-factor-error").await
    })
    .await;

    // Later than a sign-in proves anything for: removing the passkey needs a fresh proof, which a
    // user with a passkey (and no authenticator app) gives with the passkey.
    app.clock.advance_seconds(REAUTH_MAX_AGE + 30);
    step("remove the passkey after proving it again", &p, async {
        p.click("#passkey-list li button.passkey-remove").await?;
        p.wait_visible("#reauth-passkey").await?;
        let focused = p
            .eval("return document.activeElement && document.activeElement.id", vec![])
            .await?;
        ensure!(
            focused == "reauth-passkey",
            "the focus went to {focused}, not the passkey's button"
        );
        ensure!(
            p.attr("#reauth-field", "hidden").await?.is_some(),
            "the proof asks for something typed, not the passkey"
        );
        wait_passkeys(&p, &[NAME]).await?;
        expect_labelled(&p).await?;
        p.scroll_to("#reauth-section", "center").await?;
        p.save_screen("reauth-passkey").await?;
        p.click("#reauth-passkey").await?;
        wait_passkeys(&p, &[]).await?;
        let status = wait_text(&p, "#passkeys-status", NAME).await?;
        ensure!(status.contains("removed"), "#passkeys-status says {status:?}");
        ensure!(
            p.attr("#reauth-section", "hidden").await?.is_some(),
            "the proof's form is still shown"
        );
        Ok(())
    })
    .await;

    step("the removed passkey is refused", &p, async {
        // The authenticator still holds the credential and offers it; the server must refuse it.
        let held = p.virtual_credentials(&authenticator).await?;
        ensure!(held.len() == 1, "the authenticator holds {held:?}");
        sign_out(&p).await?;
        p.click("#passkey-sign-in").await?;
        let error = wait_text(&p, "#signin-error", "not accepted").await?;
        eprintln!("#signin-error: {error:?}");
        let state = p.eval("return document.body.dataset.state", vec![]).await?;
        ensure!(state == "signed-out", "after a refused passkey the page is {state}");
        // Without a factor left, the password alone signs in again.
        sign_in(&p, USER, DEMO_PASSWORD).await
    })
    .await;

    step("in French", &p, async {
        p.find("#lang-select")
            .await?
            .select_by_value("fr")
            .await
            .map_err(|e| anyhow!("choosing French: {e}"))?;
        expect_lang(&p, "fr").await?;
        wait_text(&p, "#passkeys-title", "Clés d'accès").await?;
        let add = p.text("#passkey-add").await?;
        ensure!(add == "Ajouter une clé d'accès", "#passkey-add says {add:?}");
        let label = p.text("label[for=\"passkey-name\"]").await?;
        ensure!(label == "Nom de la clé d'accès", "#passkey-name's label says {label:?}");
        p.scroll_to("#passkeys-section", "start").await?;
        p.save_screen("passkeys-french").await?;
        sign_out(&p).await?;
        let button = p.text("#passkey-sign-in").await?;
        ensure!(
            button == "Se connecter avec une clé d'accès",
            "#passkey-sign-in says {button:?}"
        );
        Ok(())
    })
    .await;

    step("no script error or policy violation", &p, super::console_is_clean(&p)).await;
    drop(p.remove_virtual_authenticator(&authenticator).await);
    p.close().await;
    drop(driver);
}

/// `path` on the test server as `http://localhost:PORT…` (`app.url` says 127.0.0.1).
fn localhost(app: &TestApp, path: &str) -> String {
    let port = app.address.rsplit(':').next().unwrap_or_default();
    format!("http://localhost:{port}{path}")
}

/// Waits until `#passkey-list` names exactly `names`, in this order.
async fn wait_passkeys(browser: &Browser, names: &[&str]) -> Result<()> {
    browser
        .wait_js(
            &format!("#passkey-list to name {names:?}"),
            "const names = [...document.querySelectorAll('#passkey-list li .passkey-title')] \
                .map(e => e.textContent.trim()); \
             return JSON.stringify(names) === JSON.stringify(arguments[0])",
            vec![json!(names)],
        )
        .await
        .map(drop)
}

/// Waits for the signed-in page; on failure, says what `error` (the form's error line) says.
async fn signed_in(browser: &Browser, error: &str) -> Result<()> {
    if let Err(e) = browser.wait_state("signed-in").await {
        let said = browser.text(error).await.unwrap_or_default();
        bail!("{e:#}; {error} says {said:?}");
    }
    Ok(())
}

async fn sign_out(browser: &Browser) -> Result<()> {
    browser.click("#signout").await?;
    browser.wait_state("signed-out").await
}
