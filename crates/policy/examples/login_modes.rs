//! Ask, for each login mode (seed 000's `LOGIN_MODE`), who checks a password and which stores a
//! change is written to.
//!
//! ```text
//! cargo run -p accountd-policy --example login_modes                      # the whole table, checked
//! cargo run -p accountd-policy --example login_modes -- SSO_LOGIN_DEDICATED # one mode
//! ```
//!
//! `dispatch` is the table of DESIGN.md as a function: the service asks it before every login and
//! change, and writes to the Application Server only when `write_upstream` says so. The table
//! printed here is asserted row by row, so `cargo xtask ci` runs this example as a check.

use accountd_policy::mode::{Authenticator, LoginMode, Operation, dispatch};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(name) = std::env::args().nth(1) {
        // Exactly the setting's spelling; anything else is an error naming the five modes.
        let mode: LoginMode = name.parse()?;
        for flag in [false, true] {
            for op in Operation::ALL {
                println!(
                    "{mode} {op:?} UPDATE_PROFILE_TO_BS_DB_SSO={flag}: {:?}",
                    dispatch(mode, op, flag)
                );
            }
        }
        return Ok(());
    }

    // (mode, who checks the password, a password change goes to the AS without / with
    // UPDATE_PROFILE_TO_BS_DB_SSO)
    let table = [
        (LoginMode::ServerLogin, Authenticator::ApplicationServer, true, true),
        (LoginMode::LocalLoginShared, Authenticator::Local, false, false),
        (LoginMode::LocalLoginDedicated, Authenticator::Local, true, true),
        (
            LoginMode::SsoLoginDedicated,
            Authenticator::IdentityProvider,
            false,
            true,
        ),
        (LoginMode::DjangoOnly, Authenticator::Local, false, false),
    ];
    println!(
        "{:<22} {:<20} {:<18} …with UPDATE_PROFILE_TO_BS_DB_SSO",
        "mode", "password checked by", "change written to"
    );
    for (mode, authenticator, upstream, upstream_with_flag) in table {
        let plain = dispatch(mode, Operation::PasswordChange, false);
        let flagged = dispatch(mode, Operation::PasswordChange, true);
        println!(
            "{:<22} {:<20} {:<18} {}",
            mode.as_str(),
            format!("{:?}", plain.authenticate),
            stores(plain.write_local, plain.write_upstream),
            stores(flagged.write_local, flagged.write_upstream),
        );
        assert_eq!(plain.authenticate, authenticator, "{mode}");
        assert!(
            plain.write_local && flagged.write_local,
            "{mode}: accountd keeps every user"
        );
        assert_eq!(
            (plain.write_upstream, flagged.write_upstream),
            (upstream, upstream_with_flag),
            "{mode}"
        );

        // Every change (profile, password, PIN, delete) follows the same column ...
        for op in [Operation::ProfileChange, Operation::PinChange, Operation::DeleteUser] {
            assert_eq!(dispatch(mode, op, false), plain, "{mode} {op:?}");
            assert_eq!(dispatch(mode, op, true), flagged, "{mode} {op:?}");
        }
        // ... and a login is recorded locally only, whatever the mode.
        assert!(!dispatch(mode, Operation::Login, true).write_upstream, "{mode}");
    }
    println!();
    println!("a login is recorded locally in every mode");
    Ok(())
}

fn stores(local: bool, upstream: bool) -> &'static str {
    match (local, upstream) {
        (true, true) => "AS, then local",
        (true, false) => "local",
        (false, true) => "AS only",
        (false, false) => "nowhere",
    }
}
