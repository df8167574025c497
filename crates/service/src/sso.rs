//! SSO_LOGIN_DEDICATED: users prove who they are with a token signed by an external identity
//! provider, a JWT signed with Ed25519 (`"alg": "EdDSA"`) and checked against the configured public key.
//!
//! Only `EdDSA` is accepted (never `none` nor a symmetric algorithm a client could forge with a public
//! key). The token must carry `sub` (the username) and `exp`; `nbf`, `iss` and `aud` are checked when
//! present or configured; a small leeway absorbs clock skew.

use accountd_domain::ids::Username;
use accountd_domain::user::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
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
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            public_key: None,
            issuer: None,
            audience: None,
            leeway_seconds: 60,
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
    #[error("the signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("claim {0} is missing or wrong")]
    Claim(&'static str),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iss: Option<String>,
    aud: Option<Audience>,
}

/// Checks identity-provider tokens.
#[derive(Debug, Clone)]
pub struct SsoVerifier {
    key: VerifyingKey,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_seconds: i64,
}

impl SsoVerifier {
    /// `None` when no public key is configured.
    pub fn from_config(config: &SsoConfig) -> Result<Option<Self>, SsoError> {
        let Some(text) = config.public_key.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let key = if text.starts_with("-----BEGIN") {
            VerifyingKey::from_public_key_pem(text).map_err(|e| SsoError::BadKey(e.to_string()))?
        } else {
            let bytes = STANDARD.decode(text).map_err(|e| SsoError::BadKey(e.to_string()))?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| SsoError::BadKey("an Ed25519 public key is 32 bytes".into()))?;
            VerifyingKey::from_bytes(&bytes).map_err(|e| SsoError::BadKey(e.to_string()))?
        };
        Ok(Some(Self {
            key,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway_seconds: config.leeway_seconds.max(0),
        }))
    }

    /// Whether `token` has the shape of a JWT (three dot-separated parts), as opposed to an API token.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
    }

    /// The username the token vouches for, at time `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Username, SsoError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SsoError::Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| SsoError::Malformed);
        let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| SsoError::Malformed)?;
        if header.alg != "EdDSA" {
            return Err(SsoError::Algorithm(header.alg));
        }
        let signature = Signature::from_slice(&decode(signature)?).map_err(|_| SsoError::Signature)?;
        let signed_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
        self.key
            .verify(&token.as_bytes()[..signed_len], &signature)
            .map_err(|_| SsoError::Signature)?;

        let claims: Claims = serde_json::from_slice(&decode(payload)?).map_err(|_| SsoError::Malformed)?;
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
        if let Some(issuer) = &self.issuer
            && claims.iss.as_ref() != Some(issuer)
        {
            return Err(SsoError::Claim("iss"));
        }
        if let Some(audience) = &self.audience {
            let ok = match &claims.aud {
                Some(Audience::One(a)) => a == audience,
                Some(Audience::Many(all)) => all.contains(audience),
                None => false,
            };
            if !ok {
                return Err(SsoError::Claim("aud"));
            }
        }
        Username::parse(claims.sub.ok_or(SsoError::Claim("sub"))?).map_err(|_| SsoError::Claim("sub"))
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
