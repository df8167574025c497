//! Bearer secrets (session ids, API tokens): their text form, their stored digest, and the XSRF
//! token bound to a session. The 32 random bytes come from the caller (randomness is a port);
//! the store keeps only [`token_digest`], never the token.
//!
//! - Text form: base64url without padding, exactly 43 characters ([`encode_token`],
//!   [`decode_token`]); decoding is strict (only the canonical encoding of 32 bytes is accepted).
//! - Digest: SHA-256 of the 32 bytes ([`token_digest`]).
//! - XSRF: HMAC-SHA256 of the session's bytes under a server key, base64url without padding
//!   ([`xsrf_token`], [`xsrf_matches`]), so a token is valid for its session only and the server
//!   needn't store it.

use accountd_domain::secret::TokenDigest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of entropy in a session id or API token (256 bits).
pub const TOKEN_BYTES: usize = 32;
/// Length of a token's text form: 32 bytes in unpadded base64.
pub const TOKEN_CHARS: usize = 43;

/// The text form of a token: base64url without padding (43 characters).
pub fn encode_token(bytes: &[u8; TOKEN_BYTES]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The bytes of a token's text form, or `None` unless `text` is exactly 43 characters of the
/// url-safe alphabet that canonically encode 32 bytes (no padding, no white space, no `+`/`/`).
///
/// The length is checked first so that hostile input (a megabyte of `Authorization` header) costs
/// nothing to refuse. The alphabet, padding and canonical-bits rules are the engine's own
/// (`URL_SAFE_NO_PAD` refuses any other byte, any `=` and non-zero trailing bits): a check of the
/// alphabet here as well could never change the answer, and `cargo mutants` showed it as mutants
/// no test can kill. `decode_is_strict` holds the engine to each rule.
pub fn decode_token(text: &str) -> Option<[u8; TOKEN_BYTES]> {
    if text.len() != TOKEN_CHARS {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    <[u8; TOKEN_BYTES]>::try_from(bytes.as_slice()).ok()
}

/// The digest the store keeps for a token: SHA-256 of its bytes.
pub fn token_digest(bytes: &[u8; TOKEN_BYTES]) -> TokenDigest {
    TokenDigest(Sha256::digest(bytes).into())
}

/// The XSRF token of a session: HMAC-SHA256 under `key` of the session's bytes, base64url without
/// padding (43 characters). `key` is a server secret of any length (32 random bytes advised).
pub fn xsrf_token(session: &[u8; TOKEN_BYTES], key: &[u8]) -> String {
    let mut mac = crate::hashing::hmac_sha256(key);
    mac.update(session);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether `presented` (the `X-XSRF-TOKEN` header) is the XSRF token of `session`, compared in
/// constant time.
pub fn xsrf_matches(session: &[u8; TOKEN_BYTES], key: &[u8], presented: &str) -> bool {
    constant_time_eq(xsrf_token(session, key).as_bytes(), presented.as_bytes())
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encode_is_43_url_safe_chars() {
        let text = encode_token(&[0xfb; 32]);
        assert_eq!(text.len(), 43);
        assert!(text.contains('-') || text.contains('_'), "{text}");
        assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
        assert_eq!(decode_token(&text), Some([0xfb; 32]));
        assert_eq!(encode_token(&[0; 32]), "A".repeat(43));
    }

    #[test]
    fn decode_is_strict() {
        let good = encode_token(&[0x5a; 32]);
        let mut padded = good.clone();
        padded.push('=');
        let last_changed = format!("{}{}", &good[..42], if good.ends_with('A') { 'B' } else { 'A' });
        for bad in [
            String::new(),
            good[..42].to_owned(),
            format!("{good}A"),
            padded,
            good.replace(&good[..1], "+"),
            format!(" {}", &good[1..]),
            "é".repeat(21) + "a",
            // 43 chars whose last one carries non-zero padding bits: not canonical.
            format!("{}B", "A".repeat(42)),
            // 43 bytes, each with one byte outside the url-safe alphabet (the engine's to refuse).
            format!("{}=", &good[..42]),
            format!("{}/", &good[..42]),
            format!("{}+{}", &good[..20], &good[21..]),
            format!("{}.{}", &good[..20], &good[21..]),
            format!("{}\n", &good[..42]),
            format!("{}\0", &good[..42]),
        ] {
            assert_eq!(decode_token(&bad), None, "{bad:?}");
        }
        // Changing the last character changes the bytes or is refused, never silently equal.
        assert_ne!(decode_token(&last_changed), Some([0x5a; 32]));
    }

    #[test]
    fn digest_is_sha256() {
        // SHA-256 of 32 zero bytes.
        let d = token_digest(&[0; 32]);
        assert_eq!(d.log_label(), "66687aad");
        assert_ne!(token_digest(&[1; 32]), d);
    }

    #[test]
    fn xsrf_is_bound_to_session_and_key() {
        let t = xsrf_token(&[1; 32], b"server key");
        assert_eq!(t.len(), 43);
        assert_eq!(t, xsrf_token(&[1; 32], b"server key"));
        assert_ne!(t, xsrf_token(&[2; 32], b"server key"));
        assert_ne!(t, xsrf_token(&[1; 32], b"other key"));
        assert!(xsrf_matches(&[1; 32], b"server key", &t));
        assert!(!xsrf_matches(&[2; 32], b"server key", &t));
        assert!(!xsrf_matches(&[1; 32], b"server key", ""));
        // It is HMAC-SHA256: RFC 4231 test case 2 key and a 32-byte message, checked via hashing's
        // HMAC, whose RFC vectors are tested there.
        let mut mac = crate::hashing::hmac_sha256(b"Jefe");
        mac.update(&[7; 32]);
        assert_eq!(
            xsrf_token(&[7; 32], b"Jefe"),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    proptest! {
        #[test]
        fn tokens_round_trip(bytes in proptest::array::uniform32(any::<u8>())) {
            let text = encode_token(&bytes);
            prop_assert_eq!(text.len(), TOKEN_CHARS);
            prop_assert_eq!(decode_token(&text), Some(bytes));
        }

        #[test]
        fn decode_never_panics(text in "\\PC{0,50}") {
            if let Some(bytes) = decode_token(&text) {
                prop_assert_eq!(encode_token(&bytes), text);
            }
        }
    }
}
