//! A forgotten password on the account page (issue 22, item 4), in headless Chromium against a
//! server that sends its e-mail to a real SMTP server (aiosmtpd, `tests/common/smtp_sink.rs`):
//! "Forgot your password?" asks for a link, the same answer for an account and for a name that
//! is none, and only the account's address gets a mail; the link opened in the browser leaves
//! the address bar at once, a weak password is refused by its field (the link still usable), a
//! good one ends every session (another browser's too); the link then no longer works; the new
//! password signs in and the old one no longer does; French; a server whose passwords live
//! elsewhere (SERVER_LOGIN) says so. The page is opened from the link both ways: loaded fresh,
//! and pasted into a page already open (a change of the fragment alone).

use super::{
    USER, console_is_clean, expect_labelled, expect_lang, expect_no_token, field_error, focused, sign_in, wait_text,
};
use crate::browser::{Browser, Driver, Options, step, tools_available};
use crate::helpers::{DEMO_PASSWORD, Spawn, TestApp, spawn_with};
use crate::smtp_sink::{SmtpSink, link_token};
use accountd_policy::mode::LoginMode;
use anyhow::{Context, Result, anyhow, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// The page address the server writes into its e-mail: the test browses the server's own.
const MAIL_PAGE_URL: &str = "https://accounts.example.com/account/";
/// The password chosen from the link.
const FRESH_PASSWORD: &str = "Fresh-Passw0rd!7";
const SENT: &str = "If an account matches, we sent a link to its e-mail address. It is valid for 30 minutes.";
const DONE: &str = "Your password was changed. Every session was signed out: sign in with your new password.";
const INVALID: &str = "This link is no longer valid: it was already used, or it is too old. Ask for a new link below.";

#[actix_web::test]
async fn password_reset_by_email_end_to_end() {
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
        }),
        ..Spawn::default()
    })
    .await;
    let page = app.url("/account/");
    let address = email_address(&app).await.expect("foouser's e-mail address");
    let driver = Driver::start().await.expect("chromedriver");
    let a = Browser::start(&driver, "reset A", Options::default())
        .await
        .expect("browser reset A");
    let b = Browser::start(&driver, "reset B", Options::default())
        .await
        .expect("browser reset B");

    step("another browser is signed in", &b, async {
        b.goto(&page).await?;
        sign_in(&b, USER, DEMO_PASSWORD).await
    })
    .await;

    let mut token = String::new();
    step("ask for a link", &a, async {
        a.goto(&page).await?;
        a.wait_state("signed-out").await?;
        let forgot = a.text("#forgot-password").await?;
        ensure!(forgot == "Forgot your password?", "#forgot-password says {forgot:?}");
        a.click("#forgot-password").await?;
        a.wait_state("reset-request").await?;
        ensure!(
            focused(&a).await? == "reset-login",
            "the focus is not on the login field"
        );
        let title = a.text("#signin-title").await?;
        ensure!(title == "Forgotten password", "#signin-title says {title:?}");
        expect_labelled(&a).await?;
        // A name is needed first.
        a.click("#reset-request-submit").await?;
        field_error(&a, "reset-login").await?;

        a.fill("#reset-login", USER).await?;
        a.click("#reset-request-submit").await?;
        let status = wait_text(&a, "#reset-request-status", SENT).await?;
        ensure!(status == SENT, "#reset-request-status says {status:?}");
        ensure!(
            a.attr("#reset-request-status", "role").await?.as_deref() == Some("status"),
            "#reset-request-status is no status region"
        );
        a.save_screen("reset-request").await?;

        let mails = wait_reset_mails(&smtp, 1).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mails_now = reset_mails(&smtp);
        ensure!(mails_now.len() == 1, "{} reset mails: {mails_now:#?}", mails_now.len());
        let mail = &mails[0];
        ensure!(
            mail["rcpt_tos"] == json!([address]),
            "the reset mail went to {}, not {address}",
            mail["rcpt_tos"]
        );
        let text = mail["text"].as_str().unwrap_or_default();
        token = link_token(text, "#reset=").context("no #reset=<token> in the mail")?;
        ensure!(
            text.contains(&format!("{MAIL_PAGE_URL}#reset={token}")),
            "the link is not on the configured page: {text}"
        );
        ensure!(token.len() >= 32, "a short token: {token:?}");
        eprintln!("reset mail: {:?}", mail["subject"]);
        Ok(())
    })
    .await;

    step("the same answer for a name that is no account", &a, async {
        let before = smtp.messages().len();
        a.click("#reset-request-back").await?;
        a.wait_state("signed-out").await?;
        a.click("#forgot-password").await?;
        a.wait_state("reset-request").await?;
        let cleared = a.text("#reset-request-status").await?;
        ensure!(cleared.is_empty(), "#reset-request-status still says {cleared:?}");
        a.fill("#reset-login", "nobody").await?;
        a.click("#reset-request-submit").await?;
        let status = wait_text(&a, "#reset-request-status", SENT).await?;
        ensure!(status == SENT, "#reset-request-status says {status:?}");
        // The outbox polls every 20 ms: whatever was to be sent would be by now.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let mails = reset_mails(&smtp);
        ensure!(mails.len() == 1, "{} reset mails: {mails:#?}", mails.len());
        let new: Vec<Value> = smtp.messages().into_iter().skip(before).collect();
        ensure!(smtp.messages().len() == before, "mail sent for \"nobody\": {new:#?}");
        // Asked too often (throttle.max_resets_per_account, 3): the server's words.
        for _ in 0..2 {
            a.click("#reset-request-submit").await?;
            wait_text(&a, "#reset-request-status", SENT).await?;
        }
        a.click("#reset-request-submit").await?;
        let status = wait_text(&a, "#reset-request-status", "Too many").await?;
        ensure!(
            status.starts_with("Too many failed attempts; try again in "),
            "#reset-request-status says {status:?}"
        );
        Ok(())
    })
    .await;

    step("open the link: a new password", &a, async {
        // A fresh page, as from a mail reader.
        a.goto("about:blank").await?;
        a.goto(&format!("{page}#reset={token}")).await?;
        a.wait_state("reset-confirm").await?;
        expect_no_token(&a, &token).await?;
        let title = a.text("#signin-title").await?;
        ensure!(title == "Choose a new password", "#signin-title says {title:?}");
        ensure!(
            focused(&a).await? == "reset-password",
            "the focus is not on the new password"
        );
        for hidden in ["#signin-form", "#reset-request-form", "#signin-factor-form", "#account"] {
            ensure!(
                a.eval(
                    "return document.querySelector(arguments[0]).getClientRects().length === 0",
                    vec![json!(hidden)]
                )
                .await?
                    == json!(true),
                "{hidden} is shown beside the new password form"
            );
        }
        expect_labelled(&a).await?;

        // The repetition is checked on the page.
        a.fill("#reset-password", FRESH_PASSWORD).await?;
        a.fill("#reset-repeat", "Fresh-Passw0rd!8").await?;
        a.click("#reset-confirm-submit").await?;
        let mismatch = field_error(&a, "reset-repeat").await?;
        ensure!(
            mismatch == "The passwords do not match.",
            "#reset-repeat-error says {mismatch:?}"
        );

        // A weak password: the server's refusal by the field.
        a.fill("#reset-password", "abc").await?;
        a.fill("#reset-repeat", "abc").await?;
        a.click("#reset-confirm-submit").await?;
        let error = field_error(&a, "reset-password").await?;
        ensure!(error.contains("At least"), "#reset-password-error says {error:?}");
        let described = a.attr("#reset-password", "aria-describedby").await?;
        ensure!(
            described.is_some_and(|d| d.split_whitespace().any(|id| id == "reset-password-error")),
            "#reset-password is not described by its error"
        );
        a.wait_state("reset-confirm").await?;
        a.save_screen("reset-confirm").await?;

        // The link still works.
        a.fill("#reset-password", FRESH_PASSWORD).await?;
        a.fill("#reset-repeat", FRESH_PASSWORD).await?;
        a.click("#reset-confirm-submit").await?;
        a.wait_state("signed-out").await?;
        let status = wait_text(&a, "#signin-status", DONE).await?;
        ensure!(status == DONE, "#signin-status says {status:?}");
        a.wait_visible("#signin-form").await?;
        let title = a.text("#signin-title").await?;
        ensure!(title == "Sign in", "#signin-title says {title:?}");
        a.save_screen("reset-done").await
    })
    .await;

    step("the other browser's session ended", &b, async {
        b.reload().await?;
        b.wait_state("signed-out").await
    })
    .await;

    step("the link works once", &a, async {
        // Pasted into the page already open: the fragment alone changes.
        a.goto(&format!("{page}#reset={token}")).await?;
        a.wait_state("reset-confirm").await?;
        expect_no_token(&a, &token).await?;
        a.fill("#reset-password", "Another-Passw0rd!9").await?;
        a.fill("#reset-repeat", "Another-Passw0rd!9").await?;
        a.click("#reset-confirm-submit").await?;
        a.wait_state("reset-request").await?;
        let status = wait_text(&a, "#reset-request-status", INVALID).await?;
        ensure!(status == INVALID, "#reset-request-status says {status:?}");
        ensure!(
            focused(&a).await? == "reset-login",
            "the focus is not on the login field"
        );
        a.save_screen("reset-link-used").await
    })
    .await;

    step("the new password signs in, the old one no longer", &a, async {
        a.click("#reset-request-back").await?;
        a.wait_state("signed-out").await?;
        a.fill("#signin-username", USER).await?;
        a.fill("#signin-password", DEMO_PASSWORD).await?;
        a.click("#signin-submit").await?;
        let error = wait_text(&a, "#signin-error", "Wrong").await?;
        ensure!(error == "Wrong username or password.", "#signin-error says {error:?}");
        sign_in(&a, USER, FRESH_PASSWORD).await?;
        let whoami = a.text("#whoami").await?;
        ensure!(whoami == USER, "#whoami says {whoami:?}");
        let old = app
            .fresh_client()
            .get(app.url("/api/v1/session/user_login_info/"))
            .basic_auth(USER, Some(DEMO_PASSWORD))
            .send()
            .await?;
        ensure!(
            old.status() == StatusCode::UNAUTHORIZED,
            "the old password over HTTP: {}",
            old.status()
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
        a.click("#signout").await?;
        a.wait_state("signed-out").await?;
        let forgot = a.text("#forgot-password").await?;
        ensure!(forgot == "Mot de passe oublié\u{a0}?", "#forgot-password says {forgot:?}");
        a.click("#forgot-password").await?;
        a.wait_state("reset-request").await?;
        let shown = texts_of(
            &a,
            &[
                "#signin-title",
                "label[for=\"reset-login\"]",
                "#reset-request-submit",
                "#reset-request-back",
            ],
        )
        .await?;
        ensure!(
            shown
                == [
                    "Mot de passe oublié",
                    "Nom d'utilisateur ou adresse e-mail",
                    "M'envoyer un lien",
                    "Retour à la connexion"
                ],
            "the request form in French: {shown:?}"
        );
        a.fill("#reset-login", "personne").await?;
        a.click("#reset-request-submit").await?;
        let status = wait_text(&a, "#reset-request-status", "Si un compte correspond").await?;
        ensure!(
            status
                == "Si un compte correspond, nous avons envoyé un lien à son adresse e-mail. Il est valable 30 minutes.",
            "#reset-request-status says {status:?}"
        );
        expect_labelled(&a).await?;
        a.save_screen("reset-request-french").await?;

        // The new password form, from a link the server has never made (nothing is sent before
        // the password is).
        a.goto(&format!("{page}#reset={}", "A".repeat(43))).await?;
        a.wait_state("reset-confirm").await?;
        let shown = texts_of(
            &a,
            &[
                "#signin-title",
                "label[for=\"reset-password\"]",
                "label[for=\"reset-repeat\"]",
                "#reset-confirm-submit",
            ],
        )
        .await?;
        ensure!(
            shown
                == [
                    "Choisissez un nouveau mot de passe",
                    "Nouveau mot de passe",
                    "Répétez le nouveau mot de passe",
                    "Enregistrer le nouveau mot de passe"
                ],
            "the new password form in French: {shown:?}"
        );
        expect_labelled(&a).await?;
        a.click("#reset-confirm-back").await?;
        a.wait_state("signed-out").await?;
        expect_lang(&a, "fr").await
    })
    .await;

    // Another server, where the Application Server checks passwords: the page says where they live.
    let elsewhere = spawn_with(Spawn {
        mode: LoginMode::ServerLogin,
        ..Spawn::default()
    })
    .await;
    step("passwords kept elsewhere", &a, async {
        a.goto(&elsewhere.url("/account/")).await?;
        a.wait_state("signed-out").await?;
        a.click("#forgot-password").await?;
        a.wait_state("reset-request").await?;
        a.fill("#reset-login", USER).await?;
        a.click("#reset-request-submit").await?;
        let status = wait_text(&a, "#reset-request-status", "SERVER_LOGIN").await?;
        ensure!(
            status.starts_with("Passwords are checked by the Application Server"),
            "#reset-request-status says {status:?}"
        );
        // In French: the page's sentence, then the server's words, marked as English.
        a.find("#lang-select")
            .await?
            .select_by_value("fr")
            .await
            .map_err(|e| anyhow!("choosing French: {e}"))?;
        a.click("#reset-request-submit").await?;
        let status = wait_text(&a, "#reset-request-status", "ne peut pas").await?;
        ensure!(
            status.starts_with("Le mot de passe de ce compte ne peut pas être réinitialisé ici. Passwords are")
                && a.count("#reset-request-status span[lang=\"en\"]").await? == 1,
            "#reset-request-status says {status:?}"
        );
        a.save_screen("reset-unavailable-french").await
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

/// foouser's e-mail address, as the server has it.
async fn email_address(app: &TestApp) -> Result<String> {
    let info: Value = app
        .fresh_client()
        .get(app.url("/api/v1/session/user_login_info/"))
        .basic_auth(USER, Some(DEMO_PASSWORD))
        .send()
        .await?
        .json()
        .await?;
    info["profile"]["emailAddress"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no emailAddress in {info}"))
}

/// The mails received so far that hold a reset link.
fn reset_mails(smtp: &SmtpSink) -> Vec<Value> {
    smtp.messages()
        .into_iter()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.contains("#reset=")))
        .collect()
}

/// Waits until `n` mails with a reset link have arrived; returns them.
async fn wait_reset_mails(smtp: &SmtpSink, n: usize) -> Result<Vec<Value>> {
    smtp.wait_for(n, |m| m["text"].as_str().is_some_and(|t| t.contains("#reset=")))
        .await
        .map_err(|e| anyhow::anyhow!("reset mails: {e}"))
}

/// The trimmed texts of `selectors`, in order.
async fn texts_of(browser: &Browser, selectors: &[&str]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for selector in selectors {
        out.push(browser.text(selector).await?);
    }
    Ok(out)
}
