//! Password reset by e-mail (issue 22, docs/notifications.md "Password reset").
//!
//! A request names a user (their username, or their e-mail address). The answer is the same
//! whether or not one exists. For each matching user who may sign in and has an address, a
//! single-use link (`<account page>#reset=<token>`, 256 random bits) is stored by its token's
//! SHA-256 and e-mailed through the outbox. The token travels in the outbox sealed with the
//! server's key ring (as TOTP secrets are), so the database never holds it readable. Following the
//! link sets a new password under the user's policy (the link survives a refused one), uses the
//! link up (once, across instances), ends every session of the user and every other link, ends a
//! demanded change ("this wasn't me"), and is notified as any password change.
//!
//! Only where accountd checks passwords: SERVER_LOGIN (the Application Server checks them) and
//! SSO_LOGIN_DEDICATED (the identity provider does) refuse with a problem saying so. In
//! LOCAL_LOGIN_DEDICATED the new password goes to the Application Server too, as every change.

use crate::outbox::{DeliveryError, OutboxHandler};
use crate::profile::{Actor, PreparedPassword};
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ids::{UserKey, Username};
use accountd_domain::ports::{NewOutboxMessage, OutboxMessage, Store};
use accountd_domain::records::{AuditAction, AuditOutcome};
use accountd_domain::secret::Password;
use accountd_domain::user::User;
use accountd_policy::mode::Authenticator;

/// Outbox topic of a reset link's e-mail.
pub const NOTIFY_RESET: &str = "notify.password-reset";
/// The most users one e-mail address may match (each gets their own link).
const MAX_MATCHES: u32 = 5;

impl<S: Store> Services<S> {
    /// Why password reset by e-mail can't be used here, if it can't.
    fn reset_unavailable(&self) -> Option<&'static str> {
        match self.config.apio.login_mode.authenticator() {
            Authenticator::ApplicationServer => {
                return Some(
                    "Passwords are checked by the Application Server in this login mode (SERVER_LOGIN): reset \
                     the password there, or ask an administrator.",
                );
            }
            Authenticator::IdentityProvider => {
                return Some(
                    "Passwords are kept by the identity provider in this login mode (SSO_LOGIN_DEDICATED): \
                     reset the password there.",
                );
            }
            Authenticator::Local => {}
        }
        if !self.config.notifications.smtp.enabled() || self.mailer.is_none() {
            return Some("This server sends no e-mail (notifications.smtp is not configured): ask an administrator.");
        }
        if self.key_ring.is_none() {
            return Some("This server has no sealing keys (security.keys): ask an administrator.");
        }
        None
    }

    /// `POST /api/v1/password_reset/`: e-mails a reset link to the user named `login` (a username
    /// or an e-mail address), if there is one. Throttled per name and per address; the same
    /// answer (`Ok`) whether or not the user exists.
    pub fn request_password_reset(&self, login: &str, ctx: &RequestContext) -> ServiceResult<()> {
        if let Some(why) = self.reset_unavailable() {
            return Err(ServiceError::ResetUnavailable(why));
        }
        let login = login.trim();
        self.count_reset_request(&login.to_lowercase(), ctx)?;
        let users = self.store.read(|repo| {
            if let Ok(name) = Username::parse(login)
                && let Some(user) = repo.user_by_username(&name)?
            {
                return Ok(vec![user]);
            }
            if login.contains('@') {
                return repo.users_by_email(login, MAX_MATCHES);
            }
            Ok(Vec::new())
        })?;
        for user in users {
            if user.may_sign_in() && user.profile.email.is_some() {
                self.send_reset_link(&user, login.contains('@'), ctx)?;
            }
        }
        Ok(())
    }

    fn send_reset_link(&self, user: &User, by_address: bool, ctx: &RequestContext) -> ServiceResult<()> {
        let link = self.new_link(user, self.config.notifications.reset_link_minutes, None)?;
        let now = self.clock.now();
        let kind = if by_address { "by_address" } else { "by_username" };
        let event = self.audit_event(
            None,
            Some(user.key),
            AuditAction::PasswordResetRequest,
            vec![kind.to_owned()],
            AuditOutcome::Success,
            ctx,
        );
        self.store.write(|repo| {
            repo.create_password_reset(&link.digest, user.key, now, link.expires_at)?;
            repo.enqueue_outbox(
                &NewOutboxMessage {
                    topic: NOTIFY_RESET.to_owned(),
                    user: None,
                    payload: link.payload.clone(),
                    not_before: now,
                },
                now,
            )?;
            self.record(repo, &event)?;
            Ok::<_, ServiceError>(())
        })
    }

    /// Inside a profile change's transaction: a new (or no) e-mail address ends the user's pending
    /// reset links, which went to the old one, and a pending verified change of the address.
    pub(crate) fn forget_links_if_address_changed(
        &self,
        repo: &mut dyn accountd_domain::ports::Repository,
        user: UserKey,
        change: &accountd_domain::user::ProfileChange,
    ) -> ServiceResult<()> {
        if change.email.is_some() {
            repo.delete_password_resets(user)?;
            repo.delete_email_change(user)?;
        }
        Ok(())
    }

    /// `POST /api/v1/password_reset/confirm/`: sets `new` as the password of the link's user.
    /// The policy's violations are all reported (and the link stays usable); an unknown, used or
    /// expired link is [`ServiceError::ResetLinkInvalid`].
    pub fn confirm_password_reset(&self, token: &str, new: &Password, ctx: &RequestContext) -> ServiceResult<()> {
        if let Some(why) = self.reset_unavailable() {
            return Err(ServiceError::ResetUnavailable(why));
        }
        self.count_reset_attempt(ctx)?;
        let digest = crate::links::link_digest(token).ok_or(ServiceError::ResetLinkInvalid)?;
        // At most LINK_ATTEMPTS tries per link in the window: a refusal leaves the link usable, and
        // its "reused" verdict must not become an oracle for the current password.
        let hex: String = digest.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.count_link_attempt(&hex)?;
        let now = self.clock.now();
        let user = self
            .store
            .read(|repo| {
                let Some(key) = repo.password_reset_user(&digest, now)? else {
                    return Ok(None);
                };
                repo.user_by_key(key)
            })?
            .filter(User::may_sign_in)
            .ok_or(ServiceError::ResetLinkInvalid)?;
        let rules = self.password_rules_for(user.level())?;
        let current = self.store.read(|repo| repo.password(user.key))?.map(|r| r.hash);
        let verdict = self.password_verdict(&user, &rules, Some(current.as_ref()), new)?;
        if !verdict.is_valid() {
            return Err(ServiceError::Policy {
                field: "newPassword",
                violations: verdict.violations,
            });
        }
        let hash = self.hasher.hash(new.expose(), self.random.as_ref())?;
        let upstream = self.password_goes_upstream();
        // Held to the end, as every change the Application Server sees (issue 15): another change
        // of this user waits, and a second confirmation of this link finds it used.
        let _claim = self.claim_user_if(upstream, user.key)?;
        if upstream {
            // Still there under the claim: the link is taken only with the local write, so an
            // Application Server that refuses or fails leaves it usable.
            let still = self
                .store
                .read(|repo| repo.password_reset_user(&digest, self.clock.now()))?;
            if still != Some(user.key) {
                return Err(ServiceError::ResetLinkInvalid);
            }
            self.upstream.set_password(&user, new)?;
        }
        // By the user themself (who proved they read the mailbox), stored as every password change.
        let principal = crate::links::holder(&user);
        let prepared = PreparedPassword::by_reset_link(hash, rules.history);
        let written = self.store.write(|repo| {
            repo.lock_account(user.key)?;
            if repo.take_password_reset(&digest, self.clock.now())? != Some(user.key) {
                return Err(ServiceError::ResetLinkInvalid);
            }
            // After the Application Server accepted: the version decided on, as a password change
            // checks (an interleaved change of the user is detected).
            if upstream && repo.user_by_key(user.key)?.map(|u| u.version) != Some(user.version) {
                return Err(ServiceError::PreconditionFailed);
            }
            self.apply_password(repo, Actor::Caller(&principal), &user, &prepared, ctx)
        });
        if upstream && let Err(err) = &written {
            self.report_upstream_password_divergence(&user, err);
        }
        written?;
        self.forget_basic(user.key);
        Ok(())
    }
}

/// Delivers [`NOTIFY_RESET`] messages: opens the sealed token and e-mails the link to the user's
/// current address, in their language. An expired link is not sent.
#[derive(Debug)]
pub struct NotifyReset;

impl<S: Store> OutboxHandler<S> for NotifyReset {
    fn topic(&self) -> &'static str {
        NOTIFY_RESET
    }

    fn deliver(&self, services: &Services<S>, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let Some((opened, id)) = crate::links::open_link(services, message)? else {
            return Ok(());
        };
        let notifications = &services.config.notifications;
        let link = format!("{}#reset={}", notifications.account_page_url, opened.token);
        let language = crate::messages::Lang::of(opened.user.profile.language.as_ref().map(|l| l.as_str()));
        let written = crate::messages::reset_mail(
            opened.user.username.as_str(),
            &link,
            notifications.reset_link_minutes,
            language,
        );
        crate::links::send(services, opened.to, written, id)
    }
}
