//! Notifications (issue 22, docs/notifications.md): what happens to an account, told to
//! integrators' webhooks, through the durable outbox.
//!
//! # One home: the audit event
//!
//! Every change a user should hear about is already recorded as an audit event, in the change's
//! own transaction. `Services::record` records it and, in the same transaction, puts one outbox
//! message per interested webhook endpoint: the notification is stored if and only if the change
//! is. The outbox worker delivers it at least once, with backoff; the event's `id` is stable
//! across attempts, so a receiver drops the rare duplicate.
//!
//! # Events
//!
//! Successful audit events map to notification types ([`kind_of`]): `sign_in`,
//! `password_changed`, `pin_changed`, `factor_added`, `factor_removed`, `factors_reset`,
//! `token_created`, `compromise_reported`, `changed_by_administrator` and
//! `email_change_requested`. Refusals and reads are not notified.
//!
//! # Webhooks
//!
//! A POST of a CloudEvents 1.0 event in structured mode (`application/cloudevents+json`), signed
//! with HMAC-SHA256 under the endpoint's secret over `"{t}.{body}"`, where `t` is the Unix time of
//! the attempt: `Accountd-Signature: t=<t>,v1=<hex>`. Receivers refuse a `t` more than 5 minutes
//! away from their clock (the replay window) and compare the MAC in constant time.
//! Messages carry no user key of the outbox (`user` is `None`): a webhook that is down never holds
//! back an Application Server realignment of the same user, and no user claim is taken.

use crate::Services;
use crate::outbox::{DeliveryError, OutboxHandler};
use accountd_domain::ports::{NewOutboxMessage, NotifyError, OutboxMessage, Repository, Store, StoreResult};
use accountd_domain::records::{AuditAction, AuditEvent, AuditOutcome};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Outbox topic of a webhook delivery.
pub const NOTIFY_WEBHOOK: &str = "notify.webhook";
/// Outbox topic of an e-mail to the user.
pub const NOTIFY_EMAIL: &str = "notify.email";
/// How far a receiver should accept the signature's time from its own clock.
pub const REPLAY_WINDOW_SECONDS: i64 = 300;
/// The header of the signature.
pub const SIGNATURE_HEADER: &str = "Accountd-Signature";

/// Every notification type, in documentation order.
pub const KINDS: [&str; 10] = [
    "sign_in",
    "password_changed",
    "pin_changed",
    "factor_added",
    "factor_removed",
    "factors_reset",
    "token_created",
    "compromise_reported",
    "changed_by_administrator",
    "email_change_requested",
];

/// The notification type of an audit event, if users hear about it.
pub fn kind_of(event: &AuditEvent) -> Option<&'static str> {
    if event.outcome != AuditOutcome::Success {
        return None;
    }
    // An administrator, or the operator's tools (no acting user).
    let by_someone_else = event.actor != event.subject;
    Some(match event.action {
        AuditAction::Login => "sign_in",
        AuditAction::PasswordChange => "password_changed",
        AuditAction::PinChange => "pin_changed",
        // Begun enrollments are not a factor yet.
        AuditAction::FactorEnroll if event.fields.iter().any(|f| f == "confirmed") => "factor_added",
        AuditAction::FactorRemove => "factor_removed",
        AuditAction::FactorReset => "factors_reset",
        AuditAction::TokenCreate => "token_created",
        AuditAction::CompromiseReport => "compromise_reported",
        AuditAction::ProfileUpdate | AuditAction::AccountUpdate if by_someone_else => "changed_by_administrator",
        AuditAction::EmailChangeRequest if !event.fields.iter().any(|f| f == "cancelled") => "email_change_requested",
        _ => return None,
    })
}

/// The CloudEvents 1.0 event of a notification (structured mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    /// Stable across delivery attempts: receivers drop a duplicate by it.
    pub id: String,
    pub source: String,
    /// `accountd.<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the change happened (RFC 3339, UTC).
    pub time: String,
    /// The user's UUID.
    pub subject: String,
    pub datacontenttype: String,
    pub data: EventData,
}

/// What a notification says. Never a secret: names of members, not values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    pub username: String,
    /// The audit log's action and members (`password`, `firstName`, `passkey`, `event:12`).
    pub action: String,
    pub fields: Vec<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    /// Someone else who acted (an administrator), by name.
    pub by: Option<String>,
}

/// An outbox message of [`NOTIFY_WEBHOOK`]: the endpoint (by name) and the event, fixed when the
/// change happened.
#[derive(Debug, Serialize, Deserialize)]
struct WebhookPayload {
    endpoint: String,
    event: CloudEvent,
}

/// An outbox message of [`NOTIFY_EMAIL`]: whom (their address and language are read when it is
/// sent, unless `to` fixed the address) and the event.
#[derive(Debug, Serialize, Deserialize)]
struct MailPayload {
    user: i64,
    event: CloudEvent,
    /// The address of the time, for a notice that must reach it even if the address changes
    /// before it is sent (a change of address is told to the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">` (`None` only if HMAC refused the key,
/// which it does for no length).
pub fn signature(secret: &[u8], unix_seconds: i64, body: &str) -> Option<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("t={unix_seconds},v1={hex}"))
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl<S: Store> Services<S> {
    /// Records `event` in the audit log and, in the same transaction, the notifications it causes
    /// (one outbox message per webhook endpoint whose filter takes it). The one way use cases
    /// record an audit event inside their transaction.
    pub(crate) fn record(&self, repo: &mut dyn Repository, event: &AuditEvent) -> StoreResult<()> {
        repo.record_audit(event)?;
        let notifications = &self.config.notifications;
        let (Some(kind), Some(subject)) = (kind_of(event), event.subject) else {
            return Ok(());
        };
        let wanted: Vec<&crate::config::WebhookEndpoint> =
            notifications.webhooks.iter().filter(|e| e.wants(kind)).collect();
        let mail = notifications.smtp.enabled();
        if wanted.is_empty() && !mail {
            return Ok(());
        }
        let Some(user) = repo.user_by_key(subject)? else {
            return Ok(());
        };
        let cloud = CloudEvent {
            specversion: "1.0".to_owned(),
            id: self.new_uuid().to_string(),
            source: "urn:accountd".to_owned(),
            kind: format!("accountd.{kind}"),
            time: rfc3339(event.at.as_millis()),
            subject: user.uuid.to_string(),
            datacontenttype: "application/json".to_owned(),
            data: EventData {
                username: user.username.to_string(),
                action: event.action.as_str().to_owned(),
                fields: event.fields.clone(),
                address: event.client.address.clone(),
                user_agent: event.client.user_agent.clone(),
                by: match (event.actor, event.subject) {
                    (Some(actor), Some(subject)) if actor == subject => None,
                    // The operator's tools act without a user.
                    (None, _) => Some(event.actor_name.clone().unwrap_or_else(|| "operator".to_owned())),
                    _ => event.actor_name.clone(),
                },
            },
        };
        let now = self.clock.now();
        let mut enqueue = |topic: &str, payload: String| {
            repo.enqueue_outbox(
                &NewOutboxMessage {
                    topic: topic.to_owned(),
                    user: None,
                    payload,
                    not_before: now,
                },
                now,
            )
            .map(|_| ())
        };
        for endpoint in wanted {
            let payload = WebhookPayload {
                endpoint: endpoint.name.clone(),
                event: cloud.clone(),
            };
            enqueue(NOTIFY_WEBHOOK, serde_json::to_string(&payload).unwrap_or_default())?;
        }
        // A change of address is told to the address of the time (none: nobody to tell).
        let to = user.profile.email.as_ref().map(|e| e.to_string());
        let (mail, to) = match kind {
            "email_change_requested" => (mail && to.is_some(), to),
            _ => (mail, None),
        };
        if mail {
            let payload = MailPayload {
                user: subject.0,
                event: cloud,
                to,
            };
            enqueue(NOTIFY_EMAIL, serde_json::to_string(&payload).unwrap_or_default())?;
        }
        Ok(())
    }

    /// Sets the SMTP adapter e-mail goes through (the binary's, when `notifications.smtp` is on).
    pub fn set_mailer(&mut self, mailer: std::sync::Arc<dyn accountd_domain::ports::Mailer>) {
        self.mailer = Some(mailer);
    }

    /// Sets the client webhook deliveries go through (the binary's [`accountd_domain::ports::WebhookClient`]).
    pub fn set_webhook_client(&mut self, client: std::sync::Arc<dyn accountd_domain::ports::WebhookClient>) {
        self.webhook_client = Some(client);
    }
}

/// An outbound failure as the outbox sees it: a transient one is retried, a permanent one given
/// up.
pub(crate) fn delivery_error(err: NotifyError) -> DeliveryError {
    match err {
        NotifyError::Transient(text) => DeliveryError::Retry(text),
        NotifyError::Permanent(text) => DeliveryError::GiveUp(text),
    }
}

/// The user a message is for and their address now, read when it is sent; `None` when they are
/// gone or have no address (nobody to write to).
pub(crate) fn recipient<S: Store>(
    services: &Services<S>,
    user: accountd_domain::ids::UserKey,
) -> Result<Option<(accountd_domain::user::User, String)>, DeliveryError> {
    let user = services
        .store
        .read(|repo| repo.user_by_key(user))
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    Ok(user.and_then(|u| u.profile.email.clone().map(|e| (u, e.to_string()))))
}

/// Delivers [`NOTIFY_WEBHOOK`] messages: signs the event at the time of the attempt and posts it.
#[derive(Debug)]
pub struct NotifyWebhook;

impl<S: Store> OutboxHandler<S> for NotifyWebhook {
    fn topic(&self) -> &'static str {
        NOTIFY_WEBHOOK
    }

    fn deliver(&self, services: &Services<S>, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let payload: WebhookPayload =
            serde_json::from_str(&message.payload).map_err(|e| DeliveryError::GiveUp(format!("payload: {e}")))?;
        let Some(endpoint) = services
            .config
            .notifications
            .webhooks
            .iter()
            .find(|e| e.name == payload.endpoint)
        else {
            // The endpoint was removed from the configuration since: nobody to tell.
            tracing::info!(endpoint = %payload.endpoint, "a webhook endpoint is no longer configured; event dropped");
            return Ok(());
        };
        let Some(client) = &services.webhook_client else {
            return Err(DeliveryError::Retry("no webhook client on this instance".into()));
        };
        let body = serde_json::to_string(&payload.event).map_err(|e| DeliveryError::GiveUp(format!("event: {e}")))?;
        let now = services.clock.now().as_millis() / 1000;
        let headers = vec![
            (
                "Content-Type".to_owned(),
                "application/cloudevents+json; charset=utf-8".to_owned(),
            ),
            (
                SIGNATURE_HEADER.to_owned(),
                signature(endpoint.secret.expose().as_bytes(), now, &body)
                    .ok_or_else(|| DeliveryError::GiveUp("the secret can't key an HMAC".into()))?,
            ),
            ("Webhook-Id".to_owned(), payload.event.id.clone()),
        ];
        client.post(&endpoint.url, &headers, &body).map_err(|err| {
            delivery_error(match err {
                NotifyError::Transient(text) => NotifyError::Transient(format!("webhook {}: {text}", endpoint.name)),
                NotifyError::Permanent(text) => NotifyError::Permanent(format!("webhook {}: {text}", endpoint.name)),
            })
        })
    }
}

/// Delivers [`NOTIFY_EMAIL`] messages: the user's current address and language, the message of
/// [`crate::messages`].
#[derive(Debug)]
pub struct NotifyEmail;

impl<S: Store> OutboxHandler<S> for NotifyEmail {
    fn topic(&self) -> &'static str {
        NOTIFY_EMAIL
    }

    fn deliver(&self, services: &Services<S>, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let payload: MailPayload =
            serde_json::from_str(&message.payload).map_err(|e| DeliveryError::GiveUp(format!("payload: {e}")))?;
        let Some((user, current)) = recipient(services, accountd_domain::ids::UserKey(payload.user))? else {
            return Ok(());
        };
        let to = payload.to.clone().unwrap_or(current);
        let Some(mailer) = &services.mailer else {
            return Err(DeliveryError::Retry(
                "no SMTP server configured on this instance".into(),
            ));
        };
        let language = crate::messages::Lang::of(user.profile.language.as_ref().map(|l| l.as_str()));
        let written = crate::messages::mail(
            &payload.event,
            language,
            &services.config.notifications.account_page_url,
        );
        let mail = accountd_domain::ports::Mail {
            to,
            subject: written.subject,
            text: written.text,
            html: written.html,
            id: payload.event.id.clone(),
        };
        mailer.send(&mail).map_err(delivery_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::records::ClientInfo;
    use accountd_domain::user::Timestamp;

    fn event(action: AuditAction, fields: &[&str], outcome: AuditOutcome) -> AuditEvent {
        AuditEvent {
            at: Timestamp::from_millis(0),
            actor: Some(accountd_domain::ids::UserKey(1)),
            actor_name: Some("u".into()),
            subject: Some(accountd_domain::ids::UserKey(1)),
            action,
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            outcome,
            request_id: None,
            client: ClientInfo::default(),
            actor_level: None,
        }
    }

    #[test]
    fn only_successful_changes_are_notified() {
        assert_eq!(
            kind_of(&event(
                AuditAction::PasswordChange,
                &["password"],
                AuditOutcome::Success
            )),
            Some("password_changed")
        );
        assert_eq!(
            kind_of(&event(AuditAction::PasswordChange, &["password"], AuditOutcome::Denied)),
            None
        );
        assert_eq!(
            kind_of(&event(
                AuditAction::FactorEnroll,
                &["totp", "begun"],
                AuditOutcome::Success
            )),
            None
        );
        assert_eq!(
            kind_of(&event(
                AuditAction::FactorEnroll,
                &["totp", "confirmed"],
                AuditOutcome::Success
            )),
            Some("factor_added")
        );
        // Their own profile change is not notified; an administrator's is.
        let own = event(AuditAction::ProfileUpdate, &["firstName"], AuditOutcome::Success);
        assert_eq!(kind_of(&own), None);
        let theirs = AuditEvent {
            actor: Some(accountd_domain::ids::UserKey(2)),
            ..own
        };
        assert_eq!(kind_of(&theirs), Some("changed_by_administrator"));
        assert_eq!(
            kind_of(&event(AuditAction::AccountRead, &[], AuditOutcome::Success)),
            None
        );
        // A change of address asked is told; its cancellation is not.
        assert_eq!(
            kind_of(&event(
                AuditAction::EmailChangeRequest,
                &["emailAddress"],
                AuditOutcome::Success
            )),
            Some("email_change_requested")
        );
        assert_eq!(
            kind_of(&event(
                AuditAction::EmailChangeRequest,
                &["emailAddress", "cancelled"],
                AuditOutcome::Success
            )),
            None
        );
    }

    #[test]
    fn the_signature_is_an_hmac_over_time_and_body() {
        let signed = signature(b"Jefe", 1_700_000_000, "{}");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{}");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(signed, Some(format!("t=1700000000,v1={hex}")));
        assert_ne!(signature(b"Jefe", 1_700_000_001, "{}"), signed);
        assert_ne!(signature(b"other", 1_700_000_000, "{}"), signed);
    }
}
