//! Verified e-mail changes (issue 22; docs/notifications.md, "Verified e-mail changes").
//!
//! With `email.verify_changes` on, a user's own change of their e-mail address (through any
//! dialect's profile update) does not change it: the address is split out of the change
//! (`Services::hold_new_email`), the rest of the change applies as always, and in the same
//! transaction the new address waits in `email_changes` with a single-use link (the `links`
//! module) e-mailed to it, while the old address is told (the `email_change_requested`
//! notification, sent to the address of the time). Until the link is followed, every seed route
//! answers the old address. Following it ([`Services::confirm_email_change`]) makes the change
//! through the one profile-update path, as the user, with the Application Server when the login
//! mode sends profile changes there.
//!
//! An administrator's (or the operator's) change of someone's address, and removing one's own
//! address, apply at once as before. A pending change ends when a newer one is asked, when it is
//! cancelled, when the address is set otherwise, on any password change or reset, and on "this
//! wasn't me" or "revoke everything".

use crate::outbox::{DeliveryError, OutboxHandler};
use crate::profile::Actor;
use crate::{RequestContext, ServiceError, ServiceResult, Services};
use accountd_domain::ports::{NewOutboxMessage, OutboxMessage, Repository, Store};
use accountd_domain::principal::Principal;
use accountd_domain::records::{AuditAction, AuditOutcome, PendingEmailChange};
use accountd_domain::text::EmailAddress;
use accountd_domain::user::{ProfileChange, User};

/// Outbox topic of the e-mail with the link, to the new address.
pub const NOTIFY_EMAIL_CHANGE: &str = "notify.email-change";

impl<S: Store> Services<S> {
    /// Splits a new address out of `change` (already less current values) when `actor` changes
    /// the address of `current` and that change must be verified: a user's own change to a new
    /// address, with `email.verify_changes` on. The rest of the change, and the address held.
    pub(crate) fn hold_new_email(
        &self,
        actor: Actor<'_>,
        current: &User,
        mut change: ProfileChange,
    ) -> (ProfileChange, Option<EmailAddress>) {
        let own = actor.principal().is_some_and(|p| p.user.key == current.key);
        if self.config.email.verify_changes && own && matches!(change.email, Some(Some(_))) {
            let new = change.email.take().flatten();
            return (change, new);
        }
        (change, None)
    }

    /// Before a change's transaction: a new address to verify counts against the user's
    /// requests (`throttle.max_resets_per_account` in the window, as password resets), so that a
    /// signed-in client can't make accountd mail any address at will.
    pub(crate) fn count_email_change(&self, user: &User, held: Option<&EmailAddress>) -> ServiceResult<()> {
        if held.is_some() {
            self.count_email_change_request(user.key)?;
        }
        Ok(())
    }

    /// Inside the change's transaction: `new` waits for confirmation (replacing a pending
    /// change), its link goes to it, and the old address is told.
    pub(crate) fn ask_email_change(
        &self,
        repo: &mut dyn Repository,
        actor: Actor<'_>,
        user: &User,
        new: &EmailAddress,
        ctx: &RequestContext,
    ) -> ServiceResult<()> {
        let minutes = self.config.email.change_link_minutes;
        let link = self.new_link(user, minutes, Some(new.to_string()))?;
        let now = self.clock.now();
        repo.put_email_change(
            user.key,
            &link.digest,
            &PendingEmailChange {
                email: new.clone(),
                created_at: now,
                expires_at: link.expires_at,
            },
        )?;
        repo.enqueue_outbox(
            &NewOutboxMessage {
                topic: NOTIFY_EMAIL_CHANGE.to_owned(),
                user: None,
                payload: link.payload,
                not_before: now,
            },
            now,
        )?;
        let event = self.audit_event(
            actor.principal(),
            Some(user.key),
            AuditAction::EmailChangeRequest,
            vec!["emailAddress".to_owned()],
            AuditOutcome::Success,
            ctx,
        );
        self.record(repo, &event)?;
        Ok(())
    }

    /// `GET /api/v1/session/email_change/`: the caller's pending change of address, if any.
    pub fn pending_email_change(&self, principal: &Principal) -> ServiceResult<Option<PendingEmailChange>> {
        let now = self.clock.now();
        Ok(self.store.read(|repo| repo.email_change(principal.user.key, now))?)
    }

    /// `DELETE /api/v1/session/email_change/`: the caller's pending change of address is
    /// cancelled (its link stops working); `false` when there was none.
    pub fn cancel_email_change(&self, principal: &Principal, ctx: &RequestContext) -> ServiceResult<bool> {
        self.store.write(|repo| {
            let cancelled = repo.delete_email_change(principal.user.key)?;
            if cancelled {
                let event = self.audit_event(
                    Some(principal),
                    Some(principal.user.key),
                    AuditAction::EmailChangeRequest,
                    vec!["emailAddress".to_owned(), "cancelled".to_owned()],
                    AuditOutcome::Success,
                    ctx,
                );
                self.record(repo, &event)?;
            }
            Ok(cancelled)
        })
    }

    /// `POST /api/v1/email_change/confirm/`: the link's new address becomes the user's, through
    /// the one profile-update path (and the Application Server when the login mode says), as the
    /// user themself; the link is used up with the change's local write, so a refused or failed
    /// change leaves it usable. An unknown, used, replaced, cancelled or expired link is
    /// [`ServiceError::EmailChangeLinkInvalid`]. Throttled as reset links are.
    pub fn confirm_email_change(&self, token: &str, ctx: &RequestContext) -> ServiceResult<EmailAddress> {
        self.count_reset_attempt(ctx)?;
        let digest = crate::links::link_digest(token).ok_or(ServiceError::EmailChangeLinkInvalid)?;
        let hex: String = digest.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.count_link_attempt(&hex)?;
        let now = self.clock.now();
        let (user, email) = self
            .store
            .read(|repo| {
                let Some((key, email)) = repo.email_change_link(&digest, now)? else {
                    return Ok(None);
                };
                Ok::<_, ServiceError>(repo.user_by_key(key)?.map(|user| (user, email)))
            })?
            .filter(|(user, _)| user.may_sign_in())
            .ok_or(ServiceError::EmailChangeLinkInvalid)?;
        let principal = crate::links::holder(&user);
        let change = ProfileChange {
            email: Some(Some(email.clone())),
            ..ProfileChange::default()
        };
        self.update_profile_by_link(Actor::Caller(&principal), user.key, &change, &digest, ctx)?;
        Ok(email)
    }
}

/// Delivers [`NOTIFY_EMAIL_CHANGE`] messages: the link to the new address, in the user's
/// language, while the change still waits (a replaced or cancelled change's link is not sent).
#[derive(Debug)]
pub struct NotifyEmailChange;

impl<S: Store> OutboxHandler<S> for NotifyEmailChange {
    fn topic(&self) -> &'static str {
        NOTIFY_EMAIL_CHANGE
    }

    fn deliver(&self, services: &Services<S>, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let Some((opened, id)) = crate::links::open_link(services, message)? else {
            return Ok(());
        };
        let now = services.clock.now();
        let live = services
            .store
            .read(|repo| repo.email_change_link(&opened.digest, now))
            .map_err(|e| DeliveryError::Retry(e.to_string()))?;
        if live.is_none() {
            return Ok(());
        }
        let link = format!(
            "{}#verify_email={}",
            services.config.notifications.account_page_url, opened.token
        );
        let language = crate::messages::Lang::of(opened.user.profile.language.as_ref().map(|l| l.as_str()));
        let written = crate::messages::email_change_mail(
            opened.user.username.as_str(),
            &link,
            services.config.email.change_link_minutes,
            language,
        );
        crate::links::send(services, opened.to, written, id)
    }
}
