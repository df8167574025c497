//! [`HttpWebhookClient`]: the webhook adapter of [`WebhookClient`] (issue 22,
//! docs/notifications.md). One blocking POST per delivery, with the connect and answer timeouts
//! of `[notifications]`, no redirects (a signed event goes where it was configured to go, or
//! nowhere). The outbox worker calls it, never a request.

use accountd_domain::ports::{NotifyError, WebhookClient};
use std::time::Duration;

/// Posts webhook events over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpWebhookClient {
    agent: ureq::Agent,
}

impl HttpWebhookClient {
    pub fn new(connect_timeout: Duration, timeout: Duration) -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(connect_timeout)
                .timeout(timeout)
                .redirects(0)
                .user_agent(concat!("accountd/", env!("CARGO_PKG_VERSION")))
                .build(),
        }
    }
}

/// Whether an answer's status is worth another attempt later.
fn transient(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

impl WebhookClient for HttpWebhookClient {
    fn post(&self, url: &str, headers: &[(String, String)], body: &str) -> Result<(), NotifyError> {
        let mut request = self.agent.post(url);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.send_string(body) {
            Ok(response) if (200..300).contains(&response.status()) => Ok(()),
            // A 3xx (redirects are not followed) or any other answer outside 2xx.
            Ok(response) | Err(ureq::Error::Status(_, response)) => {
                let status = response.status();
                let text = format!("the endpoint answered {status}");
                if transient(status) {
                    Err(NotifyError::Transient(text))
                } else {
                    Err(NotifyError::Permanent(text))
                }
            }
            // Unreachable, reset, timed out: the text is the kind alone (never the URL or body).
            Err(ureq::Error::Transport(transport)) => Err(NotifyError::Transient(format!(
                "the endpoint could not be reached ({})",
                transport.kind()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_errors_timeouts_and_throttling_are_retried() {
        for status in [500, 502, 503, 408, 429] {
            assert!(transient(status), "{status}");
        }
        for status in [400, 401, 403, 404, 410, 301] {
            assert!(!transient(status), "{status}");
        }
    }

    #[test]
    fn an_unreachable_endpoint_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = HttpWebhookClient::new(Duration::from_millis(500), Duration::from_millis(500));
        let err = client
            .post(&format!("http://127.0.0.1:{port}/hook"), &[], "{}")
            .unwrap_err();
        assert!(matches!(err, NotifyError::Transient(_)), "{err:?}");
        assert!(!err.to_string().contains("hook"), "{err}");
    }
}
