//! Hidden commands for `cargo xtask bench` (`accountd bench …`, not in `--help`):
//!
//! - `bench populate --users N`: makes sure the generated end users `bench-0000001` …
//!   `bench-{N:07}` exist (tenant `BenchTenant`, 1,000 users per group `BenchGroup0000` …), every
//!   one with the demo password. The first is created through the use case like any user (domain
//!   constructors, password policy, one argon2 hash); the others are copies of its row and of its
//!   password hash made by SQL in batches, with only the username, user id, UUID and group
//!   changed, to names that pass the same constructors. A million users take seconds, not a
//!   million hashes. The last one is read back through the store, which maps rows through the
//!   domain constructors, so an invalid row fails the command.
//! - `bench hash --count N`: times N argon2id verifications with the configured parameters on
//!   one thread, then N on each of one thread per hashing permit at once, and prints JSON: the
//!   argon2 limit of logins per second is `cores / one verification's time`, taking the fastest of
//!   the N (the verification's own cost; slower ones were interrupted by something else).
//!
//! SQLite only: the bench runs on the embedded default.

use crate::config::AppConfig;
use crate::demo::DEMO_PASSWORD;
use crate::startup;
use accountd_domain::ids::{GroupId, TenantId, UserId, Username};
use accountd_domain::level::{GroupMember, Role};
use accountd_domain::ports::Store;
use accountd_domain::secret::Password;
use accountd_domain::text::{EmailAddress, Name, Text};
use accountd_domain::user::{AccountState, AccountType, NewProfile, NewUser, Profile};
use accountd_service::profile::Actor;
use accountd_service::random::OsRandom;
use accountd_service::{RequestContext, Services};
use accountd_storage::{Backend, Database};
use anyhow::{Context, Result, bail, ensure};
use clap::Subcommand;
use std::time::{Duration, Instant};

/// The tenant of the generated users.
pub const BENCH_TENANT: &str = "BenchTenant";
/// Generated users per group.
pub const USERS_PER_GROUP: u64 = 1_000;
/// The most users `populate` makes (the names have seven digits).
pub const MAX_USERS: u64 = 9_999_999;
/// Rows per insert transaction.
const BATCH: u64 = 100_000;

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

/// `bench-0000042`: the username and the user id of generated user 42.
pub fn username(index: u64) -> String {
    format!("bench-{index:07}")
}

fn group_name(index: u64) -> String {
    format!("BenchGroup{:04}", (index - 1) / USERS_PER_GROUP)
}

fn populate(services: &Services<Database>, users: u64) -> Result<()> {
    let started = Instant::now();
    let db = services.store();
    ensure!(db.backend() == Backend::Sqlite, "bench populate works on SQLite only");
    ensure!(
        (1..=MAX_USERS).contains(&users),
        "--users must be between 1 and {MAX_USERS}"
    );
    // Every name the SQL below makes has the shape of the last one; prove it is valid.
    Username::parse(username(users))?;
    UserId::parse(username(users))?;
    GroupId::parse(group_name(users))?;

    let tenant = TenantId::parse(BENCH_TENANT)?;
    let groups = (users - 1) / USERS_PER_GROUP + 1;
    db.write(|repo| {
        repo.ensure_tenant(&tenant, &Text::parse_for("name", "Bench tenant")?)?;
        for g in 0..groups {
            let name = format!("BenchGroup{g:04}");
            repo.ensure_group(&tenant, &GroupId::parse(name.clone())?, &Text::parse_for("name", name)?)?;
        }
        Ok::<_, anyhow::Error>(())
    })
    .context("creating the bench tenant and groups")?;

    let existing = existing_users(services, users)?;
    let template = if existing == 0 {
        create_first(services)?
    } else {
        let first = Username::parse(username(1))?;
        services
            .store()
            .read(|repo| repo.user_by_username(&first))
            .context("reading bench-0000001")?
            .context("bench-0000001 is missing")?
            .key
    };
    let mut next = existing.max(1) + 1;
    while next <= users {
        let last = (next + BATCH - 1).min(users);
        db.execute_raw(&copy_sql(template.0, next, last))
            .with_context(|| format!("inserting generated users {next}..={last}"))?;
        next = last + 1;
    }
    let last_name = Username::parse(username(users))?;
    let last = db
        .read(|repo| repo.user_by_username(&last_name))
        .with_context(|| format!("reading {} back", username(users)))?
        .with_context(|| format!("{} is missing after populating", username(users)))?;
    ensure!(last.username.as_str() == username(users), "read back the wrong user");
    eprintln!(
        "{users} generated users present ({} added) in {:.1?}",
        users.saturating_sub(existing),
        started.elapsed()
    );
    Ok(())
}

/// How many of `bench-0000001` … `bench-{limit}` exist: they are made in order, so a binary search
/// on existence finds the count in ~log2(limit) lookups.
fn existing_users(services: &Services<Database>, limit: u64) -> Result<u64> {
    let exists = |index: u64| -> Result<bool> {
        let name = Username::parse(username(index))?;
        Ok(services.store().read(|repo| repo.user_by_username(&name))?.is_some())
    };
    let (mut low, mut high) = (0u64, limit); // low exists (or is 0); the answer is in low..=high
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if exists(mid)? {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Ok(low)
}

/// Creates `bench-0000001` through the use case, as the operator would.
fn create_first(services: &Services<Database>) -> Result<accountd_domain::ids::UserKey> {
    let name = username(1);
    let mut profile = Profile::named(
        Name::parse_for("first_name", "Bench")?,
        Name::parse_for("last_name", "User")?,
    );
    profile.email = Some(EmailAddress::parse_for("emailAddress", "bench@example.com")?);
    let user = NewUser {
        uuid: uuid::Uuid::new_v4(),
        username: Username::parse(name.clone())?,
        role: Role::EndUser {
            member: GroupMember {
                tenant: TenantId::parse(BENCH_TENANT)?,
                group: GroupId::parse(group_name(1))?,
                user: UserId::parse(name)?,
            },
        },
        profile: NewProfile {
            profile,
            department: None,
        },
        enabled: true,
        state: AccountState::Approved,
        account_type: AccountType::Internal,
    };
    let created = services
        .create_user(
            Actor::Operator,
            &user,
            &Password::new(DEMO_PASSWORD)?,
            &RequestContext::default(),
        )
        .context("creating bench-0000001")?;
    Ok(created.key)
}

/// One transaction copying the template user `template` (its row and its password) to generated
/// users `first..=last`. Only the username, user id, UUID and group differ from the template.
fn copy_sql(template: i64, first: u64, last: u64) -> String {
    format!(
        "BEGIN IMMEDIATE;
         WITH RECURSIVE seq(x) AS (SELECT {first} UNION ALL SELECT x + 1 FROM seq WHERE x < {last})
         INSERT INTO users (uuid, username, level, tenant_key, group_key, user_id, admin_department_key,
             department_key, first_name, last_name, cli_first_name, cli_last_name, phone_number, extension,
             cli_phone_number, language, email, network_class_of_service, time_zone, mobile, description,
             image, enabled, state, account_type, created_at, updated_at, version)
         SELECT printf('b3c00000-0000-4000-8000-%012x', x), printf('bench-%07d', x), t.level, t.tenant_key,
             g.key, printf('bench-%07d', x), t.admin_department_key, t.department_key, t.first_name,
             t.last_name, t.cli_first_name, t.cli_last_name, t.phone_number, t.extension, t.cli_phone_number,
             t.language, t.email, t.network_class_of_service, t.time_zone, t.mobile, t.description, t.image,
             t.enabled, t.state, t.account_type, t.created_at, t.updated_at, t.version
         FROM seq
         JOIN users t ON t.key = {template}
         JOIN groups g ON g.tenant_key = t.tenant_key AND g.group_id = printf('BenchGroup%04d', (x - 1) / {USERS_PER_GROUP});
         INSERT INTO passwords (user_key, hash, changed_at, first_login)
         SELECT u.key, p.hash, p.changed_at, p.first_login
         FROM users u JOIN passwords p ON p.user_key = {template}
         WHERE u.username BETWEEN printf('bench-%07d', {first}) AND printf('bench-%07d', {last});
         COMMIT;"
    )
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
