//! Hidden commands for `cargo xtask bench` (`accountd bench …`, not in `--help`):
//!
//! - `bench populate --users N`: makes sure the generated end users `bench-0000001` …
//!   `bench-{N:07}` exist, through the service's documented bulk path
//!   ([`accountd_service::bench`]).
//! - `bench hash --count N`: times N argon2id verifications with the configured parameters on
//!   one thread, then N on each of one thread per hashing permit at once, and prints JSON: the
//!   argon2 limit of logins per second is `cores / one verification's time`, taking the fastest of
//!   the N (the verification's own cost; slower ones were interrupted by something else).
//!
//! Both backends: the bulk copy is the store's, for SQLite and PostgreSQL alike (the bench measures
//! its PostgreSQL rows on a schema of their own, populated the same way).

use crate::config::AppConfig;
use crate::demo::DEMO_PASSWORD;
use crate::startup;
use accountd_service::Services;
use accountd_service::random::OsRandom;
use accountd_storage::Database;
use anyhow::{Context, Result, bail, ensure};
use clap::Subcommand;
use std::time::{Duration, Instant};

pub use accountd_service::bench::{BENCH_TENANT, MAX_USERS, USERS_PER_GROUP, username};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Make sure N generated users exist (bench-0000001 …), all with the demo password.
    Populate {
        #[arg(long)]
        users: u64,
    },
    /// Time argon2id verifications with the configured parameters; prints JSON.
    Hash {
        #[arg(long, default_value_t = 16)]
        count: u32,
    },
}

pub fn run(config: &AppConfig, command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Populate { users } => {
            let services = startup::services(config, startup::open_database(config)?)?;
            populate(&services, users)
        }
        BenchCommand::Hash { count } => hash(config, count),
    }
}

fn populate(services: &Services<Database>, users: u64) -> Result<()> {
    let started = Instant::now();
    let added = services
        .populate_bench_users(users)
        .with_context(|| format!("populating {users} generated users"))?;
    eprintln!(
        "{users} generated users present ({added} added) in {:.1?}",
        started.elapsed()
    );
    Ok(())
}

/// Times verifications of one hash made with the configured parameters, as a login does them.
fn hash(config: &AppConfig, count: u32) -> Result<()> {
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let hasher = accountd_service::hasher::Hasher::sized_to_cores(config.hashing);
    let hash = hasher.hash(DEMO_PASSWORD, &OsRandom)?;
    // One warm-up (page faults of the first 19 MiB), then `count` on this thread.
    hasher.verify(&hash, DEMO_PASSWORD)?;
    let mut times = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let started = Instant::now();
        ensure!(hasher.verify(&hash, DEMO_PASSWORD)?.matches, "the hash did not verify");
        times.push(started.elapsed());
    }
    times.sort();
    let fastest = times[0];
    let median = times[times.len() / 2];
    let mean = times.iter().sum::<Duration>() / count;
    // The same work spread over one thread per permit, all at once: what the machine really does.
    let permits = hasher.permits();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..permits {
            s.spawn(|| {
                for _ in 0..count {
                    let _ = hasher.verify(&hash, DEMO_PASSWORD);
                }
            });
        }
    });
    let parallel = started.elapsed();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let report = serde_json::json!({
        "memory_kib": config.hashing.memory_kib,
        "iterations": config.hashing.iterations,
        "parallelism": config.hashing.parallelism,
        "cores": cores,
        "permits": permits,
        "count": count,
        "fastest_ms": fastest.as_secs_f64() * 1e3,
        "median_ms": median.as_secs_f64() * 1e3,
        "mean_ms": mean.as_secs_f64() * 1e3,
        "limit_per_second": cores as f64 / fastest.as_secs_f64(),
        "parallel_per_second": f64::from(count) * permits as f64 / parallel.as_secs_f64(),
    });
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use accountd_domain::ids::Username;
    use accountd_domain::secret::Password;
    use accountd_service::RequestContext;
    use accountd_storage::testing::TestDatabase;

    /// 1,200 users span two groups; the last one logs in with the demo password; a second run
    /// adds nothing.
    fn populates(database: &TestDatabase) -> Result<()> {
        let mut config = AppConfig::default();
        config.database.url = database.url().to_owned();
        config.security.keys = vec![startup::new_key_line("k1")];
        let services = startup::services(&config, database.database().clone())?;
        populate(&services, 1_200)?;
        let last = services
            .find_user(&Username::parse(username(1_200))?)?
            .context("the last generated user is missing")?;
        assert_eq!(last.username.as_str(), "bench-0001200");
        let login = services.login(
            &username(1_200),
            &Password::new(DEMO_PASSWORD)?,
            &RequestContext::default(),
        )?;
        assert_eq!(login.user.key, last.key);
        assert_eq!(services.populate_bench_users(1_200)?, 0);
        Ok(())
    }

    #[test]
    fn populates_sqlite() -> Result<()> {
        populates(&TestDatabase::sqlite())
    }

    #[test]
    fn populates_postgres() -> Result<()> {
        match TestDatabase::postgres_or_skip() {
            Some(database) => populates(&database),
            None => Ok(()),
        }
    }
}
