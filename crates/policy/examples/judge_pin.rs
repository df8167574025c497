//! Judge PINs (BroadWorks passcodes) against the rules accountd applies when
//! `VALIDATE_PINCODE_LOCALLY` is on and the Application Server gives none.
//!
//! ```text
//! cargo run -p accountd-policy --example judge_pin             # the built-in cases, checked
//! cargo run -p accountd-policy --example judge_pin -- 739154   # your own PIN
//! ```
//!
//! The user has extension `4000` and phone number `+32 2 555 86 71`: the user-number rules refuse a
//! PIN that contains either, forwards or backwards. Seed 001's example PIN `123456` is refused, as
//! BroadWorks would refuse it: six ascending digits. The built-in cases assert what they print, so
//! `cargo xtask ci` runs this example as a check.

use accountd_domain::secret::PinCode;
use accountd_policy::pin::{PinContext, check_pin, effective_pin_rules, evaluate_pin};
use accountd_policy::settings::ApioSettings;
use accountd_policy::violation::codes;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Seed 001's default: VALIDATE_PINCODE_LOCALLY is true. No Application Server rules (`None`),
    // so the local defaults apply.
    let settings = ApioSettings::default();
    let rules = effective_pin_rules(&settings, None).ok_or("VALIDATE_PINCODE_LOCALLY is on: some rules apply")?;
    let ctx = PinContext {
        extension: Some("4000"),
        phone_number: Some("+32 2 555 86 71"),
    };
    println!("rules: {rules:?}");
    println!();

    if let Some(pin) = std::env::args().nth(1) {
        // A PIN of your own: every rule that applies, passed or not, as a UI shows them live.
        for outcome in evaluate_pin(&rules, &PinCode::parse(pin)?, &ctx) {
            let mark = if outcome.passed { "ok  " } else { "FAIL" };
            println!("{mark} {}: {}", outcome.code, outcome.message);
        }
        return Ok(());
    }

    // (PIN, the codes of every rule it breaks, in order)
    let cases: [(&str, &[&str]); 8] = [
        ("739154", &[]),
        ("123456", &[codes::PIN_ASCENDING_RUN]),
        ("975310", &[]),
        ("654321", &[codes::PIN_DESCENDING_RUN]),
        ("11112", &[codes::PIN_REPEATED_DIGITS]),
        ("120120", &[codes::PIN_REPEATED_PATTERN]),
        ("940008", &[codes::PIN_CONTAINS_USER_NUMBER]),
        ("17685", &[codes::PIN_CONTAINS_REVERSED_USER_NUMBER]),
    ];
    for (pin, expected) in cases {
        let violations = check_pin(&rules, &PinCode::parse(pin)?, &ctx);
        println!("{pin}:");
        if violations.is_empty() {
            println!("  accepted");
        }
        for v in &violations {
            println!("  {}: {} {}", v.code, v.field, v.message);
        }
        let codes: Vec<&str> = violations.iter().map(|v| v.code).collect();
        assert_eq!(codes, expected, "{pin}");
    }

    // Length: 4 to 8 digits.
    let too_short = check_pin(&rules, &PinCode::parse("951")?, &ctx);
    assert_eq!(too_short[0].code, codes::PIN_TOO_SHORT);
    let too_long = check_pin(&rules, &PinCode::parse("951739528")?, &ctx);
    assert_eq!(too_long[0].code, codes::PIN_TOO_LONG);
    println!("951: {}; 951739528: {}", too_short[0].message, too_long[0].message);

    // With VALIDATE_PINCODE_LOCALLY off, accountd checks nothing: the Application Server judges.
    let off = ApioSettings {
        validate_pincode_locally: false,
        ..ApioSettings::default()
    };
    assert_eq!(effective_pin_rules(&off, None), None);
    println!("VALIDATE_PINCODE_LOCALLY false: no local rules, the Application Server judges");
    Ok(())
}
