//! The login modes of seed 000 (`LOGIN_MODE`) and the dispatch table behind them: for each mode and
//! operation, who checks the credentials and which stores a change is written to (DESIGN.md).
//!
//! | mode | credentials checked by | changes written to |
//! |---|---|---|
//! | `SERVER_LOGIN` | Application Server | AS and local |
//! | `LOCAL_LOGIN_SHARED` | local | local |
//! | `LOCAL_LOGIN_DEDICATED` | local | AS and local |
//! | `SSO_LOGIN_DEDICATED` | identity provider | local; AS too iff `UPDATE_PROFILE_TO_BS_DB_SSO` |
//! | `DJANGO_ONLY` | local | local |
//!
//! A login itself is recorded locally only (session, last login) whatever the mode.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where credentials are checked and changes go (seed 000's `LOGIN_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LoginMode {
    /// Passwords are checked by the Application Server; changes go to the AS and locally.
    ServerLogin,
    /// Passwords are checked locally; changes stay local (the AS is shared with other systems).
    LocalLoginShared,
    /// Passwords are checked locally; changes go to the AS and locally.
    LocalLoginDedicated,
    /// An external identity provider authenticates (signed token); changes are local, and go to the
    /// AS too when `UPDATE_PROFILE_TO_BS_DB_SSO` is set.
    SsoLoginDedicated,
    /// No Application Server at all: everything is local.
    DjangoOnly,
}

impl LoginMode {
    /// Every mode, in the order of the table above.
    pub const ALL: [LoginMode; 5] = [
        LoginMode::ServerLogin,
        LoginMode::LocalLoginShared,
        LoginMode::LocalLoginDedicated,
        LoginMode::SsoLoginDedicated,
        LoginMode::DjangoOnly,
    ];

    /// The setting's spelling: `SERVER_LOGIN`, `LOCAL_LOGIN_SHARED`, …
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMode::ServerLogin => "SERVER_LOGIN",
            LoginMode::LocalLoginShared => "LOCAL_LOGIN_SHARED",
            LoginMode::LocalLoginDedicated => "LOCAL_LOGIN_DEDICATED",
            LoginMode::SsoLoginDedicated => "SSO_LOGIN_DEDICATED",
            LoginMode::DjangoOnly => "DJANGO_ONLY",
        }
    }

    /// Who checks the credentials in this mode.
    pub fn authenticator(self) -> Authenticator {
        match self {
            LoginMode::ServerLogin => Authenticator::ApplicationServer,
            LoginMode::LocalLoginShared | LoginMode::LocalLoginDedicated | LoginMode::DjangoOnly => {
                Authenticator::Local
            }
            LoginMode::SsoLoginDedicated => Authenticator::IdentityProvider,
        }
    }

    /// Whether a change (profile, password, PIN, deletion) is written to the Application Server too.
    pub fn changes_go_upstream(self, update_profile_to_bs_db_sso: bool) -> bool {
        match self {
            LoginMode::ServerLogin | LoginMode::LocalLoginDedicated => true,
            LoginMode::LocalLoginShared | LoginMode::DjangoOnly => false,
            LoginMode::SsoLoginDedicated => update_profile_to_bs_db_sso,
        }
    }
}

impl Default for LoginMode {
    /// `LOCAL_LOGIN_SHARED`: local credentials, local changes, nothing written to a shared AS.
    fn default() -> Self {
        LoginMode::LocalLoginShared
    }
}

impl fmt::Display for LoginMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the login modes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown login mode {0:?}: expected one of SERVER_LOGIN, LOCAL_LOGIN_SHARED, LOCAL_LOGIN_DEDICATED, SSO_LOGIN_DEDICATED, DJANGO_ONLY"
)]
pub struct UnknownLoginMode(pub String);

impl FromStr for LoginMode {
    type Err = UnknownLoginMode;

    /// Exactly the setting's spelling (`SERVER_LOGIN`, …); anything else is refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LoginMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownLoginMode(s.to_owned()))
    }
}

/// What the service is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Sign in with username and password.
    Login,
    /// Change profile fields.
    ProfileChange,
    /// Change or reset a password.
    PasswordChange,
    /// Change or reset a PIN.
    PinChange,
    /// Delete a user.
    DeleteUser,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 5] = [
        Operation::Login,
        Operation::ProfileChange,
        Operation::PasswordChange,
        Operation::PinChange,
        Operation::DeleteUser,
    ];
}

/// Who checks a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authenticator {
    /// The Application Server (its login check).
    ApplicationServer,
    /// accountd, against its stored hash.
    Local,
    /// An external identity provider, through a signed token.
    IdentityProvider,
}

/// How one operation runs in one mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dispatch {
    /// Who checks credentials (at login, and the old password of a self-service change).
    pub authenticate: Authenticator,
    /// Whether the local store is written. Always true: accountd keeps every user.
    pub write_local: bool,
    /// Whether the Application Server is written; when both are, the local write commits only after
    /// the AS accepted.
    pub write_upstream: bool,
}

/// The dispatch table. Every change operation (profile, password, PIN, delete) follows the mode's
/// "changes go to" column, and `update_profile_to_bs_db_sso` governs all of them in
/// `SSO_LOGIN_DEDICATED` (it is ignored in every other mode). For [`Operation::Login`], `write_*`
/// say where a successful login is recorded: locally only, in every mode.
pub fn dispatch(mode: LoginMode, op: Operation, update_profile_to_bs_db_sso: bool) -> Dispatch {
    let write_upstream = match op {
        Operation::Login => false,
        Operation::ProfileChange | Operation::PasswordChange | Operation::PinChange | Operation::DeleteUser => {
            mode.changes_go_upstream(update_profile_to_bs_db_sso)
        }
    };
    Dispatch {
        authenticate: mode.authenticator(),
        write_local: true,
        write_upstream,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Authenticator::{ApplicationServer as As, IdentityProvider as Idp, Local};

    /// The full table: every mode × operation × flag value, written out rather than computed.
    #[test]
    fn dispatch_table() {
        use LoginMode::*;
        use Operation::*;
        // (mode, flag, authenticator, upstream for changes)
        let rows = [
            (ServerLogin, false, As, true),
            (ServerLogin, true, As, true),
            (LocalLoginShared, false, Local, false),
            (LocalLoginShared, true, Local, false),
            (LocalLoginDedicated, false, Local, true),
            (LocalLoginDedicated, true, Local, true),
            (SsoLoginDedicated, false, Idp, false),
            (SsoLoginDedicated, true, Idp, true),
            (DjangoOnly, false, Local, false),
            (DjangoOnly, true, Local, false),
        ];
        assert_eq!(rows.len(), LoginMode::ALL.len() * 2);
        for (mode, flag, auth, upstream) in rows {
            for op in Operation::ALL {
                let expected = Dispatch {
                    authenticate: auth,
                    write_local: true,
                    write_upstream: upstream && op != Login,
                };
                assert_eq!(dispatch(mode, op, flag), expected, "{mode} {op:?} flag={flag}");
            }
        }
        // Spot checks straight from DESIGN.md.
        assert!(dispatch(ServerLogin, PasswordChange, false).write_upstream);
        assert!(!dispatch(LocalLoginShared, ProfileChange, false).write_upstream);
        assert!(dispatch(LocalLoginDedicated, PinChange, false).write_upstream);
        assert!(!dispatch(SsoLoginDedicated, ProfileChange, false).write_upstream);
        assert!(dispatch(SsoLoginDedicated, ProfileChange, true).write_upstream);
        assert!(!dispatch(DjangoOnly, DeleteUser, true).write_upstream);
        assert_eq!(dispatch(ServerLogin, Login, false).authenticate, As);
        assert!(!dispatch(ServerLogin, Login, true).write_upstream);
    }

    #[test]
    fn names_round_trip() {
        for mode in LoginMode::ALL {
            assert_eq!(mode.as_str().parse::<LoginMode>().unwrap(), mode);
            assert_eq!(mode.to_string(), mode.as_str());
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{}\"", mode.as_str()));
            assert_eq!(serde_json::from_str::<LoginMode>(&json).unwrap(), mode);
        }
        assert!("server_login".parse::<LoginMode>().is_err());
        assert!("".parse::<LoginMode>().is_err());
        assert!(serde_json::from_str::<LoginMode>("\"LDAP\"").is_err());
        assert_eq!(LoginMode::default(), LoginMode::LocalLoginShared);
    }
}
