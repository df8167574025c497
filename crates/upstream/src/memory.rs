//! [`InMemoryUpstream`]: a complete Application Server held in memory, for the tests of the crates
//! that use the port (service, http, the binary).
//!
//! It keeps users' passwords and PINs (plaintext: it is a test double, never wired in production),
//! per-level password and PIN rules, and a log of every call it received ([`UpstreamCall`], which
//! never holds a secret). Failures can be injected once ([`InMemoryUpstream::fail_next`]) or for
//! every call ([`InMemoryUpstream::fail_always`]), and answers can be delayed
//! ([`InMemoryUpstream::set_delay`]). Clones share one state, so a test keeps a clone to inspect
//! what the code under test did with the other.
//!
//! Order of work for each call: log it, wait for the delay, answer an injected failure if any (the
//! state is then left unchanged), otherwise do the operation.

use accountd_domain::ids::Username;
use accountd_domain::level::UserLevel;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{ApplicationServer, UpstreamError};
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::user::{ProfileChange, ProfileField, User};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// One call the Application Server received, without any secret it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamCall {
    /// [`ApplicationServer::authenticate`].
    Authenticate {
        /// Who tried to sign in.
        username: Username,
    },
    /// [`ApplicationServer::update_profile`].
    UpdateProfile {
        /// Whose profile.
        username: Username,
        /// The fields the change set, in [`ProfileField::ALL`] order.
        fields: Vec<ProfileField>,
    },
    /// [`ApplicationServer::set_password`].
    SetPassword {
        /// Whose password.
        username: Username,
    },
    /// [`ApplicationServer::set_pin`], with or without a new PIN.
    SetPin {
        /// Whose PIN.
        username: Username,
    },
    /// [`ApplicationServer::delete_user`].
    DeleteUser {
        /// Who is deleted.
        username: Username,
        /// Whether the user's devices go too.
        delete_devices: bool,
    },
    /// [`ApplicationServer::password_rules`].
    PasswordRules {
        /// The level asked for.
        level: UserLevel,
    },
    /// [`ApplicationServer::pin_rules`].
    PinRules {
        /// The level asked for.
        level: UserLevel,
    },
}

/// What the in-memory Application Server knows of one user.
#[derive(Clone, Default)]
struct Account {
    password: Option<String>,
    pin: Option<String>,
    pin_settings: Option<PinSettings>,
    /// Every profile change received, oldest first.
    profile_changes: Vec<ProfileChange>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Even a test double's secrets stay out of panic messages and test output.
        let redacted = |set: bool| if set { "<redacted>" } else { "<none>" };
        f.debug_struct("Account")
            .field("password", &redacted(self.password.is_some()))
            .field("pin", &redacted(self.pin.is_some()))
            .field("pin_settings", &self.pin_settings)
            .field("profile_changes", &self.profile_changes.len())
            .finish()
    }
}

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<String, Account>,
    password_rules: HashMap<UserLevel, PasswordRules>,
    pin_rules: HashMap<UserLevel, PinRules>,
    calls: Vec<UpstreamCall>,
    fail_next: VecDeque<UpstreamError>,
    fail_always: Option<UpstreamError>,
    /// Calls that still succeed before every call fails with the error.
    fail_after: Option<(usize, UpstreamError)>,
    delay: Option<Duration>,
    known_users_only: bool,
}

/// An Application Server in memory. `Clone` shares the state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryUpstream {
    state: Arc<Mutex<State>>,
}

impl InMemoryUpstream {
    /// An Application Server that knows no user, has no rules and accepts changes for any user.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`InMemoryUpstream::add_user`].
    pub fn with_user(self, username: impl AsRef<str>, password: impl Into<String>) -> Self {
        self.add_user(username, password);
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide its own failure behind ours.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds (or replaces) a user with this password.
    pub fn add_user(&self, username: impl AsRef<str>, password: impl Into<String>) {
        let mut state = self.state();
        let account = state.accounts.entry(username.as_ref().to_owned()).or_default();
        account.password = Some(password.into());
    }

    /// Forgets a user; `false` when there was none.
    pub fn remove_user(&self, username: impl AsRef<str>) -> bool {
        self.state().accounts.remove(username.as_ref()).is_some()
    }

    /// Whether the Application Server knows this user.
    pub fn has_user(&self, username: impl AsRef<str>) -> bool {
        self.state().accounts.contains_key(username.as_ref())
    }

    /// The user's current password, if the user exists and has one.
    pub fn password_of(&self, username: impl AsRef<str>) -> Option<String> {
        self.state()
            .accounts
            .get(username.as_ref())
            .and_then(|a| a.password.clone())
    }

    /// The user's current PIN, if the user exists and has one.
    pub fn pin_of(&self, username: impl AsRef<str>) -> Option<String> {
        self.state().accounts.get(username.as_ref()).and_then(|a| a.pin.clone())
    }

    /// The PIN settings last set for the user.
    pub fn pin_settings_of(&self, username: impl AsRef<str>) -> Option<PinSettings> {
        self.state()
            .accounts
            .get(username.as_ref())
            .and_then(|a| a.pin_settings)
    }

    /// Every profile change the user received (and accepted), oldest first.
    pub fn profile_changes_of(&self, username: impl AsRef<str>) -> Vec<ProfileChange> {
        self.state()
            .accounts
            .get(username.as_ref())
            .map(|a| a.profile_changes.clone())
            .unwrap_or_default()
    }

    /// Sets (or with `None` removes) the password rules for a level.
    pub fn set_password_rules(&self, level: UserLevel, rules: Option<PasswordRules>) {
        let mut state = self.state();
        match rules {
            Some(rules) => state.password_rules.insert(level, rules),
            None => state.password_rules.remove(&level),
        };
    }

    /// Sets (or with `None` removes) the PIN rules for a level.
    pub fn set_pin_rules(&self, level: UserLevel, rules: Option<PinRules>) {
        let mut state = self.state();
        match rules {
            Some(rules) => state.pin_rules.insert(level, rules),
            None => state.pin_rules.remove(&level),
        };
    }

    /// With `true`, changes to a user the Application Server doesn't know are refused
    /// ([`UpstreamError::Rejected`]), as a real one would; by default they create the user.
    pub fn require_known_users(&self, on: bool) {
        self.state().known_users_only = on;
    }

    /// The next call fails with `error` (and changes nothing). Queued: calling this twice makes the
    /// next two calls fail, in order. Takes precedence over [`InMemoryUpstream::fail_always`].
    pub fn fail_next(&self, error: UpstreamError) {
        self.state().fail_next.push_back(error);
    }

    /// Every call fails with `error` until this is called with `None` (which also ends
    /// [`InMemoryUpstream::succeed_then_fail`]).
    pub fn fail_always(&self, error: Option<UpstreamError>) {
        let mut state = self.state();
        if error.is_none() {
            state.fail_after = None;
        }
        state.fail_always = error;
    }

    /// The next `successes` calls run as usual; every later one fails with `error` until
    /// [`InMemoryUpstream::fail_always`]`(None)`: an AS that accepts a change and is gone for the
    /// call after it.
    pub fn succeed_then_fail(&self, successes: usize, error: UpstreamError) {
        self.state().fail_after = Some((successes, error));
    }

    /// Every call waits this long before it answers (a slow network element); `None`: no wait.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.state().delay = delay;
    }

    /// Every call received so far, oldest first.
    pub fn calls(&self) -> Vec<UpstreamCall> {
        self.state().calls.clone()
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// Logs `call`, waits for the delay, then answers an injected failure or runs `operation` on the
    /// state.
    fn handle<T>(
        &self,
        call: UpstreamCall,
        operation: impl FnOnce(&mut State) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let delay = {
            let mut state = self.state();
            state.calls.push(call);
            state.delay
        };
        if let Some(delay) = delay {
            // Outside the lock: a slow call must not stall the test inspecting the double.
            std::thread::sleep(delay);
        }
        let mut state = self.state();
        if let Some(error) = state.fail_next.pop_front() {
            return Err(error);
        }
        if let Some(error) = &state.fail_always {
            return Err(error.clone());
        }
        if let Some((left, error)) = &mut state.fail_after {
            if *left == 0 {
                return Err(error.clone());
            }
            *left -= 1;
        }
        operation(&mut state)
    }
}

impl State {
    /// The account a change is for: created on demand, unless only known users are accepted.
    fn account_for_change(&mut self, username: &Username) -> Result<&mut Account, UpstreamError> {
        if self.known_users_only && !self.accounts.contains_key(username.as_str()) {
            return Err(UpstreamError::Rejected {
                details: format!("unknown user {username}"),
            });
        }
        Ok(self.accounts.entry(username.as_str().to_owned()).or_default())
    }
}

impl ApplicationServer for InMemoryUpstream {
    fn authenticate(&self, username: &Username, password: &Password) -> Result<(), UpstreamError> {
        let call = UpstreamCall::Authenticate {
            username: username.clone(),
        };
        self.handle(call, |state| {
            let stored = state
                .accounts
                .get(username.as_str())
                .and_then(|a| a.password.as_deref());
            if stored == Some(password.expose()) {
                Ok(())
            } else {
                Err(UpstreamError::Unauthorized)
            }
        })
    }

    fn update_profile(&self, user: &User, change: &ProfileChange) -> Result<(), UpstreamError> {
        let call = UpstreamCall::UpdateProfile {
            username: user.username.clone(),
            fields: change.fields(),
        };
        self.handle(call, |state| {
            state
                .account_for_change(&user.username)?
                .profile_changes
                .push(change.clone());
            Ok(())
        })
    }

    fn set_password(&self, user: &User, password: &Password) -> Result<(), UpstreamError> {
        let call = UpstreamCall::SetPassword {
            username: user.username.clone(),
        };
        self.handle(call, |state| {
            state.account_for_change(&user.username)?.password = Some(password.expose().to_owned());
            Ok(())
        })
    }

    fn set_pin(&self, user: &User, pin: Option<&PinCode>, settings: &PinSettings) -> Result<(), UpstreamError> {
        let call = UpstreamCall::SetPin {
            username: user.username.clone(),
        };
        self.handle(call, |state| {
            let account = state.account_for_change(&user.username)?;
            if let Some(pin) = pin {
                account.pin = Some(pin.expose().to_owned());
            }
            account.pin_settings = Some(*settings);
            Ok(())
        })
    }

    fn delete_user(&self, user: &User, delete_devices: bool) -> Result<(), UpstreamError> {
        let call = UpstreamCall::DeleteUser {
            username: user.username.clone(),
            delete_devices,
        };
        // Deleting a user that isn't there is not an error (seed 001).
        self.handle(call, |state| {
            state.accounts.remove(user.username.as_str());
            Ok(())
        })
    }

    fn password_rules(&self, level: UserLevel) -> Result<Option<PasswordRules>, UpstreamError> {
        self.handle(UpstreamCall::PasswordRules { level }, |state| {
            Ok(state.password_rules.get(&level).cloned())
        })
    }

    fn pin_rules(&self, level: UserLevel) -> Result<Option<PinRules>, UpstreamError> {
        self.handle(UpstreamCall::PinRules { level }, |state| {
            Ok(state.pin_rules.get(&level).cloned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_user;
    use accountd_domain::text::Name;
    use std::time::Instant;

    fn pw(text: &str) -> Password {
        Password::new(text).unwrap()
    }

    #[test]
    fn authenticates_against_the_stored_password() {
        let up = InMemoryUpstream::new().with_user("alice@acme.com", "Alice-Pass1");
        let alice = Username::parse("alice@acme.com").unwrap();
        let bob = Username::parse("bob@acme.com").unwrap();
        assert_eq!(up.authenticate(&alice, &pw("Alice-Pass1")), Ok(()));
        assert_eq!(up.authenticate(&alice, &pw("wrong")), Err(UpstreamError::Unauthorized));
        assert_eq!(
            up.authenticate(&bob, &pw("Alice-Pass1")),
            Err(UpstreamError::Unauthorized)
        );
    }

    #[test]
    fn writes_change_the_state_and_are_logged_without_secrets() {
        let up = InMemoryUpstream::new().with_user("alice@acme.com", "Old-Pass1");
        let alice = sample_user("alice@acme.com");
        up.set_password(&alice, &pw("New-Pass2")).unwrap();
        assert_eq!(up.password_of("alice@acme.com").as_deref(), Some("New-Pass2"));
        assert_eq!(up.authenticate(&alice.username, &pw("New-Pass2")), Ok(()));

        let settings = PinSettings::new(true, 90, false).unwrap();
        up.set_pin(&alice, Some(&PinCode::parse("2468").unwrap()), &settings)
            .unwrap();
        up.set_pin(&alice, None, &PinSettings::default()).unwrap();
        assert_eq!(
            up.pin_of("alice@acme.com").as_deref(),
            Some("2468"),
            "no PIN keeps the PIN"
        );
        assert_eq!(up.pin_settings_of("alice@acme.com"), Some(PinSettings::default()));

        let change = ProfileChange {
            first_name: Some(Name::parse_for("firstName", "Alicia").unwrap()),
            ..ProfileChange::default()
        };
        up.update_profile(&alice, &change).unwrap();
        assert_eq!(up.profile_changes_of("alice@acme.com"), vec![change]);

        up.delete_user(&alice, true).unwrap();
        assert!(!up.has_user("alice@acme.com"));
        up.delete_user(&alice, false).unwrap();

        let username = alice.username.clone();
        assert_eq!(
            up.calls(),
            vec![
                UpstreamCall::SetPassword {
                    username: username.clone()
                },
                UpstreamCall::Authenticate {
                    username: username.clone()
                },
                UpstreamCall::SetPin {
                    username: username.clone()
                },
                UpstreamCall::SetPin {
                    username: username.clone()
                },
                UpstreamCall::UpdateProfile {
                    username: username.clone(),
                    fields: vec![ProfileField::FirstName]
                },
                UpstreamCall::DeleteUser {
                    username: username.clone(),
                    delete_devices: true
                },
                UpstreamCall::DeleteUser {
                    username,
                    delete_devices: false
                },
            ]
        );
        let log = format!("{:?}", up.calls());
        assert!(!log.contains("New-Pass2") && !log.contains("2468"), "{log}");
        up.add_user("erin@acme.com", "Erin-Pass1");
        let printed = format!("{up:?}");
        assert!(
            !printed.contains("Erin-Pass1") && printed.contains("<redacted>"),
            "{printed}"
        );
        up.clear_calls();
        assert!(up.calls().is_empty());
    }

    #[test]
    fn unknown_users_are_created_or_refused() {
        let up = InMemoryUpstream::new();
        let carol = sample_user("carol@acme.com");
        up.set_password(&carol, &pw("Carol-Pass1")).unwrap();
        assert!(up.has_user("carol@acme.com"));

        let strict = InMemoryUpstream::new();
        strict.require_known_users(true);
        assert!(matches!(
            strict.set_password(&carol, &pw("Carol-Pass1")),
            Err(UpstreamError::Rejected { .. })
        ));
        assert!(matches!(
            strict.update_profile(&carol, &ProfileChange::default()),
            Err(UpstreamError::Rejected { .. })
        ));
        assert!(!strict.has_user("carol@acme.com"));
        assert_eq!(
            strict.delete_user(&carol, true),
            Ok(()),
            "deleting a missing user is fine"
        );
    }

    #[test]
    fn rules_are_per_level() {
        let up = InMemoryUpstream::new();
        let rules = PasswordRules {
            min_length: 12,
            ..PasswordRules::NONE
        };
        up.set_password_rules(UserLevel::EndUser, Some(rules.clone()));
        assert_eq!(up.password_rules(UserLevel::EndUser), Ok(Some(rules)));
        assert_eq!(up.password_rules(UserLevel::GroupAdmin), Ok(None));
        up.set_password_rules(UserLevel::EndUser, None);
        assert_eq!(up.password_rules(UserLevel::EndUser), Ok(None));

        let pin = PinRules {
            min_length: 4,
            max_length: 8,
            max_repeated_digits: Some(2),
            max_ascending_run: None,
            max_descending_run: None,
            forbid_repeated_patterns: true,
            forbid_user_number: true,
            forbid_reversed_user_number: false,
            history: 3,
            forbid_reversed_old: false,
            expiry_days: Some(90),
            max_failed_attempts: None,
        };
        up.set_pin_rules(UserLevel::GroupAdmin, Some(pin.clone()));
        assert_eq!(up.pin_rules(UserLevel::GroupAdmin), Ok(Some(pin)));
        assert_eq!(up.pin_rules(UserLevel::EndUser), Ok(None));
        assert_eq!(
            up.calls()[..2],
            [
                UpstreamCall::PasswordRules {
                    level: UserLevel::EndUser
                },
                UpstreamCall::PasswordRules {
                    level: UserLevel::GroupAdmin
                }
            ]
        );
    }

    #[test]
    fn fail_next_fails_once_in_order_and_changes_nothing() {
        let up = InMemoryUpstream::new().with_user("alice@acme.com", "Old-Pass1");
        let alice = sample_user("alice@acme.com");
        up.fail_next(UpstreamError::Timeout);
        up.fail_next(UpstreamError::Rejected {
            details: "too weak".to_owned(),
        });
        assert_eq!(up.set_password(&alice, &pw("New-Pass2")), Err(UpstreamError::Timeout));
        assert_eq!(
            up.set_password(&alice, &pw("New-Pass2")),
            Err(UpstreamError::Rejected {
                details: "too weak".to_owned()
            })
        );
        assert_eq!(up.password_of("alice@acme.com").as_deref(), Some("Old-Pass1"));
        assert_eq!(up.set_password(&alice, &pw("New-Pass2")), Ok(()));
        assert_eq!(up.password_of("alice@acme.com").as_deref(), Some("New-Pass2"));
        assert_eq!(up.calls().len(), 3, "failed calls are logged too");
    }

    #[test]
    fn fail_always_fails_every_call_until_cleared() {
        let up = InMemoryUpstream::new().with_user("alice@acme.com", "Pass-1234");
        let alice = sample_user("alice@acme.com");
        up.fail_always(Some(UpstreamError::Unavailable("down for the test".to_owned())));
        up.fail_next(UpstreamError::Timeout);
        assert_eq!(
            up.authenticate(&alice.username, &pw("Pass-1234")),
            Err(UpstreamError::Timeout),
            "fail_next comes first"
        );
        for _ in 0..3 {
            assert!(matches!(
                up.authenticate(&alice.username, &pw("Pass-1234")),
                Err(UpstreamError::Unavailable(_))
            ));
        }
        assert!(matches!(
            up.pin_rules(UserLevel::EndUser),
            Err(UpstreamError::Unavailable(_))
        ));
        assert!(matches!(
            up.delete_user(&alice, false),
            Err(UpstreamError::Unavailable(_))
        ));
        assert!(up.has_user("alice@acme.com"));
        up.fail_always(None);
        assert_eq!(up.authenticate(&alice.username, &pw("Pass-1234")), Ok(()));
    }

    #[test]
    fn delay_slows_answers_without_locking_out_inspection() {
        let up = InMemoryUpstream::new().with_user("alice@acme.com", "Pass-1234");
        up.set_delay(Some(Duration::from_millis(200)));
        let worker = {
            let up = up.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let alice = Username::parse("alice@acme.com").unwrap();
                let result = up.authenticate(&alice, &pw("Pass-1234"));
                (result, start.elapsed())
            })
        };
        // The call is logged before the wait, and the state stays readable meanwhile.
        let seen = Instant::now();
        while up.calls().is_empty() {
            assert!(seen.elapsed() < Duration::from_secs(5), "the call never arrived");
            std::thread::yield_now();
        }
        assert!(up.has_user("alice@acme.com"));
        let (result, elapsed) = worker.join().unwrap();
        assert_eq!(result, Ok(()));
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        up.set_delay(None);
    }

    #[test]
    fn clones_share_state_and_work_behind_a_trait_object() {
        let up = InMemoryUpstream::new();
        let port: Arc<dyn ApplicationServer> = Arc::new(up.clone());
        port.set_password(&sample_user("dave@acme.com"), &pw("Dave-Pass1"))
            .unwrap();
        assert_eq!(up.password_of("dave@acme.com").as_deref(), Some("Dave-Pass1"));
    }
}
