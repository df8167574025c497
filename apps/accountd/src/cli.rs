//! The command line: `serve` (the default), `migrate`, `user add`, `user passwd`, `token create`,
//! `import`, `export`.
//! Passwords are read from a prompt or standard input, never from the command line.

use crate::config::AppConfig;
use crate::{demo, import, startup, telemetry};
use accountd_domain::ids::{DepartmentName, GroupId, TenantId, UserId, Username};
use accountd_domain::level::{Role, UserLevel};
use accountd_domain::ports::Store;
use accountd_domain::secret::Password;
use accountd_domain::text::{EmailAddress, Name};
use accountd_domain::user::{NewProfile, NewUser, Profile};
use accountd_service::profile::Actor;
use accountd_service::{RequestContext, ServiceError, Services};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(
    name = "accountd",
    version,
    about = "Who am I, and what is my profile: APIO, SuperOffice and Axway current-user APIs"
)]
pub struct Cli {
    /// A TOML configuration file (defaults < file < ACCOUNTD__SECTION__KEY environment).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the APIs (the default command).
    Serve {
        /// Load the demo data of the seeds (idempotent); every demo user's password is Demo-Passw0rd!.
        #[arg(long)]
        demo: bool,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// `cargo xtask bench`'s helpers (generated users, argon2 timing): see populate.rs.
    #[command(subcommand, hide = true)]
    Bench(crate::populate::BenchCommand),
    /// Create tenants, groups, departments, devices and users from a CSV or JSON file
    /// (docs/import.md); what exists is left as it is.
    Import {
        file: PathBuf,
        /// The file's format (default: from its extension).
        #[arg(long, value_enum)]
        format: Option<import::Format>,
    },
    /// Write every tenant, group, department, device and user in the import format (password
    /// hashes, never passwords).
    Export {
        file: PathBuf,
        /// The file's format (default: from its extension).
        #[arg(long, value_enum)]
        format: Option<import::Format>,
    },
    /// Print a new key for `security.keys` (`id:base64`, 32 random bytes), which seals TOTP
    /// secrets (docs/second-factors.md). Required with PostgreSQL; add it last to rotate.
    Keygen {
        /// The key's id (letters, digits, '-', '_'; at most 32).
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// List the recorded divergences between the local store and the Application Server
    /// (docs/operations.md), or resolve one once it is dealt with.
    Divergences {
        /// The id of a divergence to resolve (delete), instead of listing them.
        #[arg(long)]
        resolve: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is asked for (or read from standard input).
    Add {
        username: String,
        /// 0 end user, 4 department admin, 8 group admin, 12 tenant admin, 16 system.
        #[arg(long, default_value_t = 0)]
        level: u8,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        group: Option<String>,
        /// The user id inside the group (default: the username).
        #[arg(long)]
        user_id: Option<String>,
        /// The department a department admin administers.
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password; it is asked for (or read from standard input).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove every second factor of a user (authenticator, recovery codes) and end their
    /// sessions: for a user who lost their authenticator and their recovery codes. Audited.
    ResetFactors { username: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an API token for `Authorization: Bearer`; it is printed once.
    Create {
        username: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_days: Option<i64>,
    },
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    let config = AppConfig::load(cli.config.as_deref())?;
    telemetry::init(&config.log);
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => serve(&config, demo),
        Command::Bench(cmd) => crate::populate::run(&config, cmd),
        Command::Migrate => {
            startup::open_database(&config)?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(cmd) => {
            let services = startup::services(&config, startup::open_database(&config)?)?;
            user_command(&services, cmd)
        }
        Command::Keygen { id } => {
            let line = startup::new_key_line(&id);
            // Checked by the same parser the server uses.
            accountd_service::factors::parse_keys(std::slice::from_ref(&line)).map_err(anyhow::Error::msg)?;
            println!("{line}");
            Ok(())
        }
        Command::Import { file, format } => import_command(&config, &file, format),
        Command::Export { file, format } => export_command(&config, &file, format),
        Command::Divergences { resolve } => {
            let services = startup::services(&config, startup::open_database(&config)?)?;
            divergences_command(&services, resolve)
        }
        Command::Token(TokenCommand::Create {
            username,
            name,
            expires_days,
        }) => {
            let services = startup::services(&config, startup::open_database(&config)?)?;
            let user = Username::parse(username)?;
            let issued = services.create_api_token(
                &user,
                &name,
                expires_days.map(|d| d * 86_400),
                &RequestContext::default(),
            )?;
            println!("{}", issued.token);
            eprintln!(
                "API token {} created for {user}; it is shown only this once.",
                issued.id
            );
            Ok(())
        }
    }
}

/// `accountd divergences [--resolve ID]`: one tab-separated line per open divergence (id, when,
/// user key, topic, detail), or the resolution of one.
fn divergences_command<S: Store>(services: &Services<S>, resolve: Option<i64>) -> Result<()> {
    if let Some(id) = resolve {
        if services.resolve_divergence(id)? {
            eprintln!("divergence {id} resolved");
            return Ok(());
        }
        anyhow::bail!("no open divergence has id {id}");
    }
    let open = services.divergences()?;
    for d in &open {
        let user = d.user.map(|u| u.0.to_string()).unwrap_or_default();
        println!(
            "{}\t{}\t{user}\t{}\t{}",
            d.id,
            d.recorded_at.as_millis(),
            d.topic,
            d.detail
        );
    }
    eprintln!("{} open divergence(s)", open.len());
    Ok(())
}

fn serve(config: &AppConfig, demo: bool) -> Result<()> {
    let services = startup::services(config, startup::open_database(config)?)?;
    if demo {
        demo::load(&services)?;
        // Standard output, like the generated admin password: standard error is the log.
        println!(
            "demo data loaded; every demo user's password is {}",
            demo::DEMO_PASSWORD
        );
    } else {
        bootstrap_admin(&services)?;
    }
    let system = actix_web::rt::System::new();
    system.block_on(async {
        let app = startup::Application::build(config, services)?;
        tracing::info!(bind = %config.server.bind, port = app.port(), "accountd serving");
        let host = config
            .server
            .bind
            .rsplit_once(':')
            .map_or(config.server.bind.as_str(), |(host, _)| host);
        eprintln!("accountd listening on {host}:{}", app.port());
        app.run_until_stopped().await.context("serving")
    })
}

fn import_command(config: &AppConfig, file: &Path, format: Option<import::Format>) -> Result<()> {
    let format = import::Format::of(file, format)?;
    let rows = import::read_file(file, format)?;
    let services = startup::services(config, startup::open_database(config)?)?;
    let started = Instant::now();
    let bar = import::Bar::new(rows.len() as u64);
    let report = services.import(rows, &bar).context("importing")?;
    bar.finish();
    for failure in &report.failed {
        eprintln!("{failure}");
    }
    println!("{}", import::summary(&report));
    println!("imported {} in {:.1?}", file.display(), started.elapsed());
    if report.failed.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} record(s) of {} were refused (listed above)",
            report.failed.len(),
            file.display()
        )
    }
}

fn export_command(config: &AppConfig, file: &Path, format: Option<import::Format>) -> Result<()> {
    let format = import::Format::of(file, format)?;
    let services = startup::services(config, startup::open_database(config)?)?;
    let bar = import::Bar::new(0);
    let records = services.export(&bar).context("exporting")?;
    bar.finish();
    import::write_file(file, format, &records)?;
    println!("exported {} records to {}", records.len(), file.display());
    Ok(())
}

/// An empty database gets one system administrator, whose generated password is printed once.
fn bootstrap_admin<S: Store>(services: &Services<S>) -> Result<()> {
    let password = generated_password();
    if services
        .ensure_first_admin(&Password::new(password.clone())?)?
        .is_some()
    {
        println!("Created the system administrator 'admin' with password: {password}");
        println!("It is shown only this once; change it with `accountd user passwd admin`.");
    }
    Ok(())
}

/// 24 characters from a 64-symbol alphabet (144 bits), with each character class present.
fn generated_password() -> String {
    use accountd_domain::ports::Random;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!@#%+";
    loop {
        let mut bytes = [0u8; 24];
        accountd_service::random::OsRandom.fill(&mut bytes);
        let candidate: String = bytes
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        let classes = [
            candidate.chars().any(|c| c.is_ascii_uppercase()),
            candidate.chars().any(|c| c.is_ascii_lowercase()),
            candidate.chars().any(|c| c.is_ascii_digit()),
            candidate.chars().any(|c| !c.is_ascii_alphanumeric()),
        ];
        if classes.iter().all(|&c| c) {
            return candidate;
        }
    }
}

fn read_password(from_stdin: bool) -> Result<Password> {
    let text = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again = rpassword::prompt_password("Again: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    };
    Ok(Password::new(text)?)
}

/// A use-case error for the console, with every broken rule or invalid field spelled out.
fn explain(err: ServiceError) -> anyhow::Error {
    let lines: Vec<String> = match &err {
        ServiceError::Policy { violations, .. } => violations.iter().map(|v| format!("  - {}", v.message)).collect(),
        ServiceError::Invalid(values) => values.iter().map(|v| format!("  - {v}")).collect(),
        _ => Vec::new(),
    };
    if lines.is_empty() {
        anyhow::Error::new(err)
    } else {
        anyhow::anyhow!("{err}:\n{}", lines.join("\n"))
    }
}

fn user_command<S: Store>(services: &Services<S>, cmd: UserCommand) -> Result<()> {
    let ctx = RequestContext::default();
    match cmd {
        UserCommand::Add {
            username,
            level,
            tenant,
            group,
            user_id,
            department,
            first_name,
            last_name,
            email,
            password_stdin,
        } => {
            let level = UserLevel::from_u8(level)?;
            let username = Username::parse(username)?;
            let member_of_group = !matches!(level, UserLevel::System | UserLevel::TenantAdmin);
            let user_id = member_of_group
                .then(|| UserId::parse(user_id.unwrap_or_else(|| username.to_string())))
                .transpose()?;
            let role = Role::from_parts(
                level,
                tenant.map(TenantId::parse).transpose()?,
                group.map(GroupId::parse).transpose()?,
                user_id,
                department.map(DepartmentName::parse).transpose()?,
            )
            .map_err(|problems| {
                let options: Vec<String> = problems
                    .iter()
                    .map(|p| format!("--{} {}", p.field.replace('_', "-"), p.problem))
                    .collect();
                anyhow::anyhow!("level {} needs: {}", level.as_u8(), options.join("; "))
            })?;
            let mut profile = Profile::named(
                Name::parse_for("first_name", first_name)?,
                Name::parse_for("last_name", last_name)?,
            );
            profile.email = email.map(|e| EmailAddress::parse_for("email", e)).transpose()?;
            let new = NewUser::new(
                services.new_uuid(),
                username,
                role,
                NewProfile {
                    profile,
                    department: None,
                },
            );
            let password = read_password(password_stdin)?;
            let user = services
                .create_user(Actor::Operator, &new, &password, &ctx)
                .map_err(explain)?;
            println!("created user {} (key {})", user.username, user.key);
            Ok(())
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let username = Username::parse(username)?;
            let user = services
                .find_user(&username)?
                .with_context(|| format!("no user {username}"))?;
            let password = read_password(password_stdin)?;
            services
                .change_password(Actor::Operator, user.key, None, &password, &ctx)
                .map_err(explain)?;
            println!("password of {username} changed; their sessions have ended");
            Ok(())
        }
        UserCommand::ResetFactors { username } => {
            let username = Username::parse(username)?;
            let user = services
                .find_user(&username)?
                .with_context(|| format!("no user {username}"))?;
            let had = services
                .reset_second_factors(Actor::Operator, &user, &ctx)
                .map_err(explain)?;
            if had {
                println!("second factors of {username} removed; their sessions have ended");
            } else {
                println!("{username} had no second factor; their sessions have ended");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_have_every_class_and_differ() {
        let a = generated_password();
        let b = generated_password();
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(a.chars().any(|c| c.is_ascii_digit()) && a.chars().any(|c| !c.is_ascii_alphanumeric()));
    }

    #[test]
    fn cli_parses_the_documented_commands() {
        assert!(Cli::try_parse_from(["accountd"]).unwrap().command.is_none());
        assert!(matches!(
            Cli::try_parse_from(["accountd", "serve", "--demo"]).unwrap().command,
            Some(Command::Serve { demo: true })
        ));
        assert!(Cli::try_parse_from(["accountd", "user", "passwd", "bob", "--password-stdin"]).is_ok());
        assert!(
            Cli::try_parse_from(["accountd", "user", "passwd", "bob", "secret"]).is_err(),
            "no password on argv"
        );
    }
}
