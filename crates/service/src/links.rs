//! Single-use links e-mailed to a user: a password reset (`reset`) and the confirmation of a new
//! e-mail address (`email_change`). One shape for both: 256 random bits, stored by their SHA-256
//! only; the token travels in the outbox sealed under the server's key ring with the user's UUID
//! as associated data (as TOTP secrets are), so the database never holds it readable; the e-mail
//! is written when the message is delivered.

use crate::outbox::DeliveryError;
use crate::{ServiceError, ServiceResult, Services};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{OutboxMessage, Store};
use accountd_domain::records::SealedSecret;
use accountd_domain::secret::TokenDigest;
use accountd_domain::user::{Timestamp, User};
use accountd_policy::tokens;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// An outbox message carrying a link: whom, the token sealed under the key ring, when the link
/// dies, the message's id (its `Message-ID`), and the address it goes to when that is not the
/// user's current one (a new address waiting for confirmation).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LinkPayload {
    user: i64,
    key_id: String,
    sealed: String,
    expires_at: i64,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

/// A new link: what the store keeps (the digest) and what the outbox carries.
pub(crate) struct NewLink {
    pub digest: TokenDigest,
    pub expires_at: Timestamp,
    pub payload: String,
}

/// A link's message, opened when it is delivered.
pub(crate) struct OpenedLink {
    pub user: User,
    /// The address to write to.
    pub to: String,
    pub token: String,
    /// The digest the store keeps, to check the link is still the live one.
    pub digest: TokenDigest,
}

impl<S: Store> Services<S> {
    /// A new link for `user` that works for `minutes`, sealed for the outbox; `to` when it goes
    /// to another address than the user's current one.
    pub(crate) fn new_link(&self, user: &User, minutes: u32, to: Option<String>) -> ServiceResult<NewLink> {
        let ring = self
            .key_ring
            .as_ref()
            .ok_or(ServiceError::ResetUnavailable("This server has no sealing keys."))?;
        let mut secret = [0u8; tokens::TOKEN_BYTES];
        self.random.fill(&mut secret);
        let token = tokens::encode_token(&secret);
        let mut nonce = [0u8; accountd_policy::factors::NONCE_BYTES];
        self.random.fill(&mut nonce);
        let sealed = ring
            .seal(token.as_bytes(), user.uuid.as_bytes(), nonce)
            .map_err(|e| ServiceError::Hashing(format!("sealing a link: {e}")))?;
        let expires_at = self.clock.now().plus_seconds(i64::from(minutes) * 60);
        let payload = LinkPayload {
            user: user.key.0,
            key_id: sealed.key_id,
            sealed: base64::engine::general_purpose::STANDARD.encode(&sealed.bytes),
            expires_at: expires_at.as_millis(),
            id: self.new_uuid().to_string(),
            to,
        };
        Ok(NewLink {
            digest: tokens::token_digest(&secret),
            expires_at,
            payload: serde_json::to_string(&payload).unwrap_or_default(),
        })
    }
}

/// The user who followed a link sent to them, as the principal of the change it makes: by
/// themself (they proved they read the mailbox), without a session.
pub(crate) fn holder(user: &User) -> accountd_domain::principal::Principal {
    accountd_domain::principal::Principal {
        user: user.clone(),
        auth: accountd_domain::principal::AuthMethod::Session,
        session: None,
        proved_at: None,
        enrollment_only: false,
        read_only: false,
        password_change_only: false,
        read_under: None,
    }
}

/// The token's digest as the store keeps it, or `None` for a token that can't be one.
pub(crate) fn link_digest(token: &str) -> Option<TokenDigest> {
    tokens::decode_token(token).map(|bytes| tokens::token_digest(&bytes))
}

/// Opens a link's message for delivery: `None` when it expired or there is nobody to write to
/// (the user is gone, or has no address); the message's id beside.
pub(crate) fn open_link<S: Store>(
    services: &Services<S>,
    message: &OutboxMessage,
) -> Result<Option<(OpenedLink, String)>, DeliveryError> {
    let payload: LinkPayload =
        serde_json::from_str(&message.payload).map_err(|e| DeliveryError::GiveUp(format!("payload: {e}")))?;
    if services.clock.now().as_millis() >= payload.expires_at {
        return Ok(None);
    }
    let user = services
        .store
        .read(|repo| repo.user_by_key(UserKey(payload.user)))
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    let Some(user) = user else { return Ok(None) };
    let Some(to) = payload
        .to
        .clone()
        .or_else(|| user.profile.email.as_ref().map(|e| e.to_string()))
    else {
        return Ok(None);
    };
    open(services, &payload, user, to).map(Some)
}

fn open<S: Store>(
    services: &Services<S>,
    payload: &LinkPayload,
    user: User,
    to: String,
) -> Result<(OpenedLink, String), DeliveryError> {
    let Some(ring) = &services.key_ring else {
        return Err(DeliveryError::Retry("no sealing keys on this instance".into()));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&payload.sealed)
        .map_err(|e| DeliveryError::GiveUp(format!("sealed link: {e}")))?;
    let token = ring
        .open(
            &SealedSecret {
                key_id: payload.key_id.clone(),
                bytes,
            },
            user.uuid.as_bytes(),
        )
        .map_err(|e| DeliveryError::GiveUp(format!("the link can't be opened: {e}")))?;
    let token = String::from_utf8_lossy(&token).into_owned();
    let digest = link_digest(&token).ok_or_else(|| DeliveryError::GiveUp("the sealed link is not a token".into()))?;
    Ok((
        OpenedLink {
            user,
            to,
            token,
            digest,
        },
        payload.id.clone(),
    ))
}

/// Sends a link's e-mail through the instance's mailer.
pub(crate) fn send<S: Store>(
    services: &Services<S>,
    to: String,
    written: crate::messages::Written,
    id: String,
) -> Result<(), DeliveryError> {
    let Some(mailer) = &services.mailer else {
        return Err(DeliveryError::Retry(
            "no SMTP server configured on this instance".into(),
        ));
    };
    let mail = accountd_domain::ports::Mail {
        to,
        subject: written.subject,
        text: written.text,
        html: written.html,
        id,
    };
    mailer.send(&mail).map_err(crate::notify::delivery_error)
}
