//! Check candidate passwords against seed 001's APIO settings and list every rule each one breaks.
//!
//! ```text
//! cargo run -p accountd-policy --example check_password              # the built-in cases, checked
//! cargo run -p accountd-policy --example check_password -- 'S3cret!x' # your own candidate
//! ```
//!
//! The settings are the block of seed 001's "Configuration Information for Update an user", read
//! through serde exactly as accountd reads its configuration. With no Application Server to give
//! the network element's rules, `VALIDATE_PASSWORD_LOCAL_RULE` brings the local rule (8 characters,
//! 1 uppercase, 1 lowercase); an end user also gets `MINIMUM_PASSWORD_RULES.END_USER` on top, and
//! everyone gets accountd's own floor ([`PasswordBaseline`]: at most 128 characters, no username,
//! nothing common).
//!
//! The built-in cases assert what they print, so `cargo xtask ci` runs this example as a check.

use accountd_domain::ids::Username;
use accountd_domain::level::UserLevel;
use accountd_domain::secret::Password;
use accountd_policy::password::{check_password, effective_password_rules};
use accountd_policy::settings::{ApioSettings, PasswordBaseline};
use accountd_policy::violation::codes;

/// Seed 001's settings block, made valid JSON (the seed's text misses two commas).
const SEED_001_SETTINGS: &str = r#"{
    "VALIDATE_PASSWORD_LOCALLY": true,
    "VALIDATE_PASSWORD_LOCAL_RULE": true,
    "VALIDATE_PINCODE_LOCALLY": true,
    "MINIMUM_PASSWORD_RULES": {
        "END_USER": {
            "PASSWORD_MIN_SPECIAL_CHARACTERS": 1,
            "PASSWORD_MIN_UPPERCASE_LETTERS": 1,
            "PASSWORD_MIN_LOWERCASE_LETTERS": 1,
            "PASSWORD_MIN_DIGITS": 1,
            "PASSWORD_MIN_LENGTH": 8
        }
    }
}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings: ApioSettings = serde_json::from_str(SEED_001_SETTINGS)?;
    let baseline = PasswordBaseline::default();
    let username = Username::parse("jbloggs@example.com")?;

    // No Application Server here: `None` for the network element's rules.
    let end_user = effective_password_rules(&settings, &baseline, UserLevel::EndUser, None);
    let group_admin = effective_password_rules(&settings, &baseline, UserLevel::GroupAdmin, None);
    println!("rules for an end user:  {end_user:?}");
    println!("rules for a group admin: {group_admin:?}");
    println!();

    if let Some(candidate) = std::env::args().nth(1) {
        // A candidate of your own: print, judge nothing.
        let violations = check_password(&end_user, &Password::new(candidate)?, &username);
        if violations.is_empty() {
            println!("accepted for end user {username}");
        }
        for v in &violations {
            println!("{}: {} {}", v.code, v.field, v.message);
        }
        return Ok(());
    }

    // (level, rules, candidate, the codes every broken rule reports, in order)
    let cases: [(&str, _, &str, &[&str]); 5] = [
        (
            "end user",
            &end_user,
            "password",
            &[
                codes::PASSWORD_MIN_UPPERCASE,
                codes::PASSWORD_MIN_DIGITS,
                codes::PASSWORD_MIN_SPECIAL,
                codes::PASSWORD_COMMON,
            ],
        ),
        (
            "end user",
            &end_user,
            "jb",
            &[
                codes::PASSWORD_TOO_SHORT,
                codes::PASSWORD_MIN_UPPERCASE,
                codes::PASSWORD_MIN_DIGITS,
                codes::PASSWORD_MIN_SPECIAL,
                codes::PASSWORD_COMMON,
            ],
        ),
        (
            "end user",
            &end_user,
            "Jbloggs-Harbour-42",
            &[codes::PASSWORD_CONTAINS_USERNAME],
        ),
        // MINIMUM_PASSWORD_RULES.END_USER is for end users only: an administrator needs the local
        // rule's classes, not a digit and a special character.
        (
            "end user",
            &end_user,
            "Violetharbourlamp",
            &[codes::PASSWORD_MIN_DIGITS, codes::PASSWORD_MIN_SPECIAL],
        ),
        ("group admin", &group_admin, "Violetharbourlamp", &[]),
    ];
    for (level, rules, candidate, expected) in cases {
        let violations = check_password(rules, &Password::new(candidate)?, &username);
        println!("{level}, {candidate:?}:");
        if violations.is_empty() {
            println!("  accepted");
        }
        for v in &violations {
            println!("  {}: {} {}", v.code, v.field, v.message);
        }
        let codes: Vec<&str> = violations.iter().map(|v| v.code).collect();
        assert_eq!(codes, expected, "{level} {candidate:?}");
    }

    // A candidate that meets every rule of either level.
    let strong = Password::new("Violet-Harbour-Lamp-42")?;
    assert!(check_password(&end_user, &strong, &username).is_empty());
    assert!(check_password(&group_admin, &strong, &username).is_empty());
    println!("end user and group admin, \"Violet-Harbour-Lamp-42\": accepted");
    Ok(())
}
