//! Operations endpoints and request metrics: `/healthz` (the process answers), `/readyz` (the store
//! is reachable and its migrations are applied), and Prometheus `/metrics` (text exposition).
//!
//! None of them needs credentials, so none belongs on a public listener: expose `/metrics` to the
//! scraper only (docs/deployment-postgres.md). The request metrics are labelled with the route
//! **pattern** (`/api/v1/tenants/{tenant}/groups/{group}/users/{user}/`), never the raw path, so the
//! number of series stays bounded whatever clients send; requests no route matches share the
//! label `unmatched`.
//!
//! What `/metrics` shows:
//! - `accountd_http_requests_total{method,route,status}` and
//!   `accountd_http_request_duration_seconds{method,route,status}` (histogram);
//! - `accountd_throttled_attempts_total{route}`: requests answered 429 (throttling is the only
//!   source of 429);
//! - `accountd_argon2_queue_length`, `accountd_argon2_in_use`, `accountd_argon2_permits`,
//!   `accountd_argon2_verifications_total`, `accountd_argon2_refused_total`: the bounded hashing
//!   pool;
//! - `accountd_db_pool_connections`, `accountd_db_pool_idle_connections`,
//!   `accountd_db_pool_max_size`: the store's connection pool;
//! - `accountd_upstream_in_flight`, `accountd_upstream_max_in_flight`,
//!   `accountd_upstream_breaker_state`, `accountd_upstream_fast_failures_total`: the Application
//!   Server guard, when there is one;
//! - `accountd_outbox_depth`, `accountd_outbox_oldest_age_seconds`, `accountd_divergences`: the
//!   durable outbox and the open divergences (shared by every instance on the database), and
//!   `accountd_outbox_delivered_total`, `accountd_outbox_delivery_failures_total`,
//!   `accountd_outbox_given_up_total`: this instance's deliveries since it started;
//! - `accountd_second_factor_checks_total{method, outcome}`: second-factor codes checked
//!   (`totp`, `recovery_code`, `passkey`, `password` for re-authentication; `accepted`,
//!   `refused`), and `passkey_clone` (refused): passkeys whose signature counter went backwards;
//! - `accountd_compromise_reports_total`: events users reported as not theirs ("this wasn't me")
//!   on this instance.

use crate::context::blocking;
use crate::error::ApiError;
use crate::{AppState, resource};
use accountd_domain::ports::Store;
use accountd_service::ServiceError;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpResponse, web};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::time::Duration;

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";

/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

pub(crate) fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(HEALTHZ).route(web::get().to(healthz)))
        .service(resource(READYZ).route(web::get().to(readyz::<S>)))
        .service(resource(METRICS).route(web::get().to(metrics::<S>)));
}

/// The process is up and serving: no database work, so a slow database never restarts it.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready for traffic: the store answers and no migration is pending; else 503 problem+json.
async fn readyz<S: Store>(state: web::Data<AppState<S>>) -> Result<HttpResponse, ApiError> {
    let services = state.services.clone();
    let upstream = state.services.upstream_guard_state();
    let checked = blocking(move || {
        services.check_ready()?;
        // Readiness is the store's; the outbox is detail (a backlog does not stop local work).
        Ok(services.outbox_status().ok())
    })
    .await;
    match checked {
        // An open breaker does not make the instance unready: local logins and reads still work,
        // and taking every instance out of rotation would spread an AS outage (docs/operations.md).
        Ok(outbox) => {
            let mut body = serde_json::json!({ "status": "ready" });
            if let Some(guard) = upstream {
                body["upstream"] = serde_json::json!({
                    "breaker": guard.breaker.as_str(),
                    "in_flight": guard.in_flight,
                    "max_in_flight": guard.max_in_flight,
                });
            }
            if let Some(outbox) = outbox {
                body["outbox"] = serde_json::json!({
                    "depth": outbox.depth,
                    "oldest_age_seconds": outbox.oldest_age_seconds,
                    "divergences": outbox.divergences,
                });
            }
            Ok(HttpResponse::Ok().json(body))
        }
        Err(ApiError::Service(ServiceError::Store(err))) => {
            tracing::warn!(error = %err, "not ready");
            Err(ApiError::NotReady)
        }
        Err(other) => Err(other),
    }
}

/// Prometheus text exposition of [`Metrics`], with the pools' gauges read now.
async fn metrics<S: Store>(state: web::Data<AppState<S>>) -> HttpResponse {
    let hasher = state.services.hasher();
    let m = &state.metrics;
    m.argon2_queue.set(gauge(hasher.queue_len()));
    m.argon2_in_use.set(gauge(hasher.in_use()));
    m.argon2_permits.set(gauge(hasher.permits()));
    let verifications = hasher.verifications();
    m.argon2_verifications
        .inc_by(verifications.saturating_sub(m.argon2_verifications.get()));
    m.argon2_refused
        .inc_by(hasher.refused().saturating_sub(m.argon2_refused.get()));
    if let Some(pool) = state.services.pool_use() {
        m.db_connections.set(i64::from(pool.connections));
        m.db_idle.set(i64::from(pool.idle));
        m.db_max.set(i64::from(pool.max_size));
    }
    if let Some(guard) = state.services.upstream_guard_state() {
        m.upstream_in_flight
            .set(i64::try_from(guard.in_flight).unwrap_or(i64::MAX));
        m.upstream_max_in_flight
            .set(i64::try_from(guard.max_in_flight).unwrap_or(i64::MAX));
        m.upstream_breaker.set(guard.breaker.code());
        m.upstream_fast_failures
            .inc_by(guard.fast_failures.saturating_sub(m.upstream_fast_failures.get()));
    }
    let services = state.services.clone();
    match blocking(move || services.outbox_status()).await {
        Ok(outbox) => {
            m.outbox_depth.set(saturating(outbox.depth));
            m.outbox_oldest_age.set(saturating(outbox.oldest_age_seconds));
            m.divergences.set(saturating(outbox.divergences));
            m.outbox_delivered
                .inc_by(outbox.delivered_total.saturating_sub(m.outbox_delivered.get()));
            m.outbox_failures
                .inc_by(outbox.failures_total.saturating_sub(m.outbox_failures.get()));
            m.outbox_given_up
                .inc_by(outbox.given_up_total.saturating_sub(m.outbox_given_up.get()));
        }
        // The store is down: the outbox gauges keep their last values; /readyz says why.
        Err(err) => tracing::warn!(error = %err, "could not read the outbox for /metrics"),
    }
    for (method, accepted, count) in state.services.factor_counts() {
        let counter = m
            .second_factor_checks
            .with_label_values(&[method, if accepted { "accepted" } else { "refused" }]);
        counter.inc_by(count.saturating_sub(counter.get()));
    }
    m.compromise_reports.inc_by(
        state
            .services
            .compromise_reports()
            .saturating_sub(m.compromise_reports.get()),
    );
    let mut body = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(err) = encoder.encode(&m.registry.gather(), &mut body) {
        tracing::error!(error = %err, "encoding the metrics failed");
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, encoder.format_type()))
        .body(body)
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn saturating(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The server's metrics: one registry per server (tests run several in one process).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    throttled: IntCounterVec,
    argon2_queue: IntGauge,
    argon2_in_use: IntGauge,
    argon2_permits: IntGauge,
    argon2_verifications: IntCounter,
    argon2_refused: IntCounter,
    db_connections: IntGauge,
    db_idle: IntGauge,
    db_max: IntGauge,
    upstream_in_flight: IntGauge,
    upstream_max_in_flight: IntGauge,
    upstream_breaker: IntGauge,
    upstream_fast_failures: IntCounter,
    outbox_depth: IntGauge,
    outbox_oldest_age: IntGauge,
    divergences: IntGauge,
    outbox_delivered: IntCounter,
    outbox_failures: IntCounter,
    outbox_given_up: IntCounter,
    second_factor_checks: IntCounterVec,
    compromise_reports: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency buckets, in seconds: from a cached read (~1 ms) to a queued argon2 burst.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    /// A fresh registry with every accountd metric.
    #[allow(clippy::expect_used)] // names and labels are constants: only a typo here can fail
    pub fn new() -> Self {
        let registry = Registry::new();
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("accountd_http_requests_total", "HTTP requests answered."),
            &labels,
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "accountd_http_request_duration_seconds",
                "Time from the request's arrival to its response, in seconds.",
            )
            .buckets(BUCKETS.to_vec()),
            &labels,
        )
        .expect("valid metric");
        let throttled = IntCounterVec::new(
            Opts::new(
                "accountd_throttled_attempts_total",
                "Attempts refused by brute-force throttling (answered 429).",
            ),
            &["route"],
        )
        .expect("valid metric");
        let int_gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let metrics = Self {
            requests,
            duration,
            throttled,
            argon2_queue: int_gauge(
                "accountd_argon2_queue_length",
                "Hash or verification requests waiting for an argon2 permit.",
            ),
            argon2_in_use: int_gauge("accountd_argon2_in_use", "argon2 permits taken now (hashes running)."),
            argon2_permits: int_gauge(
                "accountd_argon2_permits",
                "argon2 permits: the most hashes that run at once.",
            ),
            argon2_verifications: IntCounter::new(
                "accountd_argon2_verifications_total",
                "Password and PIN verifications run (real and dummy).",
            )
            .expect("valid metric"),
            argon2_refused: IntCounter::new(
                "accountd_argon2_refused_total",
                "Hashes refused with 503 hashing-busy: no permit came free within hashing.queue_timeout_ms.",
            )
            .expect("valid metric"),
            db_connections: int_gauge("accountd_db_pool_connections", "Database connections open."),
            db_idle: int_gauge(
                "accountd_db_pool_idle_connections",
                "Open database connections not in use.",
            ),
            db_max: int_gauge("accountd_db_pool_max_size", "Most database connections the pool opens."),
            upstream_in_flight: int_gauge("accountd_upstream_in_flight", "Application Server calls running now."),
            upstream_max_in_flight: int_gauge(
                "accountd_upstream_max_in_flight",
                "The most Application Server calls that may run at once.",
            ),
            upstream_breaker: int_gauge(
                "accountd_upstream_breaker_state",
                "The Application Server circuit breaker: 0 closed, 1 open, 2 half-open.",
            ),
            upstream_fast_failures: IntCounter::new(
                "accountd_upstream_fast_failures_total",
                "Application Server calls refused without being made (in-flight bound or open breaker).",
            )
            .expect("valid metric"),
            outbox_depth: int_gauge(
                "accountd_outbox_depth",
                "Outbox messages not delivered yet (every instance's).",
            ),
            outbox_oldest_age: int_gauge(
                "accountd_outbox_oldest_age_seconds",
                "Age of the oldest undelivered outbox message, in seconds (0 when empty).",
            ),
            divergences: int_gauge(
                "accountd_divergences",
                "Recorded divergences between the local store and the Application Server no operator has resolved.",
            ),
            outbox_delivered: IntCounter::new(
                "accountd_outbox_delivered_total",
                "Outbox messages this instance delivered.",
            )
            .expect("valid metric"),
            outbox_failures: IntCounter::new(
                "accountd_outbox_delivery_failures_total",
                "Failed outbox delivery attempts of this instance.",
            )
            .expect("valid metric"),
            outbox_given_up: IntCounter::new(
                "accountd_outbox_given_up_total",
                "Outbox messages this instance gave up (each recorded as a divergence).",
            )
            .expect("valid metric"),
            second_factor_checks: IntCounterVec::new(
                Opts::new(
                    "accountd_second_factor_checks_total",
                    "Second-factor codes this instance checked, by method (totp, recovery_code, password for \
                     re-authentication) and outcome (accepted, refused).",
                ),
                &["method", "outcome"],
            )
            .expect("valid metric"),
            compromise_reports: IntCounter::new(
                "accountd_compromise_reports_total",
                "Events users reported as not theirs (\"this wasn't me\") on this instance: each ended the user's \
                 sessions and tokens.",
            )
            .expect("valid metric"),
            registry,
        };
        let up = IntGauge::new("accountd_up", "1 while the server runs.").expect("valid metric");
        up.set(1);
        let collectors: [Box<dyn prometheus::core::Collector>; 24] = [
            Box::new(metrics.requests.clone()),
            Box::new(metrics.duration.clone()),
            Box::new(metrics.throttled.clone()),
            Box::new(metrics.argon2_queue.clone()),
            Box::new(metrics.argon2_in_use.clone()),
            Box::new(metrics.argon2_permits.clone()),
            Box::new(metrics.argon2_verifications.clone()),
            Box::new(metrics.argon2_refused.clone()),
            Box::new(metrics.db_connections.clone()),
            Box::new(metrics.db_idle.clone()),
            Box::new(metrics.db_max.clone()),
            Box::new(metrics.upstream_in_flight.clone()),
            Box::new(metrics.upstream_max_in_flight.clone()),
            Box::new(metrics.upstream_breaker.clone()),
            Box::new(metrics.upstream_fast_failures.clone()),
            Box::new(metrics.outbox_depth.clone()),
            Box::new(metrics.outbox_oldest_age.clone()),
            Box::new(metrics.divergences.clone()),
            Box::new(metrics.outbox_delivered.clone()),
            Box::new(metrics.outbox_failures.clone()),
            Box::new(metrics.outbox_given_up.clone()),
            Box::new(metrics.second_factor_checks.clone()),
            Box::new(metrics.compromise_reports.clone()),
            Box::new(up),
        ];
        for collector in collectors {
            metrics.registry.register(collector).expect("unique metric names");
        }
        metrics
    }

    /// Counts one answered request under its route pattern (or [`UNMATCHED`]).
    pub fn observe(&self, method: &Method, route: Option<&str>, status: StatusCode, elapsed: Duration) {
        let route = route.unwrap_or(UNMATCHED);
        let status_label = status.as_str();
        let labels = [method_label(method), route, status_label];
        self.requests.with_label_values(&labels).inc();
        self.duration.with_label_values(&labels).observe(elapsed.as_secs_f64());
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.throttled.with_label_values(&[route]).inc();
        }
    }
}

/// The method as a label: the standard ones by name, anything else `OTHER` (bounded series).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(metrics: &Metrics) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&metrics.registry.gather())
            .unwrap()
    }

    #[test]
    fn requests_are_counted_by_pattern_method_and_status() {
        let m = Metrics::new();
        let route = Some("/api/v1/tenants/{tenant}/groups/{group}/users/{user}/");
        m.observe(&Method::GET, route, StatusCode::OK, Duration::from_millis(3));
        m.observe(&Method::GET, route, StatusCode::OK, Duration::from_millis(30));
        m.observe(
            &Method::POST,
            Some("/api/v1/login/"),
            StatusCode::TOO_MANY_REQUESTS,
            Duration::ZERO,
        );
        m.observe(
            &Method::from_bytes(b"BREW").unwrap(),
            None,
            StatusCode::NOT_FOUND,
            Duration::ZERO,
        );
        let out = text(&m);
        assert!(
            out.contains(
                "accountd_http_requests_total{method=\"GET\",route=\"/api/v1/tenants/{tenant}/groups/{group}/users/{user}/\",status=\"200\"} 2"
            ),
            "{out}"
        );
        assert!(
            out.contains("accountd_throttled_attempts_total{route=\"/api/v1/login/\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("accountd_http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("accountd_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/tenants/{tenant}/groups/{group}/users/{user}/\",status=\"200\",le=\"0.005\"} 1"),
            "{out}"
        );
    }

    #[test]
    fn every_server_has_its_own_registry() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.observe(&Method::GET, Some("/healthz"), StatusCode::OK, Duration::ZERO);
        assert!(text(&a).contains("accountd_http_requests_total"));
        assert!(!text(&b).contains("route=\"/healthz\""));
    }
}
