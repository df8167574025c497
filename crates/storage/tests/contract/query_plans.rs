//! "Every query's WHERE has an index": every case of the contract runs on SQLite with diesel's
//! instrumentation recording each statement; then `EXPLAIN QUERY PLAN` of each must show no full
//! scan of a table, but for the few statements that read a whole table on purpose.
//!
//! SQLite's planner has no statistics here, so it plans as for large tables: a scan it picks is a
//! missing index. (PostgreSQL's plans on small test tables would scan regardless.)

use crate::ALL_CASES;
use accountd_storage::testing::TestDatabase;
use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use diesel::prelude::*;
use std::collections::BTreeSet;
use std::sync::Mutex;

static STATEMENTS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Records the SQL of each statement with `?` placeholders: diesel's SQLite statements (not
/// PostgreSQL's `$1`, nor the tests' raw SQL, nor pragmas and transaction statements).
fn recorder() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let text = query.to_string();
            let sql = text.split(" -- binds: ").next().unwrap_or_default();
            if sql.contains('?') && !sql.contains("__diesel_schema_migrations") {
                STATEMENTS.lock().unwrap().insert(sql.to_owned());
            }
        }
    }))
}

/// Statements that read a whole table by design, and the table they scan.
const WHOLE_TABLE: &[(&str, &str)] = &[
    // `recent_audit(None, n)`: the newest n events, walking the primary key backwards.
    (
        "FROM `audit_events` ORDER BY `audit_events`.`id` DESC LIMIT ?",
        "audit_events",
    ),
    // `outbox_stats`: the depth and the oldest message for /metrics and /readyz. The outbox holds
    // only undelivered messages (delivered ones are deleted), so counting it is counting a
    // backlog, which is the metric.
    ("SELECT COUNT(*), min(`outbox`.`created_at`) FROM `outbox`", "outbox"),
];

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

#[test]
fn sqlite_every_query_uses_an_index() {
    set_default_instrumentation(recorder).unwrap();
    for (_, case) in ALL_CASES {
        case(&TestDatabase::sqlite());
    }
    let statements = STATEMENTS.lock().unwrap().clone();
    assert!(statements.len() > 50, "only {} statements recorded", statements.len());

    let db = TestDatabase::sqlite();
    let mut conn = SqliteConnection::establish(db.sqlite_path().unwrap().to_str().unwrap()).unwrap();
    let mut scans = Vec::new();
    let mut used = BTreeSet::new();
    for sql in &statements {
        let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load(&mut conn)
            .unwrap();
        for line in plan {
            let Some(rest) = line.detail.strip_prefix("SCAN ") else {
                continue;
            };
            let table = rest.split_whitespace().next().unwrap_or_default();
            // `SCAN CONSTANT ROW`, `SCAN 2-ROW VALUES CLAUSE`: no table.
            if table == "CONSTANT" || rest.contains("VALUES CLAUSE") {
                continue;
            }
            let allowed = WHOLE_TABLE
                .iter()
                .position(|(tail, t)| *t == table && sql.contains(tail));
            if let Some(i) = allowed {
                used.insert(i);
            } else {
                scans.push(format!("{sql}\n    -> {}", line.detail));
            }
        }
    }
    assert!(scans.is_empty(), "statements scanning a table:\n{}", scans.join("\n"));
    assert_eq!(
        used.len(),
        WHOLE_TABLE.len(),
        "an allowed whole-table statement is gone: update WHOLE_TABLE"
    );
    println!("query plans: {} statements, none scans a table", statements.len());
}
