//! The HTTP adapter's settings ([`HttpUpstreamConfig`]) as read from accountd's configuration, and
//! their checks ([`HttpUpstreamConfig::validate`], [`ConfigError`]).
//!
//! Durations are written as milliseconds (`2000`, `"2000"`), or with a unit (`"250ms"`, `"2s"`), so
//! a file and an `ACCOUNTD__…` environment variable read the same; they serialise as milliseconds.
//! The API token never shows in `Debug` output nor in any error, and is left out when the settings
//! are serialised (to print the effective configuration, say).

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Where the Application Server's JSON API is and how long to wait for it.
///
/// The [`Default`] has an empty `base_url`, which [`HttpUpstreamConfig::validate`] refuses: it stands
/// for "not configured" while no HTTP Application Server is selected.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpUpstreamConfig {
    /// `https://as-gateway.example.net/accountd` (a path prefix is kept; a trailing `/` is ignored).
    pub base_url: String,
    /// Longest wait for the TCP (and TLS) connection. Default 2 s.
    #[serde(default = "default_connect_timeout", deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Longest wait for a whole exchange, connection included. Default 5 s.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Sent as `Authorization: Bearer <token>` on every request. Never printed.
    #[serde(default)]
    pub api_token: Option<String>,
    /// Allow `http://` to a host other than the loopback. Off by default: passwords, PINs and the
    /// token cross this connection, so anything but a loopback sidecar needs `https://`.
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// Default of [`HttpUpstreamConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default of [`HttpUpstreamConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest timeout accepted: a request holds a blocking-pool thread (and in a dual write, a
/// database write lock) for at most this long.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}

fn default_request_timeout() -> Duration {
    DEFAULT_REQUEST_TIMEOUT
}

/// Why an [`HttpUpstreamConfig`] can't be used. No variant carries the API token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `base_url` is not an absolute `http(s)://host[:port][/path]` URL; the text says why.
    #[error("upstream base_url is invalid: {0}")]
    BaseUrl(String),
    /// `base_url` is plain `http://` to a host that is not the loopback.
    #[error(
        "upstream base_url uses plain http:// to a non-loopback host: passwords would cross the network \
         unencrypted; use https:// or set allow_plain_http"
    )]
    PlainHttp,
    /// A timeout is zero or above [`MAX_TIMEOUT`]; names the setting.
    #[error("upstream {0} must be between 1 ms and {max} s", max = MAX_TIMEOUT.as_secs())]
    Timeout(&'static str),
    /// The API token is empty or holds characters a header can't carry (white space, control or
    /// non-ASCII characters).
    #[error("upstream api_token must be non-empty visible ASCII without spaces")]
    ApiToken,
}

impl HttpUpstreamConfig {
    /// Settings for `base_url` with the default timeouts, no token and `https://` required off the
    /// loopback.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            api_token: None,
            allow_plain_http: false,
        }
    }

    /// Checks every setting; returns the base URL without its trailing `/`, ready for paths.
    pub fn validate(&self) -> Result<String, ConfigError> {
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if value.is_zero() || value > MAX_TIMEOUT {
                return Err(ConfigError::Timeout(name));
            }
        }
        if let Some(token) = &self.api_token
            && (token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::ApiToken);
        }
        checked_url(&self.base_url, self.allow_plain_http)
    }
}

/// Checks an absolute `http(s)://host[:port][/path]` URL: no query, fragment, white space or user
/// info, and `https://` unless the host is the loopback or `allow_plain_http`. Returns it without
/// its trailing `/`. The Application Server's `base_url` and webhook endpoints (issue 22) are held
/// to it.
pub fn checked_url(url: &str, allow_plain_http: bool) -> Result<String, ConfigError> {
    let url = url.trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| ConfigError::BaseUrl("expected http:// or https://".to_owned()))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(ConfigError::BaseUrl(format!("unsupported scheme {scheme:?}")));
    }
    if url.contains(['?', '#']) {
        return Err(ConfigError::BaseUrl("no query or fragment allowed".to_owned()));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::BaseUrl("no white space allowed".to_owned()));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        // Credentials in the URL would end up in error texts; the token is the way to log in.
        return Err(ConfigError::BaseUrl(
            "no user info allowed (the API token or secret is configured apart)".to_owned(),
        ));
    }
    let host = host_of(authority);
    if host.is_empty() {
        return Err(ConfigError::BaseUrl("no host".to_owned()));
    }
    if scheme == "http" && !allow_plain_http && !is_loopback(host) {
        return Err(ConfigError::PlainHttp);
    }
    Ok(url.to_owned())
}

/// The host of `host[:port]` or `[v6]:port`, lower-cased brackets removed.
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Default for HttpUpstreamConfig {
    fn default() -> Self {
        Self::new("")
    }
}

impl Serialize for HttpUpstreamConfig {
    /// Every setting but the API token; durations in milliseconds.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut out = serializer.serialize_struct("HttpUpstreamConfig", 4)?;
        out.serialize_field("base_url", &self.base_url)?;
        out.serialize_field("connect_timeout", &millis(self.connect_timeout))?;
        out.serialize_field("request_timeout", &millis(self.request_timeout))?;
        out.serialize_field("allow_plain_http", &self.allow_plain_http)?;
        out.end()
    }
}

impl fmt::Debug for HttpUpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUpstreamConfig")
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("allow_plain_http", &self.allow_plain_http)
            .finish()
    }
}

/// A duration as milliseconds (number or digit string) or with a `ms`/`s` unit.
pub(crate) fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => parse_duration(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration {text:?}: use milliseconds (2000) or a unit (\"250ms\", \"2s\")"
            ))
        }),
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit_ms) = if let Some(d) = text.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = text.strip_suffix('s') {
        (d, 1000)
    } else {
        (text, 1)
    };
    let digits = digits.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(unit_ms).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from_json(value: serde_json::Value) -> Result<HttpUpstreamConfig, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn defaults_apply() {
        let c = from_json(json!({"base_url": "https://as.example.net"})).unwrap();
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(c.api_token, None);
        assert!(!c.allow_plain_http);
    }

    #[test]
    fn durations_take_milliseconds_or_a_unit() {
        let c = from_json(json!({
            "base_url": "https://as.example.net",
            "connect_timeout": 250,
            "request_timeout": "3s"
        }))
        .unwrap();
        assert_eq!(c.connect_timeout, Duration::from_millis(250));
        assert_eq!(c.request_timeout, Duration::from_secs(3));
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        for bad in ["", "s", "1.5s", "-1", "2m", "ms"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert!(from_json(json!({"base_url": "https://a", "request_timeout": "soon"})).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(from_json(json!({"base_url": "https://a", "retries": 3})).is_err());
        assert!(from_json(json!({})).is_err(), "base_url is required");
    }

    #[test]
    fn base_urls_are_checked() {
        let ok = |url: &str| HttpUpstreamConfig::new(url).validate();
        assert_eq!(ok("https://as.example.net/api/").unwrap(), "https://as.example.net/api");
        assert_eq!(ok("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert!(ok("http://localhost:1/x").is_ok());
        assert!(ok("http://[::1]:8080").is_ok());
        assert_eq!(ok("http://as.example.net"), Err(ConfigError::PlainHttp));
        assert_eq!(ok("http://10.0.0.5:80"), Err(ConfigError::PlainHttp));
        for bad in [
            "as.example.net",
            "ftp://as.example.net",
            "https://",
            "https://user:pw@as.example.net",
            "https://as.example.net/?x=1",
            "https://as example.net",
        ] {
            assert!(matches!(ok(bad), Err(ConfigError::BaseUrl(_))), "{bad}");
        }
        let mut plain = HttpUpstreamConfig::new("http://as-gateway:8080");
        plain.allow_plain_http = true;
        assert!(plain.validate().is_ok());
    }

    #[test]
    fn timeouts_and_tokens_are_checked() {
        let mut c = HttpUpstreamConfig::new("https://as.example.net");
        c.request_timeout = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::Timeout("request_timeout")));
        c.request_timeout = Duration::from_secs(121);
        assert_eq!(c.validate(), Err(ConfigError::Timeout("request_timeout")));
        c.request_timeout = DEFAULT_REQUEST_TIMEOUT;
        c.api_token = Some("has space".to_owned());
        assert_eq!(c.validate(), Err(ConfigError::ApiToken));
        c.api_token = Some(String::new());
        assert_eq!(c.validate(), Err(ConfigError::ApiToken));
        c.api_token = Some("abc.DEF-123_~+/=".to_owned());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn serialises_without_the_token_and_reads_back() {
        let mut c = HttpUpstreamConfig::new("https://as.example.net");
        c.connect_timeout = Duration::from_millis(750);
        c.api_token = Some("tok-SECRET-42".to_owned());
        let value = serde_json::to_value(&c).unwrap();
        assert_eq!(
            value,
            json!({
                "base_url": "https://as.example.net",
                "connect_timeout": 750,
                "request_timeout": 5000,
                "allow_plain_http": false
            })
        );
        let back = from_json(value).unwrap();
        assert_eq!(
            (
                back.base_url,
                back.connect_timeout,
                back.request_timeout,
                back.api_token
            ),
            (c.base_url, c.connect_timeout, c.request_timeout, None)
        );
    }

    #[test]
    fn the_default_is_not_a_usable_url() {
        let c = HttpUpstreamConfig::default();
        assert_eq!(c.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert!(matches!(c.validate(), Err(ConfigError::BaseUrl(_))));
    }

    #[test]
    fn debug_hides_the_token() {
        let mut c = HttpUpstreamConfig::new("https://as.example.net");
        c.api_token = Some("tok-SECRET-42".to_owned());
        let printed = format!("{c:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }
}
