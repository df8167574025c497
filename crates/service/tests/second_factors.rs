//! Second factors through `Services` (issue 18): the backup carries them. Export → a fresh
//! database → import, with the same key configured: the user still needs the factor, the same
//! authenticator's codes work, a code already used before the backup stays used, and the
//! recovery codes come along. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use accountd_domain::ids::Username;
use accountd_domain::ports::{Clock, ManualClock};
use accountd_domain::principal::AuthMethod;
use accountd_domain::secret::Password;
use accountd_domain::user::Timestamp;
use accountd_policy::factors::{KeyRing, TotpSecret};
use accountd_policy::hashing::HashParams;
use accountd_service::demo::DEMO_PASSWORD;
use accountd_service::factors::Proof;
use accountd_service::hasher::Hasher;
use accountd_service::import::{Located, Location, Progress};
use accountd_service::random::OsRandom;
use accountd_service::{RequestContext, ServiceConfig, ServiceError, Services};
use accountd_storage::Database;
use accountd_storage::testing::TestDatabase;
use accountd_upstream::memory::InMemoryUpstream;
use std::sync::Arc;

const FAST: HashParams = HashParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
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
    services
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
