//! Secrets and their digests: passwords, PIN codes, password/PIN hashes (argon2id PHC strings) and
//! token digests. None of them prints its content through `Debug` or `Display`; plaintext secrets are
//! zeroed when dropped. Nothing here is `Serialize`: a secret can't reach a response by accident.

use crate::error::{InvalidValue, Problem};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A plaintext password on its way to be hashed or checked. Any text is accepted here (the policy
/// crate judges quality); only the size is bounded so an attacker can't make us hash megabytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    /// Longest password accepted at all, in bytes; the policy's own maximum is lower.
    pub const MAX_BYTES: usize = 1024;

    /// The password, or why it is refused. A refused value is zeroed too.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let candidate = Self(value.into());
        if candidate.0.is_empty() {
            return Err(InvalidValue::new("password", Problem::Empty));
        }
        if candidate.0.len() > Self::MAX_BYTES {
            return Err(InvalidValue::new("password", Problem::TooLong { max: Self::MAX_BYTES }));
        }
        Ok(candidate)
    }

    /// The plaintext, for hashing and rule checks only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A PIN code ("passcode"): ASCII digits only, 1 to 64 of them. The PIN rules decide the real bounds.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct PinCode(String);

impl PinCode {
    pub const MAX_LEN: usize = 64;

    /// The PIN, or why it is refused. A refused value is zeroed too.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let candidate = Self(value.into());
        if candidate.0.is_empty() {
            return Err(InvalidValue::new("pinCode", Problem::Empty));
        }
        if candidate.0.len() > Self::MAX_LEN {
            return Err(InvalidValue::new("pinCode", Problem::TooLong { max: Self::MAX_LEN }));
        }
        if !candidate.0.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::new("pinCode", Problem::Format("digits only")));
        }
        Ok(candidate)
    }

    /// The digits, for hashing and rule checks only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinCode(<redacted>)")
    }
}

/// A password or PIN hash as stored: a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), or a
/// Django hash (`argon2$…`, `pbkdf2_sha256$…`) imported from elsewhere and upgraded at next login.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        if value.is_empty() || value.len() > 512 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(InvalidValue::new(
                "hash",
                Problem::Format("a PHC or Django hash string"),
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

/// The SHA-256 of a bearer secret (session id, API token). The store keeps only this.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidValue> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| InvalidValue::new("digest", Problem::Format("32 bytes")))
    }

    /// A short, non-reversible label for logs (the first 4 bytes of the digest, in hex).
    pub fn log_label(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({}…)", self.log_label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let p = Password::new("Demo-Passw0rd!").unwrap();
        assert!(!format!("{p:?}").contains("Demo"));
        let pin = PinCode::parse("123456").unwrap();
        assert!(!format!("{pin:?}").contains("123"));
        let h = SecretHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").unwrap();
        assert!(!format!("{h:?}").contains("argon2"));
    }

    #[test]
    fn pins_are_digits() {
        assert!(PinCode::parse("0000").is_ok());
        assert!(PinCode::parse("12a4").is_err());
        assert!(PinCode::parse("١٢٣").is_err(), "non-ASCII digits are refused");
        assert!(PinCode::parse("").is_err());
        assert!(PinCode::parse("1".repeat(65)).is_err());
    }

    #[test]
    fn passwords_are_bounded() {
        assert!(Password::new("").is_err());
        assert!(Password::new("x".repeat(1025)).is_err());
        assert!(Password::new("x".repeat(1024)).is_ok());
    }

    #[test]
    fn debug_names_the_type_and_hides_the_secret() {
        let password = format!("{:?}", Password::new("Sup3r-secret!").unwrap());
        assert_eq!(password, "Password(<redacted>)");
        let pin = format!("{:?}", PinCode::parse("918273").unwrap());
        assert_eq!(pin, "PinCode(<redacted>)");
        let hash = format!(
            "{:?}",
            SecretHash::new("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA").unwrap()
        );
        assert_eq!(hash, "SecretHash(<redacted>)");
        let digest = TokenDigest([0xab; 32]);
        assert_eq!(digest.log_label(), "abababab");
        assert_eq!(format!("{digest:?}"), "TokenDigest(abababab…)");
    }

    #[test]
    fn pins_are_at_most_64_digits() {
        assert!(PinCode::parse("1".repeat(PinCode::MAX_LEN)).is_ok());
        assert_eq!(
            PinCode::parse("1".repeat(PinCode::MAX_LEN + 1)).unwrap_err().problem,
            Problem::TooLong { max: PinCode::MAX_LEN }
        );
    }

    #[test]
    fn secrets_expose_what_they_were_given() {
        assert_eq!(PinCode::parse("012345").unwrap().expose(), "012345");
        assert_eq!(Password::new("Sup3r-secret!").unwrap().expose(), "Sup3r-secret!");
    }
}
