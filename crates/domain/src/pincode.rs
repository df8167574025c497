//! PIN code settings as seed 001 shows them. The PIN itself is a [`crate::secret::PinCode`] and is
//! only ever stored as a hash.

use crate::error::{InvalidValue, Problem};
use serde::{Deserialize, Serialize};

/// `loginDisabled`, `expirationDays`, `doesNotExpire` of seed 001's pincode resource. Deserialising
/// goes through [`PinSettings::new`], so an out-of-range stored or received value is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PinSettingsParts")]
pub struct PinSettings {
    /// When set, password login is disabled and the PIN is used instead.
    pub login_disabled: bool,
    expiration_days: u16,
    /// When set, the PIN never expires (and `expiration_days` is informative only).
    pub does_not_expire: bool,
}

impl PinSettings {
    /// Largest `expirationDays` accepted (seed 001's example shows 3600).
    pub const MAX_EXPIRATION_DAYS: u16 = 36_500;

    pub fn new(login_disabled: bool, expiration_days: i64, does_not_expire: bool) -> Result<Self, InvalidValue> {
        let days = u16::try_from(expiration_days)
            .ok()
            .filter(|d| (1..=Self::MAX_EXPIRATION_DAYS).contains(d))
            .ok_or(InvalidValue::new(
                "expirationDays",
                Problem::OutOfRange {
                    min: 1,
                    max: i64::from(Self::MAX_EXPIRATION_DAYS),
                },
            ))?;
        Ok(Self {
            login_disabled,
            expiration_days: days,
            does_not_expire,
        })
    }

    pub fn expiration_days(&self) -> u16 {
        self.expiration_days
    }

    /// Whether a PIN set at `changed_at_ms` has expired at `now_ms`.
    pub fn is_expired(&self, changed_at_ms: i64, now_ms: i64) -> bool {
        !self.does_not_expire && now_ms.saturating_sub(changed_at_ms) >= i64::from(self.expiration_days) * 86_400_000
    }
}

/// The serialised shape of [`PinSettings`], checked by its constructor on the way in.
#[derive(Deserialize)]
struct PinSettingsParts {
    login_disabled: bool,
    expiration_days: i64,
    does_not_expire: bool,
}

impl TryFrom<PinSettingsParts> for PinSettings {
    type Error = InvalidValue;
    fn try_from(p: PinSettingsParts) -> Result<Self, Self::Error> {
        PinSettings::new(p.login_disabled, p.expiration_days, p.does_not_expire)
    }
}

impl Default for PinSettings {
    /// The values a user gets before anyone sets a PIN: login enabled, 180-day expiry (the longest
    /// BroadWorks passcode expiry), expiring.
    fn default() -> Self {
        Self {
            login_disabled: false,
            expiration_days: 180,
            does_not_expire: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_days_range() {
        assert!(PinSettings::new(false, 3600, false).is_ok());
        assert!(PinSettings::new(false, 0, false).is_err());
        assert!(PinSettings::new(false, -1, false).is_err());
        assert!(PinSettings::new(false, 40_000, false).is_err());
    }

    #[test]
    fn deserialising_goes_through_the_constructor() {
        let ok: PinSettings =
            serde_json::from_str(r#"{"login_disabled":true,"expiration_days":30,"does_not_expire":false}"#).unwrap();
        assert_eq!(ok, PinSettings::new(true, 30, false).unwrap());
        assert_eq!(
            serde_json::from_str::<PinSettings>(&serde_json::to_string(&ok).unwrap()).unwrap(),
            ok
        );
        for days in ["0", "-5", "40000"] {
            let json = format!(r#"{{"login_disabled":false,"expiration_days":{days},"does_not_expire":false}}"#);
            assert!(serde_json::from_str::<PinSettings>(&json).is_err(), "{days}");
        }
    }

    #[test]
    fn expiry() {
        let s = PinSettings::new(false, 1, false).unwrap();
        assert!(!s.is_expired(0, 86_399_999));
        assert!(s.is_expired(0, 86_400_000));
        let never = PinSettings::new(false, 1, true).unwrap();
        assert!(!never.is_expired(0, i64::MAX));
    }
}
