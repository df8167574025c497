//! Build the domain's values the only way they can be built: through their validating
//! constructors, which answer every refusal with the field's name and a stable code.
//!
//! ```text
//! cargo run -p accountd-domain --example validated_values
//! ```
//!
//! What an embedding developer meets first: ids that can't escape a URL or department path,
//! profile text without control or invisible characters, PINs of digits only, secrets that never
//! print, and a role (hence a user level) that can't disagree with its placement. Every answer
//! printed is asserted, so `cargo xtask ci` runs this example as a check.

use accountd_domain::ids::{GroupId, TenantId, UserId, Username};
use accountd_domain::level::{Role, UserLevel};
use accountd_domain::secret::{Password, PinCode};
use accountd_domain::text::{EmailAddress, Name};
use accountd_domain::{InvalidValue, Problem};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each refusal: (what was tried, the answer, the expected field and code).
    let refusals: [(&str, Result<(), InvalidValue>, &str, &str); 7] = [
        (
            "TenantId \"Pie/../x\"",
            TenantId::parse("Pie/../x").map(drop),
            "tenant_id",
            "path_separator",
        ),
        (
            "GroupId \" PieGroup\"",
            GroupId::parse(" PieGroup").map(drop),
            "group_id",
            "surrounding_whitespace",
        ),
        (
            "Username \"jo bloggs\"",
            Username::parse("jo bloggs").map(drop),
            "username",
            "invalid_format",
        ),
        (
            "Name with a right-to-left override",
            Name::parse_for("firstName", "Jo\u{202e}sggolb").map(drop),
            "firstName",
            "invisible_character",
        ),
        (
            "EmailAddress \"jo@example..com\"",
            EmailAddress::parse_for("emailAddress", "jo@example..com").map(drop),
            "emailAddress",
            "invalid_format",
        ),
        (
            "PinCode \"12a4\"",
            PinCode::parse("12a4").map(drop),
            "pinCode",
            "invalid_format",
        ),
        ("Password \"\"", Password::new("").map(drop), "password", "empty"),
    ];
    for (tried, answer, field, code) in refusals {
        let err = answer.err().ok_or_else(|| format!("{tried} was accepted"))?;
        println!("{tried:<36} refused: {err} ({})", err.problem.code());
        assert_eq!((err.field, err.problem.code()), (field, code), "{tried}");
    }

    // Accepted values print what they hold, except secrets.
    let username = Username::parse("PieGroupAdmin1@sip.netaxis.be")?;
    let password = Password::new("Violet-Harbour-Lamp-42")?;
    println!("{:<36} accepted: {username}", "Username");
    println!("{:<36} accepted: {password:?}", "Password (Debug)");
    assert_eq!(format!("{password:?}"), "Password(<redacted>)");

    // A role carries exactly the ids its level has; every missing or extra id is named at once.
    let problems = Role::from_parts(UserLevel::GroupAdmin, Some(TenantId::parse("Pie")?), None, None, None)
        .err()
        .ok_or("a group admin without a group was accepted")?;
    let named: Vec<(&str, &Problem)> = problems.iter().map(|p| (p.field, &p.problem)).collect();
    println!("{:<36} refused: {named:?}", "GroupAdmin of Pie, no group/user id");
    assert_eq!(named, [("group", &Problem::Empty), ("user_id", &Problem::Empty)]);

    let role = Role::from_parts(
        UserLevel::EndUser,
        Some(TenantId::parse("Pie")?),
        Some(GroupId::parse("PieGroup")?),
        Some(UserId::parse("jbloggs")?),
        None,
    )
    .map_err(|problems| format!("{problems:?}"))?;
    println!(
        "{:<36} accepted: level {}",
        "EndUser of Pie/PieGroup",
        role.level().as_u8()
    );
    assert_eq!(role.level(), UserLevel::EndUser);
    assert_eq!(role.group().map(GroupId::as_str), Some("PieGroup"));
    Ok(())
}
