//! A verified change of the e-mail address on the account page (issue 22, item 5), in headless
//! Chromium against a server with `email.verify_changes` that sends its e-mail to a real SMTP
//! server (aiosmtpd, `tests/common/smtp_sink.rs`): the address saved in the profile waits, named
//! under the field with "Cancel this change", while the page and the seed routes keep answering the
//! old one; the new address gets the link, the old one a notice without it; the link opened in the
//! browser leaves the address bar at once, confirms, and the field shows the new address; the link
//! works once; a cancelled change's link no longer works, nor does the link of a change replaced by
//! a newer one; a link works in a browser that is signed out; French (the page and the mail).

use super::{
    USER, console_is_clean, expect_labelled, expect_lang, expect_no_token, focused, sign_in, wait_status, wait_text,
};
use crate::browser::{Browser, Driver, Options, step, tools_available};
use crate::helpers::{DEMO_PASSWORD, Spawn, TestApp, spawn_with};
use crate::smtp_sink::{SmtpSink, link_token};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The page address the server writes into its e-mail: the test browses the server's own.
const MAIL_PAGE_URL: &str = "https://accounts.example.com/account/";
const NEW_ADDRESS: &str = "frieda.new@example.com";
const SECOND_ADDRESS: &str = "frieda.second@example.com";
const THIRD_ADDRESS: &str = "frieda.third@example.com";
const FOURTH_ADDRESS: &str = "frieda.fourth@example.com";
const FRENCH_ADDRESS: &str = "frieda.fr@example.com";
const CONFIRM_SUBJECT: &str = "Confirm your new e-mail address";
const NOTICE_SUBJECT: &str = "A change of your e-mail address was asked";
const CONFIRM_SUBJECT_FR: &str = "Confirmez votre nouvelle adresse e-mail";
const NOTICE_SUBJECT_FR: &str = "Un changement de votre adresse e-mail a été demandé";
const LINK: &str = "#verify_email=";

#[actix_web::test]
async fn verified_email_change_end_to_end() {
    if !tools_available() {
        return;
    }
    let Some(smtp) = SmtpSink::start() else { return };
    let port = smtp.port;
    let app = spawn_with(Spawn {
        configure: Box::new(move |c| {
            c.outbox.poll_interval_ms = 20;
            c.notifications.smtp.host = "127.0.0.1".into();
            c.notifications.smtp.port = port;
            c.notifications.smtp.tls = accountd_service::config::SmtpTlsMode::None;
            c.notifications.account_page_url = MAIL_PAGE_URL.into();
            c.email.verify_changes = true;
            // Five changes are asked here; each counts like a password reset (3 by default).
            c.throttle.max_resets_per_account = 20;
        }),
        ..Spawn::default()
    })
    .await;
    let page = app.url("/account/");
    let old = stored_address(&app).await.expect("foouser's e-mail address");
    let driver = Driver::start().await.expect("chromedriver");
    let a = Browser::start(&driver, "email A", Options::default())
        .await
        .expect("browser email A");

    step("sign in: nothing waits", &a, async {
        a.goto(&page).await?;
        sign_in(&a, USER, DEMO_PASSWORD).await?;
        wait_value(&a, "#profile-emailAddress", &old).await?;
        expect_no_pending(&a).await?;
        let pending = pending_of(&app).await?;
        ensure!(
            pending["verifyChanges"] == true && pending["pending"] == Value::Null,
            "GET email_change: {pending}"
        );
        Ok(())
    })
    .await;

    let mut token = String::new();
    step("change the address: it waits", &a, async {
        a.fill("#profile-emailAddress", NEW_ADDRESS).await?;
        a.click("#profile-submit").await?;
        let status = wait_status(&a, "#profile-form", "#profile-status").await?;
        ensure!(
            status == "Saved. Your new e-mail address is waiting for confirmation.",
            "#profile-status says {status:?}"
        );
        let pending = expect_pending(&a, NEW_ADDRESS, &old).await?;
        ensure!(
            pending.starts_with(&format!(
                "Waiting for confirmation: {NEW_ADDRESS} — we sent a link to that address. Your address stays {old} until you follow it (link valid until "
            )),
            "#email-change-status says {pending:?}"
        );
        // The field, the page's own route and the seed routes all keep the old address.
        wait_value(&a, "#profile-emailAddress", &old).await?;
        ensure!(stored_address(&app).await? == old, "user_login_info has the new address");
        let profile = json_as(&app, "/api/v1/session/profile/").await?;
        ensure!(profile["emailAddress"] == old, "GET profile: {profile}");
        let axway = json_as(&app, "/api/portal/v1.3/currentuser/").await?;
        ensure!(axway["email"] == old, "Axway currentuser: {axway}");
        let pending = pending_of(&app).await?;
        ensure!(
            pending["verifyChanges"] == true && pending["pending"]["emailAddress"] == NEW_ADDRESS,
            "GET email_change: {pending}"
        );
        expect_labelled(&a).await?;
        a.scroll_to("#email-change", "center").await?;
        a.save_screen("email-change-pending").await?;

        // Loaded with the profile: a reload shows it again.
        a.reload().await?;
        a.wait_state("signed-in").await?;
        expect_pending(&a, NEW_ADDRESS, &old).await?;
        Ok(())
    })
    .await;

    step("the new address gets the link, the old one a notice", &a, async {
        let link = wait_mail(&smtp, NEW_ADDRESS, CONFIRM_SUBJECT, 1).await?;
        let text = link["text"].as_str().unwrap_or_default();
        token = link_token(text, LINK).context("no #verify_email=<token> in the mail")?;
        ensure!(
            text.contains(&format!("{MAIL_PAGE_URL}{LINK}{token}")),
            "the link is not on the configured page: {text}"
        );
        ensure!(token.len() >= 32, "a short token: {token:?}");
        let notice = wait_mail(&smtp, &old, NOTICE_SUBJECT, 1).await?;
        for part in ["text", "html"] {
            let body = notice[part].as_str().unwrap_or_default();
            ensure!(
                !body.contains(&token) && !body.contains(LINK),
                "the notice to the old address holds the link: {body}"
            );
        }
        Ok(())
    })
    .await;

    step("open the link: the address changes", &a, async {
        // A fresh page, as from a mail reader.
        a.goto("about:blank").await?;
        a.goto(&format!("{page}{LINK}{token}")).await?;
        let status = verify_outcome(&a, "ok").await?;
        ensure!(
            status == format!("Your e-mail address is now {NEW_ADDRESS}."),
            "#email-verify-status says {status:?}"
        );
        expect_no_token(&a, &token).await?;
        a.wait_state("signed-in").await?;
        wait_focus(&a, "email-verify-status").await?;
        wait_value(&a, "#profile-emailAddress", NEW_ADDRESS).await?;
        expect_no_pending(&a).await?;
        ensure!(
            stored_address(&app).await? == NEW_ADDRESS,
            "user_login_info has not the new address"
        );
        a.save_screen("email-change-confirmed").await
    })
    .await;

    step("the link works once", &a, async {
        // Pasted into the page already open: the fragment alone changes.
        a.goto(&format!("{page}{LINK}{token}")).await?;
        let status = verify_outcome(&a, "bad").await?;
        ensure!(status.starts_with("This link"), "#email-verify-status says {status:?}");
        expect_no_token(&a, &token).await?;
        wait_focus(&a, "email-verify-status").await?;
        ensure!(stored_address(&app).await? == NEW_ADDRESS, "the address changed");
        a.save_screen("email-change-link-used").await
    })
    .await;

    step("cancel a change: its link no longer works", &a, async {
        a.click("#email-verify-close").await?;
        a.wait_js(
            "#email-verify to go",
            "return document.getElementById('email-verify').hidden",
            vec![],
        )
        .await?;
        wait_focus(&a, "whoami").await?;

        a.fill("#profile-emailAddress", SECOND_ADDRESS).await?;
        a.click("#profile-submit").await?;
        expect_pending(&a, SECOND_ADDRESS, NEW_ADDRESS).await?;
        let link = wait_mail(&smtp, SECOND_ADDRESS, CONFIRM_SUBJECT, 1).await?;
        let second = link_token(link["text"].as_str().unwrap_or_default(), LINK).context("no link")?;
        // The address of the moment (the first change's) is told.
        wait_mail(&smtp, NEW_ADDRESS, NOTICE_SUBJECT, 1).await?;

        a.click("#email-change-cancel").await?;
        expect_no_pending(&a).await?;
        let status = wait_text(&a, "#profile-status", "cancelled").await?;
        ensure!(
            status == format!("The change was cancelled: your address stays {NEW_ADDRESS}."),
            "#profile-status says {status:?}"
        );
        wait_focus(&a, "profile-emailAddress").await?;
        let pending = pending_of(&app).await?;
        ensure!(pending["pending"] == Value::Null, "GET email_change: {pending}");

        a.goto(&format!("{page}{LINK}{second}")).await?;
        verify_outcome(&a, "bad").await?;
        expect_no_token(&a, &second).await?;
        wait_value(&a, "#profile-emailAddress", NEW_ADDRESS).await?;
        ensure!(
            stored_address(&app).await? == NEW_ADDRESS,
            "the cancelled change happened"
        );
        Ok(())
    })
    .await;

    step("a newer change, and a link signed out", &a, async {
        a.click("#email-verify-close").await?;
        a.fill("#profile-emailAddress", THIRD_ADDRESS).await?;
        a.click("#profile-submit").await?;
        expect_pending(&a, THIRD_ADDRESS, NEW_ADDRESS).await?;
        let third = wait_mail(&smtp, THIRD_ADDRESS, CONFIRM_SUBJECT, 1).await?;
        let third = link_token(third["text"].as_str().unwrap_or_default(), LINK).context("no link")?;
        a.fill("#profile-emailAddress", FOURTH_ADDRESS).await?;
        a.click("#profile-submit").await?;
        expect_pending(&a, FOURTH_ADDRESS, NEW_ADDRESS).await?;
        let fourth = wait_mail(&smtp, FOURTH_ADDRESS, CONFIRM_SUBJECT, 1).await?;
        let fourth = link_token(fourth["text"].as_str().unwrap_or_default(), LINK).context("no link")?;

        a.click("#signout").await?;
        a.wait_state("signed-out").await?;
        a.goto("about:blank").await?;
        a.goto(&format!("{page}{LINK}{third}")).await?;
        verify_outcome(&a, "bad").await?;
        a.wait_state("signed-out").await?;
        expect_no_token(&a, &third).await?;

        a.goto(&format!("{page}{LINK}{fourth}")).await?;
        let status = verify_outcome(&a, "ok").await?;
        ensure!(
            status == format!("Your e-mail address is now {FOURTH_ADDRESS}."),
            "#email-verify-status says {status:?}"
        );
        expect_no_token(&a, &fourth).await?;
        wait_focus(&a, "email-verify-status").await?;
        a.wait_state("signed-out").await?;
        expect_labelled(&a).await?;
        a.save_screen("email-change-signed-out").await?;
        ensure!(
            stored_address(&app).await? == FOURTH_ADDRESS,
            "the address did not change"
        );

        sign_in(&a, USER, DEMO_PASSWORD).await?;
        wait_value(&a, "#profile-emailAddress", FOURTH_ADDRESS).await?;
        expect_no_pending(&a).await
    })
    .await;

    step("in French", &a, async {
        a.click("#email-verify-close").await?;
        // The profile's language: the page's, and the mail's.
        a.fill("#profile-language", "French").await?;
        a.click("#profile-submit").await?;
        wait_status(&a, "#profile-form", "#profile-status").await?;
        expect_lang(&a, "fr").await?;

        a.fill("#profile-emailAddress", FRENCH_ADDRESS).await?;
        a.click("#profile-submit").await?;
        let status = wait_text(&a, "#profile-status", "attend sa confirmation").await?;
        ensure!(
            status == "Enregistré. Votre nouvelle adresse e-mail attend sa confirmation.",
            "#profile-status says {status:?}"
        );
        let pending = expect_pending(&a, FRENCH_ADDRESS, FOURTH_ADDRESS).await?;
        ensure!(
            pending.starts_with(&format!(
                "En attente de confirmation\u{a0}: {FRENCH_ADDRESS} — nous avons envoyé un lien à cette adresse. Votre adresse reste {FOURTH_ADDRESS} tant que vous ne l'avez pas suivi (lien valable jusqu'au "
            )),
            "#email-change-status says {pending:?}"
        );
        let cancel = a.text("#email-change-cancel").await?;
        ensure!(cancel == "Annuler ce changement", "#email-change-cancel says {cancel:?}");
        expect_labelled(&a).await?;
        a.scroll_to("#email-change", "center").await?;
        a.save_screen("email-change-french").await?;

        let link = wait_mail(&smtp, FRENCH_ADDRESS, CONFIRM_SUBJECT_FR, 1).await?;
        let french = link_token(link["text"].as_str().unwrap_or_default(), LINK).context("no link")?;
        wait_mail(&smtp, FOURTH_ADDRESS, NOTICE_SUBJECT_FR, 1).await?;

        a.goto(&format!("{page}{LINK}{french}")).await?;
        let status = verify_outcome(&a, "ok").await?;
        ensure!(
            status == format!("Votre adresse e-mail est désormais {FRENCH_ADDRESS}."),
            "#email-verify-status says {status:?}"
        );
        let title = a.text("#email-verify-title").await?;
        ensure!(title == "Votre nouvelle adresse e-mail", "#email-verify-title says {title:?}");
        wait_value(&a, "#profile-emailAddress", FRENCH_ADDRESS).await?;
        expect_no_pending(&a).await?;

        a.goto(&format!("{page}{LINK}{french}")).await?;
        let status = wait_text(&a, "#email-verify-status", "plus valable").await?;
        ensure!(
            status.starts_with("Ce lien n'est plus valable\u{a0}:"),
            "#email-verify-status says {status:?}"
        );
        ensure!(
            a.attr("#email-verify", "data-outcome").await?.as_deref() == Some("bad"),
            "#email-verify is not marked bad"
        );
        expect_no_token(&a, &french).await
    })
    .await;

    step("no script error or policy violation", &a, console_is_clean(&a)).await;
    a.close().await;
    drop(driver);
}

/// foouser's e-mail address as the seed route answers it (`user_login_info`).
async fn stored_address(app: &TestApp) -> Result<String> {
    let info = json_as(app, "/api/v1/session/user_login_info/").await?;
    info["profile"]["emailAddress"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no emailAddress in {info}"))
}

/// `GET /api/v1/session/email_change/` as foouser.
async fn pending_of(app: &TestApp) -> Result<Value> {
    json_as(app, "/api/v1/session/email_change/").await
}

/// `GET path` as foouser (HTTP Basic), expecting 200 and JSON.
async fn json_as(app: &TestApp, path: &str) -> Result<Value> {
    let response = app
        .fresh_client()
        .get(app.url(path))
        .basic_auth(USER, Some(DEMO_PASSWORD))
        .send()
        .await?;
    ensure!(response.status() == StatusCode::OK, "GET {path}: {}", response.status());
    Ok(response.json().await?)
}

/// Waits until the element `id` has the focus.
async fn wait_focus(browser: &Browser, id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let now = focused(browser).await?;
        if now == id {
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "the focus is on {now:?}, not #{id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the input `selector` holds `value`.
async fn wait_value(browser: &Browser, selector: &str, value: &str) -> Result<()> {
    browser
        .wait_js(
            &format!("{selector} to hold {value:?}"),
            "const e = document.querySelector(arguments[0]); return !!e && e.value === arguments[1]",
            vec![json!(selector), json!(value)],
        )
        .await
        .map(drop)
}

/// Waits until the pending change names `address` (and the address that stays, `current`) under
/// the field, a status region describing the field, with its Cancel button; returns its text.
async fn expect_pending(browser: &Browser, address: &str, current: &str) -> Result<String> {
    let status = wait_text(browser, "#email-change-status", address).await?;
    ensure!(status.contains(current), "#email-change-status says {status:?}");
    ensure!(
        browser.attr("#email-change-status", "role").await?.as_deref() == Some("status"),
        "#email-change-status is no status region"
    );
    let described = browser.attr("#profile-emailAddress", "aria-describedby").await?;
    ensure!(
        described.is_some_and(|d| d.split_whitespace().any(|id| id == "email-change-status")),
        "#profile-emailAddress is not described by the pending change"
    );
    browser.wait_visible("#email-change-cancel").await?;
    Ok(status)
}

/// Waits until no change is shown as pending (no text, no Cancel button).
async fn expect_no_pending(browser: &Browser) -> Result<()> {
    browser
        .wait_js(
            "no pending e-mail change",
            "const s = document.getElementById('email-change-status'); \
             const b = document.getElementById('email-change-cancel'); \
             return s.textContent.trim() === '' && s.getClientRects().length === 0 \
                && (!!b.closest('[hidden]') || b.getClientRects().length === 0)",
            vec![],
        )
        .await
        .map(drop)
}

/// Waits until the link's card says how it went (`outcome`: "ok" or "bad"); returns what it says.
async fn verify_outcome(browser: &Browser, outcome: &str) -> Result<String> {
    let text = browser
        .wait_js(
            &format!("#email-verify[data-outcome=\"{outcome}\"]"),
            "const c = document.getElementById('email-verify'); \
             const s = document.getElementById('email-verify-status'); \
             return !c.hidden && c.dataset.outcome === arguments[0] && s.classList.contains(arguments[0]) \
                ? s.textContent.trim() : ''",
            vec![json!(outcome)],
        )
        .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

/// Waits until `n` mails to `to` under `subject` have arrived (and no more); returns the last.
async fn wait_mail(smtp: &SmtpSink, to: &str, subject: &str, n: usize) -> Result<Value> {
    let mut mails = smtp
        .wait_for(n, |m| m["rcpt_tos"] == json!([to]) && m["subject"] == subject)
        .await
        .map_err(|e| anyhow::anyhow!("mail to {to} ({subject}): {e}"))?;
    ensure!(
        mails.len() == n,
        "{} mails to {to} ({subject}): {mails:#?}",
        mails.len()
    );
    Ok(mails.pop().unwrap_or_default())
}
