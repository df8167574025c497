//! Passwords and PINs in request bodies. A body's secret member is a [`Secret`]: deserialised
//! straight into the domain's redacted, zeroised [`Password`] or [`PinCode`] through its constructor,
//! so no DTO holds the plaintext in a `String` and `Debug` of a body never shows it.
//!
//! Why not a plain `Deserialize` for `Password` that fails on a refused value: serde stops at the
//! first error and reports it as malformed JSON, while a refused password is an invalid *value*
//! that `errors[]` names under its wire name (`newPassword`) beside every other invalid member of the
//! body. So the constructor's verdict is kept, and the conversion reports it with the rest.

use accountd_domain::InvalidValue;
use accountd_domain::secret::{Password, PinCode};
use serde::{Deserialize, Deserializer};

/// A secret the client sent: the domain value, or why its constructor refused it (an
/// [`InvalidValue`] names the field and the problem, never the value).
#[derive(Debug)]
pub struct Secret<T>(Result<T, InvalidValue>);

impl<T> Secret<T> {
    /// The value, or its refusal under the member's wire name `field`.
    pub fn named(self, field: &'static str) -> Result<T, InvalidValue> {
        self.0.map_err(|e| e.renamed(field))
    }
}

/// A domain secret built from the text a client sent.
pub trait FromPlaintext: Sized {
    fn from_plaintext(text: String) -> Result<Self, InvalidValue>;
}

impl FromPlaintext for Password {
    fn from_plaintext(text: String) -> Result<Self, InvalidValue> {
        Password::new(text)
    }
}

impl FromPlaintext for PinCode {
    fn from_plaintext(text: String) -> Result<Self, InvalidValue> {
        PinCode::parse(text)
    }
}

impl<'de, T: FromPlaintext> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The string moves into the constructor, which zeroes it when it is dropped, kept or not.
        String::deserialize(deserializer).map(|text| Secret(T::from_plaintext(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::Problem;

    #[derive(Debug, Deserialize)]
    struct Body {
        password: Secret<Password>,
        pin: Option<Secret<PinCode>>,
    }

    #[test]
    fn secrets_deserialise_through_their_constructors() {
        let body: Body = serde_json::from_str(r#"{"password": "Hunter2-Hunter2", "pin": "123456"}"#).unwrap();
        let debug = format!("{body:?}");
        assert!(!debug.contains("Hunter2") && !debug.contains("123456"), "{debug}");
        assert_eq!(body.password.named("password").unwrap().expose(), "Hunter2-Hunter2");
        assert_eq!(body.pin.unwrap().named("pinCode").unwrap().expose(), "123456");

        let body: Body = serde_json::from_str(r#"{"password": "", "pin": "12a4"}"#).unwrap();
        let debug = format!("{body:?}");
        assert!(!debug.contains("12a4"), "{debug}");
        let password = body.password.named("newPassword").unwrap_err();
        assert_eq!((password.field, password.problem), ("newPassword", Problem::Empty));
        let pin = body.pin.unwrap().named("oldPinCode").unwrap_err();
        assert_eq!((pin.field, pin.problem), ("oldPinCode", Problem::Format("digits only")));

        let body: Body = serde_json::from_str(r#"{"password": "x", "pin": null}"#).unwrap();
        assert!(body.pin.is_none());
        // Not a string: the body is malformed, as before.
        assert!(serde_json::from_str::<Body>(r#"{"password": 1234}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"pin": "1234"}"#).is_err());
    }
}
