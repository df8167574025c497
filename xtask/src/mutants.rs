//! `cargo xtask mutants`: mutation testing of the inner crates (`accountd-domain`,
//! `accountd-policy`) with cargo-mutants, which changes the code one small way at a time (an
//! operator, a bound, a function body) and runs the crate's tests against each change. A change no
//! test notices ("missed") is a rule no test pins down.
//!
//! Mutants that can't be caught because they don't change behaviour (equivalent mutants) are
//! listed in `.cargo/mutants.toml`'s `exclude_re`, each with the reason as a comment, so they
//! aren't even built. Everything else must be caught: this command fails on any missed mutant and
//! prints the list (a timeout is listed but not failed on, see below). The counts go to
//! docs/architecture.md ("Mutation testing") by hand, with the date, when they change.
//!
//! Not part of `cargo xtask ci`: each of the ~640 mutants is an incremental build and a test run;
//! on the shared 2-core machine that was about 5 mutants a minute, so some 2 hours for both crates. Extra arguments go to cargo-mutants as they are, e.g.
//! `cargo xtask mutants --file crates/policy/src/hashing.rs` or `cargo xtask mutants -j 2`.
//!
//! The output is in `target/mutants/mutants.out/` (`caught.txt`, `missed.txt`, `unviable.txt`,
//! `timeout.txt`, `outcomes.json`, a log per mutant).

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// The crates whose mutants are tested: the embeddable ones (see `INNER_CRATES`).
const PACKAGES: [&str; 2] = ["accountd-domain", "accountd-policy"];

/// Where cargo-mutants writes `mutants.out/`: under `target/`, ignored by git and by cargo-mutants'
/// copy of the tree.
const OUTPUT: &str = "target/mutants";

pub fn mutants(extra: &[String]) -> Result<()> {
    let version = Command::new("cargo")
        .args(["mutants", "--version"])
        .output()
        .context("starting cargo mutants")?;
    if !version.status.success() {
        bail!("cargo-mutants is not installed: `cargo install cargo-mutants --locked`");
    }
    eprintln!("{}", String::from_utf8_lossy(&version.stdout).trim());

    let mut command = Command::new("cargo");
    command.arg("mutants");
    for package in PACKAGES {
        command.args(["--package", package]);
    }
    command.args(["--output", OUTPUT]).args(extra);
    let status = command.status().context("running cargo mutants")?;
    if extra.iter().any(|a| a == "--list" || a == "--list-files") {
        // Only listing: nothing was tested, there is no verdict to read.
        return if status.success() {
            Ok(())
        } else {
            bail!("cargo mutants exited with {status}")
        };
    }
    // cargo-mutants' exit codes: 0 all caught, 2 some missed, 3 some timed out; anything else
    // (usage error, the unmutated tree failing its tests) means no verdict at all.
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        bail!("cargo mutants exited with {status}: no verdict");
    }

    let out = Path::new(OUTPUT).join("mutants.out");
    let read = |name: &str| -> Result<Vec<String>> {
        let path = out.join(name);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect())
    };
    let caught = read("caught.txt")?;
    let missed = read("missed.txt")?;
    let timeout = read("timeout.txt")?;
    let unviable = read("unviable.txt")?;
    let viable = caught.len() + missed.len() + timeout.len();
    eprintln!(
        "mutants of {}: {} caught, {} missed, {} timed out (of {viable} viable); {} unviable",
        PACKAGES.join(" and "),
        caught.len(),
        missed.len(),
        timeout.len(),
        unviable.len()
    );
    // A timeout is a mutant that made the tests run far longer than the unmutated tree's (a loop
    // that no longer ends, a bound that no longer refuses 20 million PBKDF2 iterations): the tests
    // noticed, by not finishing. Listed, not failed on: it depends on the machine's load.
    for line in &timeout {
        eprintln!("  timed out (the tests did not finish): {line}");
    }
    if !missed.is_empty() {
        for line in &missed {
            eprintln!("  missed: {line}");
        }
        bail!(
            "{} mutants missed: kill each with a test, or, if it can't change behaviour, add it to \
             .cargo/mutants.toml's exclude_re with the reason",
            missed.len()
        );
    }
    Ok(())
}
