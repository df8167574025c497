//! [`SmtpMailer`]: the SMTP adapter of [`Mailer`] (issue 22, docs/notifications.md), with lettre:
//! STARTTLS (required, never opportunistic), TLS from the first byte, or plain SMTP to the
//! loopback only; optional authentication; a timeout on every SMTP command. The outbox worker
//! calls it, never a request.

use accountd_domain::ports::{Mail, Mailer, NotifyError};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, Transport};
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP, then `STARTTLS` before anything else (refused if the server doesn't offer it).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only to a server on the loopback (checked by the binary).
    None,
}

/// What the adapter needs; the password is the caller's to keep out of logs.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<(String, String)>,
    pub from: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends notification e-mail through one SMTP server.
pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the transport; no connection is made until the first message. The text of an
    /// error names what is wrong (the `from` address, the TLS settings), never the password.
    pub fn new(settings: &SmtpSettings) -> Result<Self, String> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("from {:?} is not an address: {e}", settings.from))?;
        let parameters = || {
            TlsParameters::new(settings.host.clone()).map_err(|e| format!("TLS settings for {}: {e}", settings.host))
        };
        let tls = match settings.security {
            SmtpSecurity::StartTls => Tls::Required(parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(parameters()?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = SmtpTransport::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some((username, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: &Mail) -> Result<(), NotifyError> {
        // A recipient lettre can't parse will never be deliverable: given up.
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| NotifyError::Permanent(format!("the recipient is not an address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}@accountd>", mail.id)))
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| NotifyError::Permanent(format!("the message could not be built: {e}")))?;
        match self.transport.send(&message) {
            Ok(_) => Ok(()),
            // A 5xx answer (a refused recipient, say) will not change by trying again.
            Err(err) if err.is_permanent() => Err(NotifyError::Permanent(format!("the SMTP server refused it: {err}"))),
            Err(err) => Err(NotifyError::Transient(format!("SMTP: {err}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: 1,
            security: SmtpSecurity::None,
            credentials: Some(("mailer".into(), "smtp-Secret-42".into())),
            from: "accountd <no-reply@example.com>".into(),
            timeout: Duration::from_millis(500),
        }
    }

    #[test]
    fn a_bad_sender_is_refused_and_the_password_never_shows() {
        let refused = SmtpMailer::new(&SmtpSettings {
            from: "not an address".into(),
            ..settings()
        })
        .unwrap_err();
        assert!(refused.contains("not an address"), "{refused}");
        assert!(!format!("{:?}", settings()).contains("smtp-Secret-42"));
    }

    #[test]
    fn an_unreachable_server_is_transient_and_a_bad_recipient_permanent() {
        let mailer = SmtpMailer::new(&settings()).unwrap();
        let mail = Mail {
            to: "user@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "<p>t</p>".into(),
            id: "0b6f4f57".into(),
        };
        assert!(matches!(mailer.send(&mail), Err(NotifyError::Transient(_))));
        let bad = Mail {
            to: "nobody".into(),
            ..mail
        };
        assert!(matches!(mailer.send(&bad), Err(NotifyError::Permanent(_))));
    }
}
