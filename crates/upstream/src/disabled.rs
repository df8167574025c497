//! [`DisabledUpstream`]: accountd without an Application Server.
//!
//! Credentials can't be checked and changes can't be sent (both answer
//! [`UpstreamError::Disabled`]), and there are no network-element rules (`Ok(None)`), so only the
//! local rules apply. Configuration validation refuses a login mode that needs an Application
//! Server when none is configured; this adapter is the safety net, not the check.

use accountd_domain::ids::Username;
use accountd_domain::level::UserLevel;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{ApplicationServer, UpstreamError};
use accountd_domain::rules::{PasswordRules, PinRules};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::user::{ProfileChange, User};

/// No Application Server: every operation that needs one fails with [`UpstreamError::Disabled`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisabledUpstream;

impl ApplicationServer for DisabledUpstream {
    fn authenticate(&self, _username: &Username, _password: &Password) -> Result<(), UpstreamError> {
        Err(UpstreamError::Disabled)
    }

    fn update_profile(&self, _user: &User, _change: &ProfileChange) -> Result<(), UpstreamError> {
        Err(UpstreamError::Disabled)
    }

    fn set_password(&self, _user: &User, _password: &Password) -> Result<(), UpstreamError> {
        Err(UpstreamError::Disabled)
    }

    fn set_pin(&self, _user: &User, _pin: Option<&PinCode>, _settings: &PinSettings) -> Result<(), UpstreamError> {
        Err(UpstreamError::Disabled)
    }

    fn delete_user(&self, _user: &User, _delete_devices: bool) -> Result<(), UpstreamError> {
        Err(UpstreamError::Disabled)
    }

    fn password_rules(&self, _level: UserLevel) -> Result<Option<PasswordRules>, UpstreamError> {
        Ok(None)
    }

    fn pin_rules(&self, _level: UserLevel) -> Result<Option<PinRules>, UpstreamError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_user;

    #[test]
    fn writes_and_logins_are_disabled_and_there_are_no_rules() {
        let up = DisabledUpstream;
        let user = sample_user("jbloggs@acme.com");
        let password = Password::new("Demo-Passw0rd!").unwrap();
        let pin = PinCode::parse("2468").unwrap();
        assert_eq!(up.authenticate(&user.username, &password), Err(UpstreamError::Disabled));
        assert_eq!(
            up.update_profile(&user, &ProfileChange::default()),
            Err(UpstreamError::Disabled)
        );
        assert_eq!(up.set_password(&user, &password), Err(UpstreamError::Disabled));
        assert_eq!(
            up.set_pin(&user, Some(&pin), &PinSettings::default()),
            Err(UpstreamError::Disabled)
        );
        assert_eq!(up.delete_user(&user, true), Err(UpstreamError::Disabled));
        for level in UserLevel::ALL {
            assert_eq!(up.password_rules(level), Ok(None));
            assert_eq!(up.pin_rules(level), Ok(None));
        }
    }

    #[test]
    fn usable_as_a_trait_object() {
        let up: std::sync::Arc<dyn ApplicationServer> = std::sync::Arc::new(DisabledUpstream);
        assert_eq!(up.pin_rules(UserLevel::EndUser), Ok(None));
    }
}
