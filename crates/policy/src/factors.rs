//! Second factors (issue 18; docs/second-factors.md): TOTP codes, recovery codes, and the key ring
//! that seals TOTP secrets at rest. Pure functions: the caller gives the time, the random bytes
//! and the keys.
//!
//! - **TOTP** (RFC 6238 through `totp-rs`): 6 digits, 30-second steps, HMAC-SHA-1 (what
//!   authenticator apps implement), a 160-bit secret (RFC 4226's recommendation). A code is
//!   accepted for the step before, at or after now (clock drift); [`TotpSecret::matching_step`]
//!   says which step it matched, and the store refuses a step not after the last one used, so a
//!   code works once.
//! - **Recovery codes**: 80 random bits each, shown as 16 base32 characters in groups of four
//!   (`abcd-efgh-ijkl-mnop`); typed in any case, with or without separators. Stored as the
//!   SHA-256 of their bytes: 80 bits make an offline guess hopeless without a slow hash.
//! - **Sealing**: XChaCha20-Poly1305 (random 192-bit nonces are safe to draw) under the newest
//!   key of the ring; any key of the ring opens what it sealed, so keys rotate without a
//!   re-encryption pass. The user's key is the associated data: a sealed secret copied onto
//!   another user's row does not open.

use accountd_domain::records::SealedSecret;
use accountd_domain::secret::TokenDigest;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

/// Digits of a TOTP code.
pub const TOTP_DIGITS: usize = 6;
/// Seconds per TOTP step.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Bytes of a TOTP secret (160 bits).
pub const TOTP_SECRET_BYTES: usize = 20;
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a recovery code (80 bits).
pub const RECOVERY_CODE_BYTES: usize = 10;
/// Bytes of a sealing key (256 bits).
pub const KEY_BYTES: usize = 32;
/// Bytes of a sealing nonce (XChaCha20's 192 bits).
pub const NONCE_BYTES: usize = 24;
/// Bytes of the authentication tag a sealed secret ends with (Poly1305).
pub const TAG_BYTES: usize = 16;

/// A TOTP shared secret. Wiped on drop; its `Debug` shows nothing.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new secret from `TOTP_SECRET_BYTES` random bytes.
    pub fn new(bytes: [u8; TOTP_SECRET_BYTES]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// A secret as it was sealed (any length an authenticator app accepts: 16 bytes or more).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= 16 && bytes.len() <= 64).then(|| Self(Zeroizing::new(bytes.to_vec())))
    }

    /// A secret as authenticator apps show it typed in (unpadded base32, any case).
    pub fn from_base32(text: &str) -> Option<Self> {
        let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &text.to_ascii_uppercase())?;
        Self::from_bytes(&bytes)
    }

    /// The bytes, to seal.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> TOTP {
        // `new_unchecked`: the length is checked above, and the account name may hold any
        // character of a username (`TOTP::new` refuses `:`, which the URI escapes anyway).
        TOTP::new_unchecked(
            Algorithm::SHA1,
            TOTP_DIGITS,
            1,
            TOTP_STEP_SECONDS,
            self.0.to_vec(),
            Some(issuer.to_owned()),
            account.to_owned(),
        )
    }

    /// The secret as authenticator apps take it typed in: unpadded RFC 4648 base32.
    pub fn base32(&self) -> String {
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0)
    }

    /// The `otpauth://totp/…` URI an authenticator app scans (as a QR code) to enroll.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account).get_url()
    }

    /// The code for `step` (seconds since the epoch / 30).
    pub fn code_at_step(&self, step: i64) -> String {
        let seconds = u64::try_from(step).unwrap_or(0).saturating_mul(TOTP_STEP_SECONDS);
        self.totp("", "").generate(seconds)
    }

    /// The step `code` is valid for, among the one before, at and after `now_seconds`'s step (the
    /// latest that matches); `None` for any other code or a code not of six digits. Compares in
    /// constant time.
    pub fn matching_step(&self, code: &str, now_seconds: i64) -> Option<i64> {
        let code = normalize_totp_code(code)?;
        let now = now_seconds.div_euclid(TOTP_STEP_SECONDS as i64);
        let mut matched = None;
        for step in [now - 1, now, now + 1] {
            if step >= 0 && crate::tokens::constant_time_eq(self.code_at_step(step).as_bytes(), code.as_bytes()) {
                matched = Some(step);
            }
        }
        matched
    }
}

/// The six digits of a code as typed (spaces allowed, as apps show `123 456`), else `None`.
pub fn normalize_totp_code(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| *c != ' ').collect();
    (digits.len() == TOTP_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A recovery code as the user sees it: `abcd-efgh-ijkl-mnop`.
pub fn format_recovery_code(bytes: &[u8; RECOVERY_CODE_BYTES]) -> String {
    let text = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, bytes).to_ascii_lowercase();
    let groups: Vec<&str> = text
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups.join("-")
}

/// The bytes of a recovery code as typed (any case; hyphens and spaces ignored), else `None`.
pub fn parse_recovery_code(input: &str) -> Option<[u8; RECOVERY_CODE_BYTES]> {
    let text: String = input
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if text.len() != 16 {
        return None;
    }
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &text)?;
    <[u8; RECOVERY_CODE_BYTES]>::try_from(bytes.as_slice()).ok()
}

/// What the store keeps of a recovery code.
pub fn recovery_code_digest(bytes: &[u8; RECOVERY_CODE_BYTES]) -> TokenDigest {
    TokenDigest(Sha256::digest(bytes).into())
}

/// Why a key ring could not be built, or a sealed secret not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The ring is empty.
    #[error("no key is configured")]
    NoKey,
    /// A key id outside the allowed characters or length.
    #[error("key id {0:?} is not 1 to 32 letters, digits, '-' or '_'")]
    BadId(String),
    /// Two keys with one id.
    #[error("key id {0:?} is given twice")]
    DuplicateId(String),
    /// The sealed secret names a key the ring does not have.
    #[error("the secret was sealed with key {0:?}, which is not configured")]
    UnknownKey(String),
    /// The key is there but the AEAD refuses: altered bytes, or another owner's secret.
    #[error("the sealed secret does not open with key {0:?} (altered, or another user's)")]
    DoesNotOpen(String),
}

/// The configured sealing keys, oldest first: the last one seals, every one opens. Its `Debug`
/// shows the ids only.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(String, Zeroizing<[u8; KEY_BYTES]>)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyRing").field("ids", &ids).finish()
    }
}

impl KeyRing {
    /// A ring of `(id, key)`, oldest first; the last one seals new secrets.
    pub fn new(keys: Vec<(String, [u8; KEY_BYTES])>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoKey);
        }
        let mut ring = Vec::with_capacity(keys.len());
        for (id, key) in keys {
            if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(KeyError::BadId(id));
            }
            if ring.iter().any(|(other, _): &(String, _)| *other == id) {
                return Err(KeyError::DuplicateId(id));
            }
            ring.push((id, Zeroizing::new(key)));
        }
        Ok(Self { keys: ring })
    }

    /// The id of the key new secrets are sealed with.
    pub fn current_id(&self) -> &str {
        self.keys.last().map_or("", |(id, _)| id.as_str())
    }

    /// The key ids, oldest first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Seals `secret` for the owner `context` (their user key, as associated data) under the
    /// newest key, with `nonce` (random, never reused with a key).
    pub fn seal(&self, secret: &[u8], context: &[u8], nonce: [u8; NONCE_BYTES]) -> Result<SealedSecret, KeyError> {
        let (id, key) = self.keys.last().ok_or(KeyError::NoKey)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: context,
                },
            )
            .map_err(|_| KeyError::DoesNotOpen(id.clone()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        Ok(SealedSecret {
            key_id: id.clone(),
            bytes,
        })
    }

    /// Opens what [`KeyRing::seal`] sealed for `context`, with the key it names.
    pub fn open(&self, sealed: &SealedSecret, context: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .ok_or_else(|| KeyError::UnknownKey(sealed.key_id.clone()))?;
        // The nonce and at least Poly1305's 16-byte tag (an empty secret seals to just those).
        if sealed.bytes.len() < NONCE_BYTES + TAG_BYTES {
            return Err(KeyError::DoesNotOpen(sealed.key_id.clone()));
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_BYTES);
        XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| KeyError::DoesNotOpen(sealed.key_id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret ("12345678901234567890"), its 8-digit vectors cut to
    /// the last 6 digits (the same HOTP value, mod 10^6).
    #[test]
    fn rfc_6238_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            let step = time / 30;
            assert_eq!(secret.code_at_step(step), code, "t={time}");
            assert_eq!(secret.matching_step(code, time), Some(step), "t={time}");
        }
    }

    #[test]
    fn a_code_matches_one_step_either_side_and_no_further() {
        let secret = TotpSecret::new([7; TOTP_SECRET_BYTES]);
        let now = 1_700_000_000;
        let step = now / 30;
        for drift in [-1, 0, 1] {
            let code = secret.code_at_step(step + drift);
            assert_eq!(secret.matching_step(&code, now), Some(step + drift), "drift {drift}");
        }
        for drift in [-3, -2, 2, 3] {
            let code = secret.code_at_step(step + drift);
            // A code of a far step could equal a near one's by chance (1 in 10^6): skip that case.
            if [-1, 0, 1].iter().all(|d| secret.code_at_step(step + d) != code) {
                assert_eq!(secret.matching_step(&code, now), None, "drift {drift}");
            }
        }
        let spaced = format!(
            "{} {}",
            &secret.code_at_step(step)[..3],
            &secret.code_at_step(step)[3..]
        );
        assert_eq!(secret.matching_step(&spaced, now), Some(step));
        for bad in ["", "12345", "1234567", "12345a", "abcdef"] {
            assert_eq!(secret.matching_step(bad, now), None, "{bad:?}");
            assert_eq!(normalize_totp_code(bad), None, "{bad:?}");
        }
        assert_eq!(normalize_totp_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(secret.matching_step(&secret.code_at_step(0), 0), Some(0), "no step -1");
    }

    #[test]
    fn secrets_have_a_usable_length_and_an_otpauth_uri() {
        assert!(TotpSecret::from_bytes(&[1; 15]).is_none());
        assert!(TotpSecret::from_bytes(&[1; 16]).is_some());
        assert!(TotpSecret::from_bytes(&[1; 64]).is_some());
        assert!(TotpSecret::from_bytes(&[1; 65]).is_none());
        let secret = TotpSecret::new([0xff; TOTP_SECRET_BYTES]);
        assert_eq!(secret.base32(), "7".repeat(32));
        let again = TotpSecret::from_base32(&secret.base32().to_lowercase()).unwrap();
        assert_eq!(again.expose(), secret.expose());
        assert!(TotpSecret::from_base32("not base32!").is_none());
        assert_eq!(secret.expose(), [0xff; TOTP_SECRET_BYTES]);
        let uri = secret.otpauth_uri("accountd", "jo@example.com");
        assert!(uri.starts_with("otpauth://totp/accountd:jo%40example.com?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", secret.base32())), "{uri}");
        assert!(uri.contains("issuer=accountd"), "{uri}");
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }

    #[test]
    fn recovery_codes_round_trip_in_any_case_and_spacing() {
        let bytes = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23];
        let code = format_recovery_code(&bytes);
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(parse_recovery_code(&code), Some(bytes));
        assert_eq!(parse_recovery_code(&code.to_uppercase()), Some(bytes));
        assert_eq!(parse_recovery_code(&code.replace('-', " ")), Some(bytes));
        assert_eq!(parse_recovery_code(&code.replace('-', "")), Some(bytes));
        assert_eq!(parse_recovery_code(&code[..18]), None);
        assert_eq!(parse_recovery_code("0000-0000-0000-0000"), None, "0 is not base32");
        assert_ne!(
            recovery_code_digest(&bytes),
            recovery_code_digest(&[0; RECOVERY_CODE_BYTES])
        );
    }

    fn ring(ids: &[&str]) -> KeyRing {
        KeyRing::new(
            ids.iter()
                .enumerate()
                .map(|(n, id)| ((*id).to_owned(), [u8::try_from(n).unwrap() + 1; KEY_BYTES]))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn the_newest_key_seals_and_every_key_opens() {
        let old = ring(&["k1"]);
        let sealed_old = old.seal(b"secret", b"user 7", [9; NONCE_BYTES]).unwrap();
        assert_eq!(sealed_old.key_id, "k1");
        assert_eq!(sealed_old.bytes.len(), NONCE_BYTES + 6 + 16);
        assert!(!sealed_old.bytes.windows(6).any(|w| w == b"secret"));

        let rotated = ring(&["k1", "k2"]);
        assert_eq!(rotated.current_id(), "k2");
        assert_eq!(rotated.ids(), ["k1", "k2"]);
        assert_eq!(&*rotated.open(&sealed_old, b"user 7").unwrap(), b"secret");
        let sealed_new = rotated.seal(b"secret", b"user 7", [8; NONCE_BYTES]).unwrap();
        assert_eq!(sealed_new.key_id, "k2");
        assert_eq!(
            old.open(&sealed_new, b"user 7"),
            Err(KeyError::UnknownKey("k2".to_owned()))
        );
        // Another user's row, an altered byte, a cut value: none opens.
        assert_eq!(
            rotated.open(&sealed_new, b"user 8"),
            Err(KeyError::DoesNotOpen("k2".to_owned()))
        );
        let mut altered = sealed_new.clone();
        altered.bytes[NONCE_BYTES] ^= 1;
        assert!(rotated.open(&altered, b"user 7").is_err());
        for len in [0, NONCE_BYTES - 1, NONCE_BYTES, NONCE_BYTES + TAG_BYTES - 1] {
            let cut = SealedSecret {
                key_id: "k2".to_owned(),
                bytes: sealed_new.bytes[..len].to_vec(),
            };
            assert!(rotated.open(&cut, b"user 7").is_err(), "{len} bytes");
        }
        // The shortest that opens: an empty secret, nonce and tag only.
        let empty = rotated.seal(b"", b"user 7", [3; NONCE_BYTES]).unwrap();
        assert_eq!(empty.bytes.len(), NONCE_BYTES + TAG_BYTES);
        assert_eq!(rotated.open(&empty, b"user 7").unwrap().len(), 0);
        assert_eq!(format!("{rotated:?}"), r#"KeyRing { ids: ["k1", "k2"] }"#);
    }

    #[test]
    fn key_rings_refuse_bad_ids() {
        assert_eq!(KeyRing::new(vec![]).unwrap_err(), KeyError::NoKey);
        for bad in ["", "a b", "é", &"k".repeat(33)] {
            assert!(matches!(
                KeyRing::new(vec![(bad.to_owned(), [0; KEY_BYTES])]),
                Err(KeyError::BadId(_))
            ));
        }
        assert!(KeyRing::new(vec![("k".repeat(32), [0; KEY_BYTES])]).is_ok());
        assert_eq!(
            KeyRing::new(vec![("a".into(), [0; KEY_BYTES]), ("a".into(), [1; KEY_BYTES])]).unwrap_err(),
            KeyError::DuplicateId("a".to_owned())
        );
    }
}
