//! Hashing and verifying passwords and PINs.
//!
//! New hashes are argon2id (v=19) PHC strings, `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, with
//! a 16-byte salt the caller draws and a 32-byte output. Verification also accepts what users
//! imported from a Django deployment carry (issue 7), and then always asks for a rehash:
//!
//! - `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`: Django's argon2 hasher, which is the word
//!   `argon2` followed by the PHC string without its leading `$` (also the older `argon2i` variant
//!   and hashes from before argon2 1.3 that carry no `v=`);
//! - `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`: PBKDF2-HMAC-SHA256 over the UTF-8 password
//!   and the salt text, 32-byte output, standard base64.
//!
//! Comparisons are constant-time. A hash whose cost parameters exceed [`HashParams::MAX_MEMORY_KIB`],
//! [`HashParams::MAX_ITERATIONS`], [`HashParams::MAX_PARALLELISM`] or [`MAX_PBKDF2_ITERATIONS`] is
//! refused unverified ([`HashError::Unsupported`]) rather than tying up the server. Nothing here
//! draws randomness or panics on bad input: a malformed hash is an error.

use accountd_domain::secret::SecretHash;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Version};
use base64::Engine as _;
use hmac::Hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of the salt [`hash_secret`] takes, in bytes.
pub const SALT_LEN: usize = 16;
/// Length of the argon2id output [`hash_secret`] produces, in bytes.
pub const OUTPUT_LEN: usize = 32;
/// Most PBKDF2 iterations a stored Django hash may ask for (Django 5.x uses 1,000,000 or fewer).
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// argon2id cost parameters (OWASP's recommendation by default: 19 MiB, 2 passes, 1 lane), and how
/// long a hash may wait for its turn (the `[hashing]` section of the configuration).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields, default)]
pub struct HashParams {
    /// Memory, in KiB. Default 19456 (19 MiB). At least 8 × `parallelism`.
    pub memory_kib: u32,
    /// Passes over memory. Default 2.
    pub iterations: u32,
    /// Lanes. Default 1.
    pub parallelism: u32,
    /// Not a cost: how long a hash or verification waits for one of the service's hashing slots
    /// before it is refused with [`HashError::Busy`] (nothing hashed), in ms; 0 refuses at once
    /// when every slot is taken. Default 5000.
    pub queue_timeout_ms: u64,
}

impl Default for HashParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl HashParams {
    /// The defaults, usable in `const` items (`HashParams { memory_kib: 64, ..HashParams::DEFAULT }`).
    pub const DEFAULT: HashParams = HashParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
        queue_timeout_ms: 5_000,
    };
    /// Most memory a hash may use, in KiB (1 GiB): for our parameters and for stored hashes.
    pub const MAX_MEMORY_KIB: u32 = 1 << 20;
    /// Most passes a hash may ask for.
    pub const MAX_ITERATIONS: u32 = 100;
    /// Most lanes a hash may ask for.
    pub const MAX_PARALLELISM: u32 = 64;

    /// Checks these parameters (configuration should call this at start-up).
    pub fn validate(&self) -> Result<(), HashError> {
        self.argon2_params().map(|_| ())
    }

    fn argon2_params(&self) -> Result<argon2::Params, HashError> {
        check_cost(self.memory_kib, self.iterations, self.parallelism).map_err(HashError::InvalidParams)?;
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(OUTPUT_LEN))
            .map_err(|e| HashError::InvalidParams(e.to_string()))
    }
}

/// Our limits on argon2 cost, checked before the argon2 crate sees the numbers.
fn check_cost(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<(), String> {
    if !(1..=HashParams::MAX_PARALLELISM).contains(&parallelism) {
        return Err(format!(
            "parallelism must be between 1 and {}",
            HashParams::MAX_PARALLELISM
        ));
    }
    if !(1..=HashParams::MAX_ITERATIONS).contains(&iterations) {
        return Err(format!(
            "iterations must be between 1 and {}",
            HashParams::MAX_ITERATIONS
        ));
    }
    let min_memory = 8 * parallelism;
    if !(min_memory..=HashParams::MAX_MEMORY_KIB).contains(&memory_kib) {
        return Err(format!(
            "memory_kib must be between {min_memory} (8 per lane) and {}",
            HashParams::MAX_MEMORY_KIB
        ));
    }
    Ok(())
}

/// Why hashing or verifying failed. None of these says anything about the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The configured parameters are out of range.
    #[error("invalid hash parameters: {0}")]
    InvalidParams(String),
    /// The stored hash is not a well-formed hash of a known scheme.
    #[error("malformed password hash")]
    Malformed,
    /// The stored hash is well-formed but of a scheme or cost this server doesn't verify.
    #[error("unsupported password hash: {0}")]
    Unsupported(String),
    /// No hashing slot came free within [`HashParams::queue_timeout_ms`]: nothing was hashed or
    /// verified; worth another try after about this many seconds.
    #[error("every hashing slot stayed busy (try again in {retry_after_seconds} s)")]
    Busy {
        /// The time for the queue ahead to pass at the recent pace, in whole seconds.
        retry_after_seconds: u64,
    },
}

/// The outcome of [`verify_secret`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verified {
    /// The secret matches the hash.
    pub matches: bool,
    /// The hash is not an argon2id v=19 hash with exactly the current parameters (or is a Django
    /// hash): when `matches`, store [`hash_secret`] of the secret in its place.
    pub needs_rehash: bool,
}

/// argon2's working memory (`memory_kib` KiB per hash), kept between hashes: a caller that hashes
/// through one `HashMemory` per concurrent hash (the service keeps one per permit) allocates it
/// once, so memory stays at `permits × memory cost` for good. Allocating 19 MiB per hash instead
/// lets glibc's allocator keep the freed blocks in one arena per thread and fragment them: the
/// server's resident memory grew by gigabytes under password changes (docs/performance.md).
///
/// It grows to the configured parameters' size at most; a stored hash that asks for more (an
/// imported one) gets memory of its own for that verification.
#[derive(Default)]
pub struct HashMemory(Vec<argon2::Block>);

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashMemory({} KiB)", self.0.len())
    }
}

impl HashMemory {
    /// Runs `f` on at least `needed` blocks: these, grown up to `keep` blocks, or a temporary
    /// buffer above that.
    fn with<T>(&mut self, needed: usize, keep: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
        if needed > keep {
            return f(&mut vec![argon2::Block::default(); needed]);
        }
        if self.0.len() < needed {
            self.0.resize(needed, argon2::Block::default());
        }
        f(&mut self.0[..needed])
    }
}

/// Hashes `secret` with argon2id and `params`, salted with `salt` (drawn by the caller).
pub fn hash_secret(secret: &str, params: &HashParams, salt: &[u8; SALT_LEN]) -> Result<SecretHash, HashError> {
    hash_secret_with(&mut HashMemory::default(), secret, params, salt)
}

/// [`hash_secret`] in reused working memory.
pub fn hash_secret_with(
    memory: &mut HashMemory,
    secret: &str,
    params: &HashParams,
    salt: &[u8; SALT_LEN],
) -> Result<SecretHash, HashError> {
    let argon2_params = params.argon2_params()?;
    let blocks = argon2_params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params.clone());
    let mut output = [0u8; OUTPUT_LEN];
    memory
        .with(blocks, blocks, |m| {
            argon2.hash_password_into_with_memory(secret.as_bytes(), salt, &mut output, m)
        })
        .map_err(|e| HashError::InvalidParams(e.to_string()))?;
    let salt = SaltString::encode_b64(salt).map_err(|e| HashError::InvalidParams(e.to_string()))?;
    let output = argon2::password_hash::Output::new(&output).map_err(|e| HashError::InvalidParams(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&argon2_params)
            .try_into()
            .map_err(|e: argon2::password_hash::Error| HashError::InvalidParams(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string();
    SecretHash::new(phc).map_err(|_| HashError::Malformed)
}

/// Checks `secret` against a stored hash: our argon2 PHC strings, or Django's `argon2$…` and
/// `pbkdf2_sha256$…` (see the module documentation). `params` are the current parameters, to say
/// whether the hash should be upgraded.
pub fn verify_secret(hash: &SecretHash, secret: &str, params: &HashParams) -> Result<Verified, HashError> {
    verify_secret_with(&mut HashMemory::default(), hash, secret, params)
}

/// [`verify_secret`] in reused working memory.
pub fn verify_secret_with(
    memory: &mut HashMemory,
    hash: &SecretHash,
    secret: &str,
    params: &HashParams,
) -> Result<Verified, HashError> {
    let stored = hash.as_str();
    let keep = params.argon2_params().map(|p| p.block_count()).unwrap_or(0);
    if let Some(phc) = stored.strip_prefix("argon2").filter(|rest| rest.starts_with("$argon2")) {
        let matches = verify_phc(memory, keep, phc, secret)?.matches;
        Ok(Verified {
            matches,
            needs_rehash: true,
        })
    } else if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        Ok(Verified {
            matches: verify_django_pbkdf2(rest, secret)?,
            needs_rehash: true,
        })
    } else if stored.starts_with("$argon2") {
        let checked = verify_phc(memory, keep, stored, secret)?;
        Ok(Verified {
            matches: checked.matches,
            needs_rehash: !checked.is_current(params),
        })
    } else {
        // Name the scheme only when it is a known one: an unknown prefix could be a plaintext
        // password stored by mistake, and this error may be logged.
        let prefix = stored.split('$').find(|part| !part.is_empty()).unwrap_or_default();
        let scheme = KNOWN_SCHEMES
            .into_iter()
            .find(|known| *known == prefix)
            .unwrap_or("an unknown scheme");
        Err(HashError::Unsupported(format!("{scheme} hashes are not supported")))
    }
}

/// Checks, without verifying anything (so without argon2's cost), that a stored hash is one
/// [`verify_secret`] can verify: a well-formed argon2 PHC string (ours or Django's `argon2$…`) within
/// our cost limits, or a well-formed Django `pbkdf2_sha256$…`. For hashes imported from elsewhere.
pub fn check_stored_hash(hash: &SecretHash) -> Result<(), HashError> {
    let stored = hash.as_str();
    let phc = if let Some(phc) = stored.strip_prefix("argon2").filter(|rest| rest.starts_with("$argon2")) {
        phc
    } else if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        // The same parsing and bounds as verifying, without computing anything.
        return parse_django_pbkdf2(rest).map(|_| ());
    } else if stored.starts_with("$argon2") {
        stored
    } else {
        return verify_secret(hash, "", &HashParams::default()).map(|_| ());
    };
    let parsed = PasswordHash::new(phc).map_err(|_| HashError::Malformed)?;
    Algorithm::try_from(parsed.algorithm).map_err(|_| HashError::Malformed)?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(HashError::Malformed);
    }
    if let Some(v) = parsed.version {
        Version::try_from(v).map_err(|_| HashError::Malformed)?;
    }
    let param = |name: &str| parsed.params.get_decimal(name).ok_or(HashError::Malformed);
    check_cost(param("m")?, param("t")?, param("p")?).map_err(HashError::Unsupported)
}

/// Hash schemes we recognise but don't verify (Django's other hashers, crypt-style bcrypt).
const KNOWN_SCHEMES: [&str; 10] = [
    "bcrypt_sha256",
    "bcrypt",
    "scrypt",
    "pbkdf2_sha1",
    "sha1",
    "md5",
    "unsalted_md5",
    "unsalted_sha1",
    "crypt",
    "2b",
];

/// A hash of a fixed secret with `params` and a fixed salt: verify against it when the user is
/// unknown, so that the answer costs the same as for a known user. Compute it once at start-up.
/// When `params` are invalid, the hash uses the default parameters instead (hashing with invalid
/// parameters fails anyway, which [`HashParams::validate`] reports at start-up).
pub fn dummy_hash(params: &HashParams) -> SecretHash {
    const SECRET: &str = "accountd dummy secret for unknown users";
    const SALT: [u8; SALT_LEN] = *b"accountd-dummy!!";
    hash_secret(SECRET, params, &SALT)
        .or_else(|_| hash_secret(SECRET, &HashParams::default(), &SALT))
        .unwrap_or_else(|_| fallback_dummy())
}

/// A well-formed argon2id hash with the default parameters (a unit test recomputes it).
const FALLBACK_DUMMY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$YWNjb3VudGQtZHVtbXkhIQ$kGiZOyZxaOWHiuB/9n8NnYyjXv9b6yJkm5j6pcdgMlc";

#[allow(clippy::expect_used)]
fn fallback_dummy() -> SecretHash {
    // A constant that `SecretHash::new` accepts (a test checks it); only reached if argon2 refuses
    // the default parameters, which it doesn't.
    SecretHash::new(FALLBACK_DUMMY).expect("the fallback dummy hash is well-formed")
}

/// What verifying a PHC string found.
struct PhcCheck {
    matches: bool,
    algorithm: Algorithm,
    version: Version,
    cost: (u32, u32, u32),
    output_len: usize,
}

impl PhcCheck {
    fn is_current(&self, params: &HashParams) -> bool {
        self.algorithm == Algorithm::Argon2id
            && self.version == Version::V0x13
            && self.cost == (params.memory_kib, params.iterations, params.parallelism)
            && self.output_len == OUTPUT_LEN
    }
}

/// Verifies a PHC string as `Argon2::verify_password` does (the same parameters, salt, output
/// length and constant-time comparison), in `memory` (kept up to `keep` blocks).
fn verify_phc(memory: &mut HashMemory, keep: usize, phc: &str, secret: &str) -> Result<PhcCheck, HashError> {
    let mut parsed = PasswordHash::new(phc).map_err(|_| HashError::Malformed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|_| HashError::Malformed)?;
    let output_len = match (&parsed.salt, &parsed.hash) {
        (Some(_), Some(output)) => output.len(),
        _ => return Err(HashError::Malformed),
    };
    let param = |name: &str| parsed.params.get_decimal(name).ok_or(HashError::Malformed);
    let cost = (param("m")?, param("t")?, param("p")?);
    check_cost(cost.0, cost.1, cost.2).map_err(HashError::Unsupported)?;
    // A PHC string without `v=` predates argon2 1.3 (Django's oldest argon2 hashes): version 0x10.
    let version = match parsed.version {
        None => Version::V0x10,
        Some(v) => Version::try_from(v).map_err(|_| HashError::Malformed)?,
    };
    parsed.version = Some(version.into());
    let argon2_params = argon2::Params::try_from(&parsed).map_err(|_| HashError::Malformed)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(HashError::Malformed);
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|_| HashError::Malformed)?;
    let mut output = [0u8; argon2::password_hash::Output::MAX_LENGTH];
    let output = output.get_mut(..expected.len()).ok_or(HashError::Malformed)?;
    let blocks = argon2_params.block_count();
    memory
        .with(blocks, keep, |m| {
            Argon2::new(algorithm, version, argon2_params).hash_password_into_with_memory(
                secret.as_bytes(),
                salt,
                output,
                m,
            )
        })
        .map_err(|_| HashError::Malformed)?;
    let matches = crate::tokens::constant_time_eq(output, expected.as_bytes());
    Ok(PhcCheck {
        matches,
        algorithm,
        version,
        cost,
        output_len,
    })
}

/// A Django PBKDF2 hash, parsed and within our bounds.
struct DjangoPbkdf2<'a> {
    iterations: u32,
    salt: &'a str,
    expected: Vec<u8>,
}

/// `<iterations>$<salt>$<base64 hash>` after Django's `pbkdf2_sha256$`: iterations in decimal digits
/// only, 1 to [`MAX_PBKDF2_ITERATIONS`] (more is refused as unsupported before any work), a
/// non-empty salt and a 32-byte hash in standard base64.
fn parse_django_pbkdf2(rest: &str) -> Result<DjangoPbkdf2<'_>, HashError> {
    let mut parts = rest.split('$');
    let (Some(iterations), Some(salt), Some(encoded), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HashError::Malformed);
    };
    if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) || salt.is_empty() {
        return Err(HashError::Malformed);
    }
    let iterations: u32 = iterations.parse().map_err(|_| HashError::Malformed)?;
    if iterations == 0 {
        return Err(HashError::Malformed);
    }
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(HashError::Unsupported(format!(
            "more than {MAX_PBKDF2_ITERATIONS} PBKDF2 iterations"
        )));
    }
    let expected = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| HashError::Malformed)?;
    if expected.len() != 32 {
        return Err(HashError::Malformed);
    }
    Ok(DjangoPbkdf2 {
        iterations,
        salt,
        expected,
    })
}

/// Verifies `secret` against a Django PBKDF2 hash (the part after `pbkdf2_sha256$`), comparing in
/// constant time.
fn verify_django_pbkdf2(rest: &str, secret: &str) -> Result<bool, HashError> {
    let hash = parse_django_pbkdf2(rest)?;
    let computed = pbkdf2_hmac_sha256(secret.as_bytes(), hash.salt.as_bytes(), hash.iterations);
    Ok(crate::tokens::constant_time_eq(&computed, &hash.expected))
}

type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 instance keyed with `key`, built infallibly: RFC 2104 pads a key of up to one
/// block (64 bytes) with zeros and hashes a longer one first, so the padded block *is* the key.
pub(crate) fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
}

/// PBKDF2 (RFC 8018) with HMAC-SHA256 and a 32-byte output, by RustCrypto's `pbkdf2`. The
/// iteration count is bounded by the caller ([`MAX_PBKDF2_ITERATIONS`]) before it gets here.
fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;
    use hmac::Mac;

    #[test]
    fn reused_memory_gives_the_argon2_crates_own_hashes_and_stays_bounded() {
        let mut memory = HashMemory::default();
        for (i, secret) in ["1357", "Demo-Passw0rd!", ""].into_iter().enumerate() {
            let salt = [i as u8 + 1; SALT_LEN];
            let ours = hash_secret_with(&mut memory, secret, &SMALL, &salt).unwrap();
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, SMALL.argon2_params().unwrap())
                .hash_password(secret.as_bytes(), &SaltString::encode_b64(&salt).unwrap())
                .unwrap()
                .to_string();
            assert_eq!(ours.as_str(), theirs);
            assert!(verify_secret_with(&mut memory, &ours, secret, &SMALL).unwrap().matches);
            assert!(!verify_secret_with(&mut memory, &ours, "wrong", &SMALL).unwrap().matches);
        }
        let kept = SMALL.argon2_params().unwrap().block_count();
        assert_eq!(memory.0.len(), kept);
        // A stored hash that needs more memory than configured verifies in memory of its own.
        let bigger = HashParams {
            memory_kib: SMALL.memory_kib * 2,
            ..SMALL
        };
        let hash = hash_secret("x", &bigger, &[9; SALT_LEN]).unwrap();
        let v = verify_secret_with(&mut memory, &hash, "x", &SMALL).unwrap();
        assert!(v.matches && v.needs_rehash);
        assert_eq!(memory.0.len(), kept, "the kept memory did not grow");
    }

    /// Cheap parameters for tests (argon2 allows m ≥ 8 per lane).
    const SMALL: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        ..HashParams::DEFAULT
    };

    fn h(s: &str) -> SecretHash {
        SecretHash::new(s).unwrap()
    }

    #[test]
    fn round_trip_and_wrong_secret() {
        let hash = hash_secret("Demo-Passw0rd!", &SMALL, &[7; 16]).unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{}",
            hash.as_str()
        );
        assert_eq!(
            verify_secret(&hash, "Demo-Passw0rd!", &SMALL).unwrap(),
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        assert_eq!(
            verify_secret(&hash, "demo-Passw0rd!", &SMALL).unwrap(),
            Verified {
                matches: false,
                needs_rehash: false
            }
        );
        // Same salt, same hash; another salt, another hash.
        assert_eq!(hash_secret("Demo-Passw0rd!", &SMALL, &[7; 16]).unwrap(), hash);
        assert_ne!(hash_secret("Demo-Passw0rd!", &SMALL, &[8; 16]).unwrap(), hash);
    }

    #[test]
    fn default_params_hash_and_verify() {
        let params = HashParams::default();
        let hash = hash_secret("Demo-Passw0rd!", &params, &[1; 16]).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            verify_secret(&hash, "Demo-Passw0rd!", &params).unwrap(),
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        // The dummy hash costs the same and the fallback constant is that very hash.
        let dummy = dummy_hash(&params);
        assert_eq!(
            dummy.as_str(),
            FALLBACK_DUMMY,
            "update FALLBACK_DUMMY to {}",
            dummy.as_str()
        );
        assert_eq!(fallback_dummy(), dummy);
    }

    #[test]
    fn needs_rehash_when_params_change() {
        let hash = hash_secret("1357", &SMALL, &[3; 16]).unwrap();
        for newer in [
            HashParams {
                memory_kib: 128,
                ..SMALL
            },
            HashParams { iterations: 2, ..SMALL },
            HashParams {
                memory_kib: 64,
                parallelism: 2,
                ..SMALL
            },
        ] {
            let v = verify_secret(&hash, "1357", &newer).unwrap();
            assert!(v.matches && v.needs_rehash, "{newer:?}");
        }
        // An argon2i hash with the very same numbers still needs a rehash (wrong variant).
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, SMALL.argon2_params().unwrap());
        let salt = SaltString::encode_b64(&[3; 16]).unwrap();
        let phc = argon2i.hash_password(b"1357", &salt).unwrap().to_string();
        let v = verify_secret(&h(&phc), "1357", &SMALL).unwrap();
        assert!(v.matches && v.needs_rehash);
    }

    #[test]
    fn django_argon2_hashes_verify_and_need_rehash() {
        // Django's own test vectors (tests/auth_tests/test_hashers.py), password "secret".
        for encoded in [
            "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg",
        ] {
            assert_eq!(
                verify_secret(&h(encoded), "secret", &SMALL).unwrap(),
                Verified {
                    matches: true,
                    needs_rehash: true
                },
                "{encoded}"
            );
            assert!(!verify_secret(&h(encoded), "wrong", &SMALL).unwrap().matches);
        }
        // An argon2id one in Django's format, made here: "argon2" + the PHC string minus its '$'.
        let ours = hash_secret("lètmein", &SMALL, &[9; 16]).unwrap();
        let django = format!("argon2{}", ours.as_str());
        assert!(django.starts_with("argon2$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(
            verify_secret(&h(&django), "lètmein", &SMALL).unwrap(),
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(!verify_secret(&h(&django), "letmein", &SMALL).unwrap().matches);
    }

    #[test]
    fn django_argon2id_with_djangos_default_cost() {
        // Django's argon2id test vector with its default cost (m=102400, t=2, p=8), "secret".
        let encoded = h("argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCAUXRhJXCXdw");
        assert_eq!(
            verify_secret(&encoded, "secret", &HashParams::default()).unwrap(),
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[test]
    fn django_pbkdf2_sha256_verifies_and_needs_rehash() {
        // Computed with python3: base64.b64encode(hashlib.pbkdf2_hmac('sha256',
        // b'Demo-Passw0rd!', b'seasalt2024abcd', 1000)).
        let encoded = h("pbkdf2_sha256$1000$seasalt2024abcd$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=");
        assert_eq!(
            verify_secret(&encoded, "Demo-Passw0rd!", &SMALL).unwrap(),
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        assert_eq!(
            verify_secret(&encoded, "Demo-Passw0rd?", &SMALL).unwrap(),
            Verified {
                matches: false,
                needs_rehash: true
            }
        );
    }

    #[test]
    fn stored_hashes_are_checked_without_verifying() {
        let ours = hash_secret("x", &SMALL, &[7; SALT_LEN]).unwrap();
        assert_eq!(check_stored_hash(&ours), Ok(()));
        assert_eq!(check_stored_hash(&h(&format!("argon2{}", ours.as_str()))), Ok(()));
        assert_eq!(
            check_stored_hash(&h(
                "pbkdf2_sha256$1000$seasalt2024abcd$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4="
            )),
            Ok(())
        );
        for bad in [
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$x$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
            // A sign is no digit: verifying refuses it, so checking does too.
            "pbkdf2_sha256$+1000$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
            "pbkdf2_sha256$1000$salt$c2hvcnQ=",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "argon2$argon2id$nonsense",
        ] {
            assert_eq!(check_stored_hash(&h(bad)), Err(HashError::Malformed), "{bad}");
        }
        for unsupported in [
            "bcrypt$2b$12$abc",
            "Demo-Passw0rd!",
            "pbkdf2_sha256$20000000$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
        ] {
            assert!(
                matches!(check_stored_hash(&h(unsupported)), Err(HashError::Unsupported(_))),
                "{unsupported}"
            );
        }
        assert!(matches!(
            check_stored_hash(&h(
                "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            )),
            Err(HashError::Unsupported(_))
        ));
    }

    /// Each bound of [`check_cost`] exactly, on both sides. `HashParams::validate` can't show
    /// them all (the argon2 crate refuses memory below 8 per lane by itself), but
    /// [`check_stored_hash`] has only these bounds between a hostile imported hash and the server.
    #[test]
    fn cost_bounds_are_exact() {
        let max_m = HashParams::MAX_MEMORY_KIB;
        for (m, t, p, ok) in [
            (8, 1, 1, true),
            (7, 1, 1, false),
            (72, 1, 9, true),
            (71, 1, 9, false),
            (max_m, 1, 1, true),
            (max_m + 1, 1, 1, false),
            (512, 1, HashParams::MAX_PARALLELISM, true),
            (520, 1, HashParams::MAX_PARALLELISM + 1, false),
            (64, 1, 0, false),
            (64, HashParams::MAX_ITERATIONS, 1, true),
            (64, HashParams::MAX_ITERATIONS + 1, 1, false),
            (64, 0, 1, false),
        ] {
            assert_eq!(check_cost(m, t, p).is_ok(), ok, "m={m} t={t} p={p}");
            // A stored hash with that cost: checked by our bounds alone, nothing computed.
            let stored = h(&format!(
                "$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            ));
            match check_stored_hash(&stored) {
                Ok(()) => assert!(ok, "m={m} t={t} p={p} accepted"),
                Err(HashError::Unsupported(_)) => assert!(!ok, "m={m} t={t} p={p} refused"),
                Err(e) => panic!("m={m} t={t} p={p}: {e}"),
            }
        }
        assert_eq!(
            check_cost(71, 1, 9),
            Err("memory_kib must be between 72 (8 per lane) and 1048576".to_owned())
        );
    }

    #[test]
    fn pbkdf2_iteration_bound_is_exact() {
        let hash = "WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=";
        let at_bound = format!("pbkdf2_sha256${MAX_PBKDF2_ITERATIONS}$salt${hash}");
        assert_eq!(check_stored_hash(&h(&at_bound)), Ok(()));
        let above = format!("pbkdf2_sha256${}$salt${hash}", MAX_PBKDF2_ITERATIONS + 1);
        assert!(matches!(check_stored_hash(&h(&above)), Err(HashError::Unsupported(_))));
        assert_eq!(check_stored_hash(&h(&format!("pbkdf2_sha256$1$salt${hash}"))), Ok(()));
    }

    /// `needs_rehash` for a hash that differs from the current parameters in one respect only:
    /// each must be rehashed, so no single check of `PhcCheck::is_current` can be dropped.
    #[test]
    fn each_difference_alone_asks_for_a_rehash() {
        let salt = SaltString::encode_b64(&[3; 16]).unwrap();
        let params = SMALL.argon2_params().unwrap();
        let short_output =
            argon2::Params::new(SMALL.memory_kib, SMALL.iterations, SMALL.parallelism, Some(16)).unwrap();
        for (what, argon2) in [
            (
                "argon2i",
                Argon2::new(Algorithm::Argon2i, Version::V0x13, params.clone()),
            ),
            (
                "version 0x10",
                Argon2::new(Algorithm::Argon2id, Version::V0x10, params.clone()),
            ),
            (
                "16-byte output",
                Argon2::new(Algorithm::Argon2id, Version::V0x13, short_output),
            ),
        ] {
            let phc = argon2.hash_password(b"1357", &salt).unwrap().to_string();
            let v = verify_secret(&h(&phc), "1357", &SMALL).unwrap();
            assert!(v.matches && v.needs_rehash, "{what}: {phc}");
        }
        let current = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"1357", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            verify_secret(&h(&current), "1357", &SMALL).unwrap(),
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
    }

    /// Our infallible HMAC key setup against the hmac crate's own, for every key length around
    /// the 64-byte block (a key of exactly one block is used as is, a longer one hashed first).
    #[test]
    fn hmac_key_padding_matches_the_hmac_crate() {
        for len in 0..=130 {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut ours = hmac_sha256(&key);
            ours.update(b"message");
            let mut theirs = HmacSha256::new_from_slice(&key).unwrap();
            theirs.update(b"message");
            assert_eq!(
                ours.finalize().into_bytes(),
                theirs.finalize().into_bytes(),
                "key of {len} bytes"
            );
        }
    }

    #[test]
    fn pbkdf2_and_hmac_match_the_rfc_vectors() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256, "passwd"/"salt", c=1) and the widely published
        // "password"/"salt", c=1 and c=4096 vectors, first 32 bytes.
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&pbkdf2_hmac_sha256(b"password", b"salt", 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        assert_eq!(
            hex(&pbkdf2_hmac_sha256(b"password", b"salt", 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
        // RFC 4231 test case 6: a 131-byte key, longer than a block.
        let mut mac = hmac_sha256(&[0xaa; 131]);
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // RFC 4231 test case 2: a short key.
        let mut mac = hmac_sha256(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn malformed_hashes_are_errors_not_panics() {
        for bad in [
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaA",
            "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2id$v=19$t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2x$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2id$v=19$m=64,t=1,p=1,keyid=zz$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "argon2$argon2id$garbage",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$abc$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
            "pbkdf2_sha256$0$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
            "pbkdf2_sha256$-1$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
            "pbkdf2_sha256$99999999999$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
            "pbkdf2_sha256$1000$$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
            "pbkdf2_sha256$1000$salt$not-base64!",
            "pbkdf2_sha256$1000$salt$aGFzaA==",
            "pbkdf2_sha256$1000$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=$extra",
        ] {
            assert_eq!(
                verify_secret(&h(bad), "secret", &SMALL),
                Err(HashError::Malformed),
                "{bad}"
            );
        }
        for unsupported in [
            "bcrypt$2b$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "$2b$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "plaintext",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2id$v=19$m=64,t=1,p=4294967295$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2id$v=19$m=64,t=100000,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "pbkdf2_sha256$20000000$salt$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=",
        ] {
            assert!(
                matches!(
                    verify_secret(&h(unsupported), "secret", &SMALL),
                    Err(HashError::Unsupported(_))
                ),
                "{unsupported}"
            );
        }
        // The error names known schemes, and never echoes an unknown value (it may be a password).
        let err = verify_secret(&h("bcrypt$2b$12$abc"), "x", &SMALL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported password hash: bcrypt hashes are not supported"
        );
        let err = verify_secret(&h("Hunter2-plaintext"), "x", &SMALL).unwrap_err();
        assert!(!err.to_string().contains("Hunter2"), "{err}");
    }

    #[test]
    fn params_are_validated() {
        assert_eq!(HashParams::default().validate(), Ok(()));
        assert_eq!(SMALL.validate(), Ok(()));
        for bad in [
            HashParams { memory_kib: 7, ..SMALL },
            HashParams {
                memory_kib: 64,
                parallelism: 9,
                ..SMALL
            },
            HashParams { iterations: 0, ..SMALL },
            HashParams {
                parallelism: 0,
                ..SMALL
            },
            HashParams {
                parallelism: u32::MAX,
                ..SMALL
            },
            HashParams {
                memory_kib: u32::MAX,
                ..SMALL
            },
        ] {
            assert!(matches!(bad.validate(), Err(HashError::InvalidParams(_))), "{bad:?}");
            assert!(matches!(
                hash_secret("x", &bad, &[0; 16]),
                Err(HashError::InvalidParams(_))
            ));
        }
        // Invalid parameters still give a usable dummy hash (with the defaults).
        let dummy = dummy_hash(&HashParams { iterations: 0, ..SMALL });
        assert!(dummy.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn params_deserialize_with_defaults() {
        let p: HashParams = serde_json::from_str("{}").unwrap();
        assert_eq!(
            p,
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
                queue_timeout_ms: 5_000,
            }
        );
        let p: HashParams = serde_json::from_str(r#"{"memory_kib": 65536}"#).unwrap();
        assert_eq!((p.memory_kib, p.iterations), (65_536, 2));
        assert!(serde_json::from_str::<HashParams>(r#"{"memory": 1}"#).is_err());
    }

    #[test]
    fn dummy_hash_verifies_like_any_other() {
        let dummy = dummy_hash(&SMALL);
        assert!(dummy.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(dummy_hash(&SMALL), dummy, "deterministic");
        assert_eq!(
            verify_secret(&dummy, "anything", &SMALL).unwrap(),
            Verified {
                matches: false,
                needs_rehash: false
            }
        );
    }

    #[test]
    fn hash_memory_debug_shows_its_size_only() {
        let mut memory = HashMemory::default();
        assert_eq!(format!("{memory:?}"), "HashMemory(0 KiB)");
        memory.with(2, 4, |blocks| assert_eq!(blocks.len(), 2));
        assert_eq!(format!("{memory:?}"), "HashMemory(2 KiB)");
    }
}
