//! The use cases themselves, through `Services` (no HTTP): in a login mode that sends changes to
//! the Application Server, an AS refusal leaves the local store exactly as it was, and the refusal
//! is audited, for every change that goes upstream (profile, password, PIN, delete). The HTTP tests
//! check the same through the dialects; these pin it down where the rule lives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use accountd_domain::ids::Username;
use accountd_domain::level::GroupMember;
use accountd_domain::ports::{DeleteOptions, ManualClock, Repository, Store, UpstreamError};
use accountd_domain::principal::{AuthMethod, Principal};
use accountd_domain::records::{AuditAction, AuditEvent, AuditOutcome};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::text::Name;
use accountd_domain::user::{ProfileChange, Timestamp, User};
use accountd_policy::hashing::HashParams;
use accountd_policy::mode::LoginMode;
use accountd_service::demo::{DEMO_PASSWORD, DEMO_PIN};
use accountd_service::hasher::Hasher;
use accountd_service::pincode::PinUpdate;
use accountd_service::profile::Actor;
use accountd_service::random::OsRandom;
use accountd_service::{RequestContext, ServiceConfig, ServiceError, Services};
use accountd_storage::Database;
use accountd_storage::testing::TestDatabase;
use accountd_upstream::memory::InMemoryUpstream;
use std::sync::Arc;

const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);
/// Demo data hashes every demo password: the smallest argon2 parameters keep that quick.
const FAST: HashParams = HashParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
    ..HashParams::DEFAULT
};
const REFUSAL: &str = "the AS says no";

struct World {
    _db: TestDatabase,
    store: Database,
    upstream: Arc<InMemoryUpstream>,
    services: Services<Database>,
}

/// Demo data on SQLite, in `local_login_dedicated` (local login; every change goes to the AS too).
fn world() -> World {
    let db = TestDatabase::sqlite();
    let store: Database = (*db).clone();
    let upstream = Arc::new(InMemoryUpstream::new());
    let mut config = ServiceConfig::default();
    config.apio.login_mode = LoginMode::LocalLoginDedicated;
    config.hashing = FAST;
    let services = Services::new(
        store.clone(),
        upstream.clone(),
        Arc::new(ManualClock::at(T0)),
        Arc::new(OsRandom),
        Hasher::new(FAST, 2),
        config,
    )
    .unwrap();
    services.load_demo_data().unwrap();
    World {
        _db: db,
        store,
        upstream,
        services,
    }
}

impl World {
    fn user(&self, username: &str) -> User {
        self.services
            .find_user(&Username::parse(username).unwrap())
            .unwrap()
            .unwrap()
    }

    fn signed_in(&self, username: &str) -> Principal {
        let outcome = self
            .services
            .login(username, &Password::new(DEMO_PASSWORD).unwrap(), &ctx())
            .unwrap();
        self.services
            .authenticate_session(&outcome.session_token, AuthMethod::Session)
            .unwrap()
    }

    /// Everything the store holds about `user` that a change could touch.
    fn local_state(&self, user: &User) -> (Option<User>, Option<String>, Option<String>) {
        self.store
            .read(|repo: &mut dyn Repository| {
                let now = repo.user_by_key(user.key)?;
                let password = repo.password(user.key)?.map(|p| p.hash.as_str().to_owned());
                let pin = repo
                    .pin(user.key)?
                    .map(|p| format!("{:?} {:?}", p.hash.as_ref().map(|h| h.as_str().to_owned()), p.settings));
                Ok::<_, accountd_domain::ports::StoreError>((now, password, pin))
            })
            .unwrap()
    }

    /// The last audit event about `user`.
    fn last_audit(&self, user: &User) -> AuditEvent {
        self.store
            .read(|repo: &mut dyn Repository| repo.recent_audit(Some(user.key), 1))
            .unwrap()
            .into_iter()
            .next()
            .expect("an audit event")
    }

    fn refuse_next(&self) {
        self.upstream.fail_next(UpstreamError::Rejected {
            details: REFUSAL.to_owned(),
        });
    }
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: Some("use-case-test".to_owned()),
        ..RequestContext::default()
    }
}

fn member_of(user: &User) -> GroupMember {
    user.role.member().cloned().expect("a group member")
}

fn assert_refused_by_the_as<T: std::fmt::Debug>(result: Result<T, ServiceError>) {
    match result {
        Err(ServiceError::Upstream(UpstreamError::Rejected { details })) => assert_eq!(details, REFUSAL),
        other => panic!("expected the AS's refusal, got {other:?}"),
    }
}

fn assert_audited(event: &AuditEvent, action: AuditAction, field: &str) {
    assert_eq!(event.action, action, "{event:?}");
    assert_eq!(event.outcome, AuditOutcome::Failed, "{event:?}");
    assert!(event.fields.iter().any(|f| f == field), "{event:?}");
    assert_eq!(event.request_id.as_deref(), Some("use-case-test"));
}

#[test]
fn a_refused_profile_change_leaves_local_unchanged_and_is_audited() {
    let w = world();
    let foo = w.user("foouser");
    let before = w.local_state(&foo);
    w.refuse_next();
    let change = ProfileChange {
        first_name: Some(Name::parse_for("firstName", "Refused").unwrap()),
        ..ProfileChange::default()
    };
    assert_refused_by_the_as(
        w.services
            .update_profile(Actor::Operator, foo.key, None, &change, &ctx()),
    );
    assert_eq!(w.local_state(&foo), before);
    assert_audited(&w.last_audit(&foo), AuditAction::ProfileUpdate, "firstName");

    // The same change, accepted, does change both: the refusal above is what kept it out.
    w.services
        .update_profile(Actor::Operator, foo.key, None, &change, &ctx())
        .unwrap();
    assert_eq!(w.user("foouser").profile.first_name.as_str(), "Refused");
}

#[test]
fn a_refused_password_change_leaves_local_unchanged_and_is_audited() {
    let w = world();
    let foo = w.user("foouser");
    let me = w.signed_in("foouser");
    let before = w.local_state(&foo);
    let old = Password::new(DEMO_PASSWORD).unwrap();
    let new = Password::new("An0ther-Passw0rd!x").unwrap();
    w.refuse_next();
    assert_refused_by_the_as(
        w.services
            .change_password(Actor::Caller(&me), foo.key, Some(&old), &new, &ctx()),
    );
    assert_eq!(w.local_state(&foo), before);
    assert_audited(&w.last_audit(&foo), AuditAction::PasswordChange, "password");
    // The old password still signs in.
    w.signed_in("foouser");

    w.services
        .change_password(Actor::Caller(&me), foo.key, Some(&old), &new, &ctx())
        .unwrap();
    assert_ne!(w.local_state(&foo).1, before.1);
}

#[test]
fn a_refused_pin_change_leaves_local_unchanged_and_is_audited() {
    let w = world();
    let foo = w.user("foouser");
    let me = w.signed_in("foouser");
    let before = w.local_state(&foo);
    assert!(before.2.is_some(), "foouser has a PIN");
    let update = PinUpdate {
        pin: Some(PinCode::parse("258147").unwrap()),
        old_pin: Some(PinCode::parse(DEMO_PIN).unwrap()),
        ..PinUpdate::default()
    };
    w.refuse_next();
    assert_refused_by_the_as(w.services.update_pin(&me, &member_of(&foo), &update, &ctx()));
    assert_eq!(w.local_state(&foo), before);
    assert_audited(&w.last_audit(&foo), AuditAction::PinChange, "pinCode");

    w.services.update_pin(&me, &member_of(&foo), &update, &ctx()).unwrap();
    assert_ne!(w.local_state(&foo).2, before.2);
}

#[test]
fn a_refused_delete_leaves_the_user_and_is_audited() {
    let w = world();
    let foo = w.user("foouser");
    let admin = w.signed_in("admin");
    let before = w.local_state(&foo);
    w.refuse_next();
    assert_refused_by_the_as(
        w.services
            .delete_user(&admin, &member_of(&foo), None, &DeleteOptions::default(), &ctx()),
    );
    assert_eq!(w.local_state(&foo), before);
    let event = w.last_audit(&foo);
    assert_eq!(
        (event.action, event.outcome),
        (AuditAction::UserDelete, AuditOutcome::Failed)
    );

    w.services
        .delete_user(&admin, &member_of(&foo), None, &DeleteOptions::default(), &ctx())
        .unwrap();
    assert_eq!(w.local_state(&foo).0, None);
}
