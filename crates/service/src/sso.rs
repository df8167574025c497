//! SSO_LOGIN_DEDICATED: users prove who they are with a token signed by an external identity
//! provider, a JWT signed with Ed25519 (`"alg": "EdDSA"`) and checked against the configured public key.
//!
//! The `jsonwebtoken` crate parses the compact form, allows only `EdDSA` (never `none` nor a
//! symmetric algorithm a client could forge with a public key), verifies the signature and checks
//! `iss` and `aud` when configured. Around it, our own checks: the header is read first, so that a
//! token with a `crit` header is refused (RFC 7515 §4.1.11: we understand no extension; the crate
//! ignores `crit`) and a wrong `alg` is named in the log; the claims' types are ours (a string `iss`,
//! integer `exp`/`nbf`); and `exp` and `nbf` are checked, with a small leeway for clock skew, against
//! the caller's clock rather than the system clock the crate would read. The token must carry `sub`
//! (the username) and `exp`.

use accountd_domain::ids::Username;
use accountd_domain::user::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::DecodePublicKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

/// Identity-provider settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoConfig {
    /// The provider's Ed25519 public key: PEM (`-----BEGIN PUBLIC KEY-----`) or the base64 of its 32 bytes.
    pub public_key: Option<String>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud` (or one of them), when set.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_seconds: i64,
    /// The longest lifetime a token may claim (`exp` − `iat`, or `exp` − now without `iat`);
    /// a longer-lived one is refused, so a leaked long-lived token can't be replayed for long.
    /// `None` accepts any lifetime.
    pub max_lifetime_seconds: Option<i64>,
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            public_key: None,
            issuer: None,
            audience: None,
            leeway_seconds: 60,
            max_lifetime_seconds: Some(12 * 3600),
        }
    }
}

/// Why a token was refused. The text is for logs; clients get a generic 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error("the SSO public key is not valid: {0}")]
    BadKey(String),
    #[error("not a JWT")]
    Malformed,
    #[error("algorithm {0:?} is not accepted (only EdDSA)")]
    Algorithm(String),
    #[error("the token has a crit header: it needs extensions we do not understand")]
    Critical,
    #[error("the signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("claim {0} is missing or wrong")]
    Claim(&'static str),
    #[error("the token lives longer than the configured maximum")]
    TooLongLived,
}

/// `aud`: a string or a list of strings (jsonwebtoken compares the value).
#[derive(Deserialize)]
#[serde(untagged)]
#[expect(dead_code, reason = "read for its type only")]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims we read, with the types we accept: a token whose `iss` is not a string, or whose
/// `exp` is not an integer, is malformed.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    // Checked by jsonwebtoken; here for their types.
    #[serde(rename = "iss")]
    _iss: Option<String>,
    #[serde(rename = "aud")]
    _aud: Option<Audience>,
}

/// Checks identity-provider tokens.
#[derive(Debug, Clone)]
pub struct SsoVerifier {
    key: DecodingKey,
    validation: Validation,
    leeway_seconds: i64,
    max_lifetime_seconds: Option<i64>,
}

/// The registered claims [`Validation`] can require, by their `&'static` names.
const CLAIM_NAMES: [&str; 5] = ["exp", "nbf", "sub", "iss", "aud"];

impl SsoVerifier {
    /// `None` when no public key is configured.
    pub fn from_config(config: &SsoConfig) -> Result<Option<Self>, SsoError> {
        let Some(text) = config.public_key.as_deref().map(str::trim) else {
            return Ok(None);
        };
        // ed25519-dalek reads both forms and refuses bytes that are not a curve point, so the key
        // handed to jsonwebtoken is always 32 valid bytes.
        let key = if text.starts_with("-----BEGIN") {
            VerifyingKey::from_public_key_pem(text).map_err(|e| SsoError::BadKey(e.to_string()))?
        } else {
            let bytes = STANDARD.decode(text).map_err(|e| SsoError::BadKey(e.to_string()))?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| SsoError::BadKey("an Ed25519 public key is 32 bytes".into()))?;
            VerifyingKey::from_bytes(&bytes).map_err(|e| SsoError::BadKey(e.to_string()))?
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        // exp and nbf are ours, against the caller's clock (see `verify`).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // As before: with no audience configured, `aud` is not checked (jsonwebtoken would
            // refuse any token that has one).
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Some(Self {
            key: DecodingKey::from_ed_der(key.as_bytes()),
            validation,
            leeway_seconds: config.leeway_seconds.max(0),
            max_lifetime_seconds: config.max_lifetime_seconds,
        }))
    }

    /// Whether `token` has the shape of a JWT (three dot-separated parts), as opposed to an API token.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
    }

    /// The username the token vouches for, at time `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Username, SsoError> {
        check_header(token)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| refusal(e.kind()))?
            .claims;
        let now_s = now.as_millis() / 1000;
        let exp = claims.exp.ok_or(SsoError::Claim("exp"))?;
        if now_s > exp.saturating_add(self.leeway_seconds) {
            return Err(SsoError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now_s < nbf.saturating_sub(self.leeway_seconds))
        {
            return Err(SsoError::NotYetValid);
        }
        let username =
            Username::parse(claims.sub.ok_or(SsoError::Claim("sub"))?).map_err(|_| SsoError::Claim("sub"))?;
        if let Some(max) = self.max_lifetime_seconds {
            let issued = claims
                .iat
                .unwrap_or(now_s)
                .min(now_s.saturating_add(self.leeway_seconds));
            if exp.saturating_sub(issued) > max.saturating_add(self.leeway_seconds) {
                return Err(SsoError::TooLongLived);
            }
        }
        Ok(username)
    }
}

/// Our reading of the JOSE header, before jsonwebtoken's: three parts, a JSON object header, no
/// `crit` member at all (whatever its value), and `alg` exactly `EdDSA`.
fn check_header(token: &str) -> Result<(), SsoError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SsoError::Malformed);
    };
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| SsoError::Malformed)?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|_| SsoError::Malformed)?;
    if header.contains_key("crit") {
        return Err(SsoError::Critical);
    }
    match header.get("alg") {
        Some(serde_json::Value::String(alg)) if alg == "EdDSA" => Ok(()),
        Some(serde_json::Value::String(alg)) => Err(SsoError::Algorithm(alg.clone())),
        _ => Err(SsoError::Malformed),
    }
}

/// What a jsonwebtoken error means for us.
fn refusal(kind: &ErrorKind) -> SsoError {
    match kind {
        ErrorKind::InvalidSignature => SsoError::Signature,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => CLAIM_NAMES
            .into_iter()
            .find(|name| name == claim)
            .map_or(SsoError::Malformed, SsoError::Claim),
        ErrorKind::InvalidIssuer => SsoError::Claim("iss"),
        ErrorKind::InvalidAudience => SsoError::Claim("aud"),
        ErrorKind::InvalidSubject => SsoError::Claim("sub"),
        ErrorKind::ExpiredSignature => SsoError::Expired,
        ErrorKind::ImmatureSignature => SsoError::NotYetValid,
        _ => SsoError::Malformed,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    pub(crate) fn signing_key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    pub(crate) fn jwt(key: &SigningKey, header: &str, claims: &str) -> String {
        let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn verifier(issuer: Option<&str>, audience: Option<&str>) -> SsoVerifier {
        let public = STANDARD.encode(signing_key().verifying_key().to_bytes());
        SsoVerifier::from_config(&SsoConfig {
            public_key: Some(public),
            issuer: issuer.map(str::to_owned),
            audience: audience.map(str::to_owned),
            leeway_seconds: 60,
            max_lifetime_seconds: Some(3600),
        })
        .unwrap()
        .unwrap()
    }

    const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);
    const EDDSA: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

    #[test]
    fn accepts_a_valid_token() {
        let token = jwt(
            &signing_key(),
            EDDSA,
            r#"{"sub":"jbloggs","exp":1700000600,"iss":"idp","aud":["x","accountd"]}"#,
        );
        assert_eq!(
            verifier(Some("idp"), Some("accountd"))
                .verify(&token, NOW)
                .unwrap()
                .as_str(),
            "jbloggs"
        );
        assert!(SsoVerifier::looks_like_jwt(&token));
    }

    #[test]
    fn refuses_tokens_that_live_longer_than_the_maximum() {
        let v = verifier(Some("idp"), None);
        let token = |claims: &str| jwt(&signing_key(), EDDSA, claims);
        // An hour from its issue (or from now, without iat) is the most; the leeway is allowed.
        for ok in [
            r#"{"sub":"a","exp":1700003600,"iss":"idp"}"#,
            r#"{"sub":"a","exp":1700003000,"iat":1699999400,"iss":"idp"}"#,
            r#"{"sub":"a","exp":1700003650,"iss":"idp"}"#,
        ] {
            assert!(v.verify(&token(ok), NOW).is_ok(), "{ok}");
        }
        for too_long in [
            r#"{"sub":"a","exp":1700007200,"iss":"idp"}"#,
            r#"{"sub":"a","exp":1700003000,"iat":1699990000,"iss":"idp"}"#,
            // An iat in the future buys no extra lifetime.
            r#"{"sub":"a","exp":1700007000,"iat":1700003500,"iss":"idp"}"#,
        ] {
            assert_eq!(
                v.verify(&token(too_long), NOW).unwrap_err(),
                SsoError::TooLongLived,
                "{too_long}"
            );
        }
        // Off when configured so.
        let mut config = SsoConfig {
            public_key: Some(STANDARD.encode(signing_key().verifying_key().to_bytes())),
            ..SsoConfig::default()
        };
        config.max_lifetime_seconds = None;
        let lenient = SsoVerifier::from_config(&config).unwrap().unwrap();
        assert!(lenient.verify(&token(r#"{"sub":"a","exp":1800000000}"#), NOW).is_ok());
    }

    #[test]
    fn refuses_each_kind_of_bad_token() {
        let v = verifier(Some("idp"), Some("accountd"));
        let ok_claims = r#"{"sub":"jbloggs","exp":1700000600,"iss":"idp","aud":"accountd"}"#;
        let check = |token: String| v.verify(&token, NOW).unwrap_err();
        assert_eq!(
            check(jwt(&signing_key(), r#"{"alg":"none"}"#, ok_claims)),
            SsoError::Algorithm("none".into())
        );
        assert_eq!(
            check(jwt(&signing_key(), r#"{"alg":"HS256"}"#, ok_claims)),
            SsoError::Algorithm("HS256".into())
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert_eq!(check(jwt(&other, EDDSA, ok_claims)), SsoError::Signature);
        assert_eq!(
            check(jwt(
                &signing_key(),
                EDDSA,
                r#"{"sub":"a","exp":1699999000,"iss":"idp","aud":"accountd"}"#
            )),
            SsoError::Expired
        );
        assert_eq!(
            check(jwt(
                &signing_key(),
                EDDSA,
                r#"{"sub":"a","exp":1800000000,"nbf":1700001000,"iss":"idp","aud":"accountd"}"#
            )),
            SsoError::NotYetValid
        );
        assert_eq!(
            check(jwt(
                &signing_key(),
                EDDSA,
                r#"{"sub":"a","iss":"idp","aud":"accountd"}"#
            )),
            SsoError::Claim("exp")
        );
        assert_eq!(
            check(jwt(
                &signing_key(),
                EDDSA,
                r#"{"sub":"a","exp":1800000000,"iss":"evil","aud":"accountd"}"#
            )),
            SsoError::Claim("iss")
        );
        assert_eq!(
            check(jwt(
                &signing_key(),
                EDDSA,
                r#"{"sub":"a","exp":1800000000,"iss":"idp","aud":"other"}"#
            )),
            SsoError::Claim("aud")
        );
        assert_eq!(
            check(jwt(
                &signing_key(),
                EDDSA,
                r#"{"exp":1800000000,"iss":"idp","aud":"accountd"}"#
            )),
            SsoError::Claim("sub")
        );
        assert_eq!(check("a.b".into()), SsoError::Malformed);
        // A tampered payload fails the signature.
        let good = jwt(&signing_key(), EDDSA, ok_claims);
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"admin","exp":1800000000,"iss":"idp","aud":"accountd"}"#);
        parts[1] = &forged;
        assert_eq!(check(parts.join(".")), SsoError::Signature);
    }

    #[test]
    fn refuses_a_crit_header_whatever_its_value() {
        // RFC 7515 §4.1.11: a recipient that does not understand every listed extension must
        // refuse the token; we understand none, so any `crit` member is refused, even a signed one.
        let v = verifier(None, None);
        let claims = r#"{"sub":"jbloggs","exp":1700000600}"#;
        for header in [
            // jsonwebtoken alone would accept this one.
            r#"{"alg":"EdDSA","crit":["urn:example:ext"],"urn:example:ext":"on"}"#,
            r#"{"alg":"EdDSA","crit":["exp"],"exp":1700000600}"#,
            r#"{"alg":"EdDSA","crit":["b64"],"b64":false}"#,
            r#"{"alg":"EdDSA","crit":[]}"#,
            r#"{"alg":"EdDSA","crit":null}"#,
            r#"{"crit":["x"],"alg":"none"}"#,
        ] {
            assert_eq!(
                v.verify(&jwt(&signing_key(), header, claims), NOW),
                Err(SsoError::Critical),
                "{header}"
            );
        }
        // The same token without it is fine.
        assert!(v.verify(&jwt(&signing_key(), EDDSA, claims), NOW).is_ok());
    }

    #[test]
    fn configured_issuer_and_audience_are_required() {
        let v = verifier(Some("idp"), Some("accountd"));
        let check = |claims: &str| v.verify(&jwt(&signing_key(), EDDSA, claims), NOW);
        assert_eq!(
            check(r#"{"sub":"a","exp":1800000000,"aud":"accountd"}"#),
            Err(SsoError::Claim("iss"))
        );
        assert_eq!(
            check(r#"{"sub":"a","exp":1800000000,"iss":"idp"}"#),
            Err(SsoError::Claim("aud"))
        );
        assert_eq!(
            check(r#"{"sub":"a","exp":1800000000,"iss":"idp","aud":["x","y"]}"#),
            Err(SsoError::Claim("aud"))
        );
        // Types are ours: an issuer list, a fractional or textual time is malformed.
        assert_eq!(
            check(r#"{"sub":"a","exp":1800000000,"iss":["idp"],"aud":"accountd"}"#),
            Err(SsoError::Malformed)
        );
        assert_eq!(
            check(r#"{"sub":"a","exp":1800000000.5,"iss":"idp","aud":"accountd"}"#),
            Err(SsoError::Malformed)
        );
        assert_eq!(
            check(r#"{"sub":"a","exp":"1800000000","iss":"idp","aud":"accountd"}"#),
            Err(SsoError::Malformed)
        );
        assert_eq!(
            check(r#"{"sub":"not a username!","exp":1800000000,"iss":"idp","aud":"accountd"}"#),
            Err(SsoError::Claim("sub"))
        );
    }

    #[test]
    fn unconfigured_issuer_and_audience_are_not_checked() {
        let v = verifier(None, None);
        let token = jwt(
            &signing_key(),
            EDDSA,
            r#"{"sub":"jbloggs","exp":1700000600,"iss":"anyone","aud":["any","one"]}"#,
        );
        assert_eq!(v.verify(&token, NOW).unwrap().as_str(), "jbloggs");
    }

    #[test]
    fn times_are_checked_on_the_callers_clock_with_leeway() {
        // NOW is in 2023: the system clock would call every one of these expired.
        let v = verifier(None, None);
        let now_s = NOW.as_millis() / 1000;
        let check = |claims: String| v.verify(&jwt(&signing_key(), EDDSA, &claims), NOW);
        assert!(check(format!(r#"{{"sub":"a","exp":{}}}"#, now_s - 60)).is_ok());
        assert_eq!(
            check(format!(r#"{{"sub":"a","exp":{}}}"#, now_s - 61)),
            Err(SsoError::Expired)
        );
        assert!(check(format!(r#"{{"sub":"a","exp":{},"nbf":{}}}"#, now_s + 600, now_s + 60)).is_ok());
        assert_eq!(
            check(format!(r#"{{"sub":"a","exp":{},"nbf":{}}}"#, now_s + 600, now_s + 61)),
            Err(SsoError::NotYetValid)
        );
        let later = Timestamp::from_millis(NOW.as_millis() + 3_600_000);
        let token = jwt(
            &signing_key(),
            EDDSA,
            &format!(r#"{{"sub":"a","exp":{}}}"#, now_s + 600),
        );
        assert_eq!(v.verify(&token, later), Err(SsoError::Expired));
    }

    #[test]
    fn malformed_headers_and_shapes() {
        let v = verifier(None, None);
        let claims = r#"{"sub":"a","exp":1800000000}"#;
        for header in [r#"{"typ":"JWT"}"#, r#"{"alg":5}"#, r#"["EdDSA"]"#, "not json"] {
            assert_eq!(
                v.verify(&jwt(&signing_key(), header, claims), NOW),
                Err(SsoError::Malformed),
                "{header}"
            );
        }
        let good = jwt(&signing_key(), EDDSA, claims);
        assert_eq!(v.verify(&format!("{good}.x"), NOW), Err(SsoError::Malformed));
        assert_eq!(v.verify(&format!("!{good}"), NOW), Err(SsoError::Malformed));
        // A signature of the wrong length, or none, is a wrong signature, not a panic.
        let signed = good.rsplit_once('.').unwrap().0;
        for signature in [URL_SAFE_NO_PAD.encode([0u8; 63]), String::new()] {
            assert_eq!(
                v.verify(&format!("{signed}.{signature}"), NOW),
                Err(SsoError::Signature)
            );
        }
    }

    #[test]
    fn keys_from_pem_or_base64() {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let pem = signing_key()
            .verifying_key()
            .to_public_key_pem(Default::default())
            .unwrap();
        let cfg = SsoConfig {
            public_key: Some(pem),
            ..SsoConfig::default()
        };
        assert!(SsoVerifier::from_config(&cfg).unwrap().is_some());
        let bad = SsoConfig {
            public_key: Some("AAAA".into()),
            ..SsoConfig::default()
        };
        assert!(matches!(SsoVerifier::from_config(&bad), Err(SsoError::BadKey(_))));
        assert!(SsoVerifier::from_config(&SsoConfig::default()).unwrap().is_none());
    }
}
