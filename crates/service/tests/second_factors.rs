//! Second factors through `Services` (issues 18 and 19): the backup carries them. Export → a
//! fresh database → import, with the same key configured: the user still needs the factor, the
//! same authenticator's codes work, a code already used before the backup stays used, the
//! recovery codes come along, and so does a passkey (name, last use, counter). On SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use accountd_domain::ids::Username;
use accountd_domain::ports::{Clock, ManualClock, Store};
use accountd_domain::principal::AuthMethod;
use accountd_domain::secret::Password;
use accountd_domain::user::Timestamp;
use accountd_policy::factors::{KeyRing, TotpSecret};
use accountd_policy::hashing::HashParams;
use accountd_service::config::PasskeyConfig;
use accountd_service::demo::DEMO_PASSWORD;
use accountd_service::factors::Proof;
use accountd_service::hasher::Hasher;
use accountd_service::import::{Located, Location, Progress};
use accountd_service::passkeys::relying_party;
use accountd_service::random::OsRandom;
use accountd_service::{RequestContext, ServiceConfig, ServiceError, Services};
use accountd_storage::Database;
use accountd_storage::testing::TestDatabase;
use accountd_upstream::memory::InMemoryUpstream;
use std::sync::Arc;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::Url;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse, ResidentKeyRequirement};

const FAST: HashParams = HashParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
    ..HashParams::DEFAULT
};

struct Quiet;
impl Progress for Quiet {}

fn services(db: &TestDatabase, clock: &Arc<ManualClock>) -> Services<Database> {
    let config = ServiceConfig {
        hashing: FAST,
        ..ServiceConfig::default()
    };
    let mut services = Services::new(
        (**db).clone(),
        Arc::new(InMemoryUpstream::new()),
        clock.clone(),
        Arc::new(OsRandom),
        Hasher::new(FAST, 2),
        config,
    )
    .unwrap();
    services.set_key_ring(KeyRing::new(vec![("k1".to_owned(), [42; 32])]).unwrap());
    services.set_relying_party(relying_party(&PasskeyConfig::default()).unwrap());
    services
}

/// The default `passkeys.origins`.
const ORIGIN: &str = "http://localhost:8080";

/// Registers a passkey of `authenticator` named `name` for `me`.
fn register_passkey(
    services: &Services<Database>,
    me: &accountd_domain::principal::Principal,
    authenticator: &mut WebauthnAuthenticator<SoftPasskey>,
    name: &str,
) {
    let begun = services.begin_passkey_registration(me).unwrap();
    let mut options: CreationChallengeResponse = serde_json::from_value(begun.options).unwrap();
    // SoftPasskey keeps no resident keys (tests/api/passkeys.rs says more).
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    selection.resident_key = Some(ResidentKeyRequirement::Discouraged);
    selection.require_resident_key = false;
    let answer = authenticator
        .do_registration(Url::parse(ORIGIN).unwrap(), options)
        .unwrap();
    let answer = serde_json::to_value(answer).unwrap();
    services
        .finish_passkey_registration(me, &begun.ceremony, name, answer, &ctx())
        .unwrap();
}

/// A password login's second step finished with `authenticator`'s passkey.
fn second_step_with_passkey(
    services: &Services<Database>,
    authenticator: &mut WebauthnAuthenticator<SoftPasskey>,
) -> Result<accountd_service::auth::LoginOutcome, ServiceError> {
    let challenge = match services.login("foouser", &Password::new(DEMO_PASSWORD).unwrap(), &ctx()) {
        Err(ServiceError::SecondFactorRequired(c)) => c,
        other => panic!("expected the second step, got {other:?}"),
    };
    assert!(challenge.methods.contains(&"passkey"), "{:?}", challenge.methods);
    let options: RequestChallengeResponse = serde_json::from_value(challenge.passkey_options.unwrap()).unwrap();
    let answer = authenticator
        .do_authentication(Url::parse(ORIGIN).unwrap(), options)
        .unwrap();
    let credential = serde_json::to_value(answer).unwrap();
    let proof = Proof::Passkey {
        ceremony: None,
        credential: &credential,
    };
    services.login_second_factor(&challenge.challenge, &proof, &ctx())
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn code(secret: &TotpSecret, clock: &ManualClock, steps: i64) -> String {
    secret.code_at_step(clock.now().as_millis() / 30_000 + steps)
}

/// The challenge of a password login that needs a second factor.
fn challenge(services: &Services<Database>) -> String {
    match services.login("foouser", &Password::new(DEMO_PASSWORD).unwrap(), &ctx()) {
        Err(ServiceError::SecondFactorRequired(c)) => c.challenge,
        other => panic!("expected the second step, got {other:?}"),
    }
}

fn backup_and_restore_keep_the_factor(source: &TestDatabase, target: &TestDatabase) {
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_700_000_000_000)));
    let before = services(source, &clock);
    before.load_demo_data().unwrap();
    let outcome = before
        .login("foouser", &Password::new(DEMO_PASSWORD).unwrap(), &ctx())
        .unwrap();
    let me = before
        .authenticate_session(&outcome.session_token, AuthMethod::Session)
        .unwrap();
    let enrollment = before.enroll_totp(&me, &ctx()).unwrap();
    let secret = TotpSecret::from_base32(&enrollment.secret).unwrap();
    let recovery = before.confirm_totp(&me, &code(&secret, &clock, 0), &ctx()).unwrap();
    // Used before the backup: this step's code.
    let used = code(&secret, &clock, 1);
    let first = challenge(&before);
    before.login_second_factor(&first, &Proof::Totp(&used), &ctx()).unwrap();
    // A passkey, used once (its counter is 1 now).
    let mut laptop = WebauthnAuthenticator::new(SoftPasskey::new(true));
    register_passkey(&before, &me, &mut laptop, "Laptop");
    second_step_with_passkey(&before, &mut laptop).unwrap();

    let records = before.export(&Quiet).unwrap();
    let exported = records
        .iter()
        .find(|r| r.username.as_deref() == Some("foouser"))
        .unwrap();
    assert!(
        exported.totp.as_deref().is_some_and(|t| t.starts_with("k1:")),
        "sealed, with its key id"
    );
    assert!(!format!("{exported:?}").contains(&enrollment.secret));
    assert_eq!(
        exported.recovery_codes.as_deref().map(|c| c.split(' ').count()),
        Some(10)
    );
    let passkeys: serde_json::Value = serde_json::from_str(exported.passkeys.as_deref().unwrap()).unwrap();
    assert_eq!(passkeys[0]["name"], "Laptop");
    assert!(passkeys[0]["last_used_at"].is_i64());
    assert_eq!(passkeys[0]["credential"]["cred"]["counter"], 1);

    let after = services(target, &clock);
    let rows = records
        .into_iter()
        .enumerate()
        .map(|(i, record)| Located {
            location: Location::Index(i),
            record: Ok(record),
        })
        .collect();
    let report = after.import(rows, &Quiet).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    // The restored user still needs the factor; the used code stays used; the next one works.
    let again = challenge(&after);
    assert!(matches!(
        after.login_second_factor(&again, &Proof::Totp(&used), &ctx()),
        Err(ServiceError::BadCredentials)
    ));
    clock.advance_seconds(30);
    let next = code(&secret, &clock, 1);
    after.login_second_factor(&again, &Proof::Totp(&next), &ctx()).unwrap();
    let third = challenge(&after);
    after
        .login_second_factor(&third, &Proof::RecoveryCode(&recovery.0[3]), &ctx())
        .unwrap();
    // The passkey works as before, its counter carried on (2 after 1); its use is recorded.
    second_step_with_passkey(&after, &mut laptop).unwrap();
    let restored = after.find_user(&Username::parse("foouser").unwrap()).unwrap().unwrap();
    let listed_user = restored.key;
    let listed = after
        .passkeys(&accountd_domain::principal::Principal {
            user: restored,
            ..me.clone()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Laptop");
    let stored = target.read(|r| r.user_passkeys(listed_user)).unwrap();
    assert_eq!(stored[0].passkey.counter, 2, "1 before the backup, 2 after");
    // And Basic stays refused for them.
    assert!(matches!(
        after.authenticate_basic("foouser", &Password::new(DEMO_PASSWORD).unwrap(), &ctx()),
        Err(ServiceError::BasicWithSecondFactor)
    ));
    assert!(after.find_user(&Username::parse("foouser").unwrap()).unwrap().is_some());
}

#[test]
fn export_then_import_keeps_second_factors_on_sqlite() {
    backup_and_restore_keep_the_factor(&TestDatabase::sqlite(), &TestDatabase::sqlite());
}

#[test]
fn export_then_import_keeps_second_factors_on_postgres() {
    let (Some(source), Some(target)) = (TestDatabase::postgres_or_skip(), TestDatabase::postgres_or_skip()) else {
        return;
    };
    backup_and_restore_keep_the_factor(&source, &target);
}
