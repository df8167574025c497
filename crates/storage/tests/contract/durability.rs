//! Durability (issue 3, item 7): a child process commits writes in a loop and prints the id of
//! each write once `write` returned; it is killed with SIGKILL; on reopening, every acknowledged
//! write is there and `PRAGMA integrity_check` says `ok`.
//!
//! The child is this test binary again, running only [`sqlite_durability_child`] with
//! `ACCOUNTD_DURABILITY_CHILD` naming the database; without that variable the child test returns
//! at once.

use crate::fixtures::*;
use accountd_domain::ids::Username;
use accountd_domain::level::Role;
use accountd_domain::records::{AuditAction, AuditEvent, AuditOutcome};
use accountd_storage::testing::TestDatabase;
use accountd_storage::{Database, PoolOptions};
use diesel::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "ACCOUNTD_DURABILITY_CHILD";
const CHILD_TEST: &str = "durability::sqlite_durability_child";
/// Acknowledged writes to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 300;

#[test]
fn sqlite_durability_child() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return; // Only meaningful when started by the parent test below.
    };
    let db = Database::open(&url, &PoolOptions::default()).unwrap();
    let stdout = std::io::stdout();
    // Bounded, in case the parent is gone without killing us (printing would fail first).
    for i in 0..100_000_u32 {
        write(&db, |r| {
            let user = r.create_user(&new_user(&format!("durable-{i}"), Role::System), T0)?;
            r.record_audit(&AuditEvent {
                at: T0,
                actor: Some(user.key),
                actor_name: None,
                subject: Some(user.key),
                action: AuditAction::UserCreate,
                fields: vec![],
                outcome: AuditOutcome::Success,
                request_id: Some(i.to_string()),
                client: Default::default(),
                actor_level: None,
            })
        })
        .unwrap();
        // Printed only after the commit returned: an ack is a promise.
        let mut out = stdout.lock();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
    }
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

#[test]
fn sqlite_acknowledged_writes_survive_sigkill() {
    let db = TestDatabase::sqlite();
    let url = db.url().to_owned();
    let path = db.sqlite_path().unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    let started = Instant::now();
    while acked.len() < ACKS_BEFORE_KILL && started.elapsed() < Duration::from_secs(60) {
        match lines.next() {
            Some(line) => {
                if let Some(id) = line.unwrap().strip_prefix("ACK ") {
                    acked.push(id.parse::<u32>().unwrap());
                }
            }
            None => break,
        }
    }
    child.kill().unwrap(); // SIGKILL
    // What the child printed before it died was acknowledged too.
    for line in lines {
        if let Some(id) = line.unwrap().strip_prefix("ACK ") {
            acked.push(id.parse::<u32>().unwrap());
        }
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        acked.len() >= ACKS_BEFORE_KILL,
        "the child acknowledged only {} writes ({status}); stderr:\n{stderr}",
        acked.len()
    );

    // Reopen (recovering the WAL) and check every acknowledged write.
    let reopened = Database::open(&url, &PoolOptions::default()).unwrap();
    reopened.ping().unwrap();
    for id in &acked {
        let name = Username::parse(format!("durable-{id}")).unwrap();
        assert!(
            read(&reopened, |r| r.user_by_username(&name)).unwrap().is_some(),
            "acknowledged write {id} is missing"
        );
    }
    let audit = read(&reopened, |r| r.recent_audit(None, u32::MAX)).unwrap();
    assert!(audit.len() >= acked.len());
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut conn).unwrap();
    let verdict: Vec<&str> = check.iter().map(|c| c.integrity_check.as_str()).collect();
    assert_eq!(verdict, ["ok"]);
    println!("durability: {} acknowledged writes survived SIGKILL", acked.len());
}
