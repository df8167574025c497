//! [`AuditLog`]: append-only audit events. No foreign keys: the log outlives the users it names.
//! `fields` is a JSON array of wire names. Events leave only through the retention purge
//! ([`AuditLog::purge_audit`]), oldest first, by the index on `at`.

use super::Repo;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::audit_events;
use accountd_domain::ids::UserKey;
use accountd_domain::level::UserLevel;
use accountd_domain::ports::{AuditLog, StoreResult};
use accountd_domain::records::{AuditAction, AuditEvent, AuditOutcome, AuditRecord, ClientInfo};
use accountd_domain::user::Timestamp;
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct AuditRow {
    id: i64,
    at: i64,
    actor: Option<i64>,
    actor_name: Option<String>,
    subject: Option<i64>,
    action: String,
    fields: String,
    outcome: String,
    request_id: Option<String>,
    client_address: Option<String>,
    user_agent: Option<String>,
    actor_level: Option<i32>,
}

fn to_record(row: AuditRow) -> StoreResult<AuditRecord> {
    let id = row.id;
    Ok(AuditRecord {
        id,
        event: to_event(row)?,
    })
}

fn to_event(row: AuditRow) -> StoreResult<AuditEvent> {
    let id = row.id;
    Ok(AuditEvent {
        at: Timestamp::from_millis(row.at),
        actor: row.actor.map(UserKey),
        actor_name: row.actor_name,
        subject: row.subject.map(UserKey),
        action: AuditAction::parse(&row.action)
            .ok_or_else(|| corrupt("audit_event", id, format!("unknown action {:?}", row.action)))?,
        fields: serde_json::from_str(&row.fields).map_err(|e| corrupt("audit_event", id, e))?,
        outcome: AuditOutcome::parse(&row.outcome)
            .ok_or_else(|| corrupt("audit_event", id, format!("unknown outcome {:?}", row.outcome)))?,
        request_id: row.request_id,
        client: ClientInfo {
            address: row.client_address,
            user_agent: row.user_agent,
        },
        actor_level: row
            .actor_level
            .map(|l| {
                u8::try_from(l)
                    .ok()
                    .and_then(|l| UserLevel::from_u8(l).ok())
                    .ok_or_else(|| corrupt("audit_event", id, format!("unknown level {l}")))
            })
            .transpose()?,
    })
}

/// `text` cut to at most `max` characters, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(end, _)| &text[..end])
}

impl AuditLog for Repo<'_> {
    fn record_audit(&mut self, event: &AuditEvent) -> StoreResult<()> {
        let fields = serde_json::to_string(&event.fields).unwrap_or_else(|_| "[]".to_owned());
        self.single(|conn| {
            diesel::insert_into(audit_events::table)
                .values((
                    audit_events::at.eq(event.at.as_millis()),
                    audit_events::actor.eq(event.actor.map(|k| k.0)),
                    audit_events::actor_name.eq(event.actor_name.as_deref()),
                    audit_events::subject.eq(event.subject.map(|k| k.0)),
                    audit_events::action.eq(event.action.as_str()),
                    audit_events::fields.eq(&fields),
                    audit_events::outcome.eq(event.outcome.as_str()),
                    audit_events::request_id.eq(event.request_id.as_deref()),
                    // Both are the client's to make long (an address from X-Forwarded-For too).
                    audit_events::client_address.eq(event.client.address.as_deref().map(|a| cut(a, 64))),
                    audit_events::user_agent.eq(event.client.user_agent.as_deref().map(|ua| cut(ua, 256))),
                    audit_events::actor_level.eq(event.actor_level.map(|l| i32::from(l.as_u8()))),
                ))
                .execute(conn)
                .store()
                .map(|_| ())
        })
    }

    fn recent_audit(&mut self, subject: Option<UserKey>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let query = audit_events::table
            .order(audit_events::id.desc())
            .limit(i64::from(limit))
            .select(AuditRow::as_select());
        let rows = match subject {
            Some(s) => query.filter(audit_events::subject.eq(s.0)).load(self.conn),
            None => query.load(self.conn),
        }
        .store()?;
        rows.into_iter().map(to_event).collect()
    }

    fn audit_page(&mut self, subject: UserKey, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let query = audit_events::table
            .filter(audit_events::subject.eq(subject.0))
            .order(audit_events::id.desc())
            .limit(i64::from(limit))
            .select(AuditRow::as_select());
        let rows = match before {
            Some(id) => query.filter(audit_events::id.lt(id)).load(self.conn),
            None => query.load(self.conn),
        }
        .store()?;
        rows.into_iter().map(to_record).collect()
    }

    fn purge_audit(&mut self, before: Timestamp, batch: u32) -> StoreResult<u64> {
        // The oldest `batch` ids by the `at` index, then a delete by primary key: one bounded
        // statement on both backends (neither SQLite nor PostgreSQL has `DELETE … LIMIT` by default).
        // (An alias: diesel refuses a subquery on the table the statement deletes from.)
        let old = diesel::alias!(audit_events as old);
        let oldest = old
            .filter(old.field(audit_events::at).lt(before.as_millis()))
            .order(old.field(audit_events::at).asc())
            .limit(i64::from(batch))
            .select(old.field(audit_events::id));
        self.single(|conn| {
            diesel::delete(audit_events::table.filter(audit_events::id.eq_any(oldest)))
                .execute(conn)
                .store()
                .map(|n| n as u64)
        })
    }
}
