//! How long a request's body may take to arrive (`http.body_timeout_ms`).
//!
//! actix's `client_request_timeout` (`server.client_request_timeout_ms`) bounds the headers of a
//! connection's first request and ends with them: nothing bounds the body. A client that declared
//! `Content-Length: 65536` and sent a byte a second held its connection (one of the worker's
//! `server.max_connections`) and a handler parked in its body extractor for as long as it kept
//! sending, 18 hours for the largest body accepted. [`body_deadline`] wraps the payload of every
//! request that has one in a stream that fails with [`BodyTimedOut`] once the deadline, counted
//! from the moment the headers were read, has passed; the extractors' error handlers
//! (crate::json, the form's in lib.rs) answer it with a 408 problem that names the limit.
//!
//! The body is read before a handler reaches the blocking pool, so a slow body never held a
//! blocking thread or a database connection: only its connection and a parked task.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::rt::time::{Sleep, sleep};
use actix_web::web::Bytes;
use futures_core::Stream;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The deadline of every body (app data, from `http.body_timeout_ms`).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// The error a body stream ends with when its deadline passed, inside a `PayloadError::Io` of
/// kind `TimedOut`.
#[derive(Debug)]
pub struct BodyTimedOut {
    pub after: Duration,
}

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} ms",
            self.after.as_millis()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// The deadline a payload error is the passing of, if it is.
pub fn timed_out(err: &PayloadError) -> Option<Duration> {
    match err {
        PayloadError::Io(io) => io.get_ref()?.downcast_ref::<BodyTimedOut>().map(|t| t.after),
        _ => None,
    }
}

/// Middleware: the request's payload, if it has one, under the app's [`BodyTimeout`].
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(BodyTimeout(after)) = req.app_data::<BodyTimeout>().copied() {
        let inner = req.take_payload();
        if matches!(inner, Payload::None) {
            req.set_payload(inner);
        } else {
            let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
                inner,
                sleep: Box::pin(sleep(after)),
                after,
                expired: false,
            });
            req.set_payload(Payload::from(stream));
        }
    }
    next.call(req).await
}

/// A payload that fails once `sleep` is over. The timer runs from creation, whether or not
/// anyone reads: a handler that reads late gets the error at once.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    after: Duration,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        // What has arrived is taken even at the deadline: a body complete in time is never refused.
        if let ready @ Poll::Ready(_) = Pin::new(&mut this.inner).poll_next(cx) {
            return ready;
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.expired = true;
            let err = std::io::Error::new(std::io::ErrorKind::TimedOut, BodyTimedOut { after: this.after });
            return Poll::Ready(Some(Err(PayloadError::Io(err))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse, web};

    /// A body that never ends.
    struct Stalled;

    impl Stream for Stalled {
        type Item = Result<Bytes, PayloadError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }

    async fn read(body: crate::json::Json<serde_json::Value>) -> HttpResponse {
        HttpResponse::Ok().json(body.into_inner())
    }

    #[actix_rt::test]
    async fn a_body_in_time_is_read_and_a_stalled_one_is_a_408_problem() {
        let app = actix_test::init_service(
            App::new()
                .app_data(BodyTimeout(Duration::from_millis(200)))
                .app_data(crate::json::config(1024))
                .wrap(actix_web::middleware::from_fn(body_deadline))
                .route("/", web::post().to(read)),
        )
        .await;
        let req = actix_test::TestRequest::post()
            .uri("/")
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"whole": true}"#)
            .to_request();
        let response = actix_test::call_service(&app, req).await;
        assert_eq!(response.status(), 200);

        let req = actix_test::TestRequest::post()
            .uri("/")
            .insert_header(("content-type", "application/json"))
            .insert_header(("content-length", "10"))
            .to_request();
        let stalled: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Stalled);
        let (req, _) = req.replace_payload(Payload::from(stalled));
        let started = std::time::Instant::now();
        let response = actix_test::call_service(&app, req).await;
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "not before the deadline"
        );
        assert_eq!(response.status(), 408);
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/problem+json"[..])
        );
        let problem: serde_json::Value = actix_test::read_body_json(response).await;
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains("200 ms")),
            "{problem}"
        );
    }

    #[test]
    fn a_timeout_is_recognised_and_nothing_else() {
        let err = PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            BodyTimedOut {
                after: Duration::from_millis(7),
            },
        ));
        assert_eq!(timed_out(&err), Some(Duration::from_millis(7)));
        assert_eq!(timed_out(&PayloadError::Overflow), None);
        let other = PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "elsewhere"));
        assert_eq!(timed_out(&other), None);
    }
}
