//! [`OutboxStore`]: the durable outbox and the divergence record (issue 15). No foreign keys: a
//! message or a divergence about a user outlives the user (a realignment of a deleted user is
//! dropped by its handler; a divergence stays until an operator resolves it).
//!
//! Leasing is one transaction: pick the due, unleased rows oldest first (on PostgreSQL
//! `FOR UPDATE SKIP LOCKED`, so a second instance leasing at the same moment passes over them
//! instead of waiting), keep those that are the first row of their user, and stamp the lease. On
//! SQLite the transaction is `BEGIN IMMEDIATE`: leases are serialized by the write lock.

use super::Repo;
use crate::connection::DbConn;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{divergences, outbox};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{Divergence, NewOutboxMessage, OutboxMessage, OutboxStats, OutboxStore, StoreResult};
use accountd_domain::user::Timestamp;
use diesel::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct OutboxRow {
    id: i64,
    topic: String,
    user_key: Option<i64>,
    payload: String,
    created_at: i64,
    not_before: i64,
    attempts: i32,
    last_error: Option<String>,
}

impl OutboxRow {
    fn into_message(self) -> StoreResult<OutboxMessage> {
        let attempts = u32::try_from(self.attempts).map_err(|e| corrupt("outbox", self.id, e))?;
        Ok(OutboxMessage {
            id: self.id,
            topic: self.topic,
            user: self.user_key.map(UserKey),
            payload: self.payload,
            created_at: Timestamp::from_millis(self.created_at),
            not_before: Timestamp::from_millis(self.not_before),
            attempts,
            last_error: self.last_error,
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = divergences)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct DivergenceRow {
    id: i64,
    user_key: Option<i64>,
    topic: String,
    detail: String,
    recorded_at: i64,
}

/// Error texts are kept to this many characters: enough to diagnose, not a place to store bodies.
const MAX_ERROR_CHARS: usize = 500;

/// Up to `limit` due, unleased rows, earliest due first (through the
/// `(not_before, id)` index); locked (and skipped by other lessees) on PostgreSQL until the lease
/// transaction ends.
fn due_rows(conn: &mut DbConn, now: i64, limit: i64) -> StoreResult<Vec<OutboxRow>> {
    let due = outbox::table
        .filter(outbox::not_before.le(now))
        .filter(outbox::leased_until.is_null().or(outbox::leased_until.le(now)))
        .order((outbox::not_before.asc(), outbox::id.asc()))
        .limit(limit);
    match conn {
        DbConn::Sqlite(c) => due.select(OutboxRow::as_select()).load(c),
        DbConn::Postgres(c) => due.select(OutboxRow::as_select()).for_update().skip_locked().load(c),
    }
    .store()
}

impl OutboxStore for Repo<'_> {
    fn enqueue_outbox(&mut self, message: &NewOutboxMessage, now: Timestamp) -> StoreResult<i64> {
        self.single(|conn| {
            diesel::insert_into(outbox::table)
                .values((
                    outbox::topic.eq(&message.topic),
                    outbox::user_key.eq(message.user.map(|u| u.0)),
                    outbox::payload.eq(&message.payload),
                    outbox::created_at.eq(now.as_millis()),
                    outbox::not_before.eq(message.not_before.as_millis()),
                    outbox::attempts.eq(0),
                ))
                .returning(outbox::id)
                .get_result(conn)
                .store()
        })
    }

    fn remove_outbox(&mut self, id: i64) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(outbox::table.find(id))
                .execute(conn)
                .store()
                .map(|n| n == 1)
        })
    }

    fn outbox_message(&mut self, id: i64) -> StoreResult<Option<OutboxMessage>> {
        outbox::table
            .find(id)
            .select(OutboxRow::as_select())
            .first(self.conn)
            .optional()
            .store()?
            .map(OutboxRow::into_message)
            .transpose()
    }

    /// Leases in id order among what is due (see `due_ids` for the order they are picked in).
    fn lease_outbox(
        &mut self,
        now: Timestamp,
        holder: &str,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let now_ms = now.as_millis();
        self.atomic(|conn| {
            // Locked and loaded in one query; delivered in id order.
            let mut candidates = due_rows(conn, now_ms, i64::from(limit))?;
            if candidates.is_empty() {
                return Ok(Vec::new());
            }
            candidates.sort_unstable_by_key(|r| r.id);
            // The first row still in the outbox of each candidate's user: a later row of a user
            // waits for the earlier one (leased, backing off or not yet due) to go.
            let users: Vec<i64> = candidates.iter().filter_map(|r| r.user_key).collect();
            let firsts: BTreeMap<i64, i64> = if users.is_empty() {
                BTreeMap::new()
            } else {
                outbox::table
                    .filter(outbox::user_key.eq_any(&users))
                    .group_by(outbox::user_key)
                    .select((outbox::user_key, diesel::dsl::min(outbox::id)))
                    .load::<(Option<i64>, Option<i64>)>(conn)
                    .store()?
                    .into_iter()
                    .filter_map(|(user, first)| Some((user?, first?)))
                    .collect()
            };
            let leased: Vec<OutboxRow> = candidates
                .into_iter()
                .filter(|r| r.user_key.is_none_or(|u| firsts.get(&u) == Some(&r.id)))
                .collect();
            let leased_ids: Vec<i64> = leased.iter().map(|r| r.id).collect();
            if leased_ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(outbox::table.filter(outbox::id.eq_any(&leased_ids)))
                .set((
                    outbox::leased_by.eq(holder),
                    outbox::leased_until.eq(lease_until.as_millis()),
                ))
                .execute(conn)
                .store()?;
            leased.into_iter().map(OutboxRow::into_message).collect()
        })
    }

    fn retry_outbox(&mut self, id: i64, attempts: u32, not_before: Timestamp, error: Option<&str>) -> StoreResult<()> {
        let error: Option<String> = error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect());
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.single(|conn| {
            diesel::update(outbox::table.find(id))
                .set((
                    outbox::attempts.eq(attempts),
                    outbox::not_before.eq(not_before.as_millis()),
                    outbox::last_error.eq(error),
                    outbox::leased_by.eq(None::<String>),
                    outbox::leased_until.eq(None::<i64>),
                ))
                .execute(conn)
                .store()
                .map(|_| ())
        })
    }

    fn outbox_stats(&mut self) -> StoreResult<OutboxStats> {
        let (depth, oldest): (i64, Option<i64>) = outbox::table
            .select((diesel::dsl::count_star(), diesel::dsl::min(outbox::created_at)))
            .first(self.conn)
            .store()?;
        let open: i64 = divergences::table.count().get_result(self.conn).store()?;
        Ok(OutboxStats {
            depth: u64::try_from(depth).unwrap_or(0),
            oldest_created_at: oldest.map(Timestamp::from_millis),
            divergences: u64::try_from(open).unwrap_or(0),
        })
    }

    fn record_divergence(
        &mut self,
        user: Option<UserKey>,
        topic: &str,
        detail: &str,
        now: Timestamp,
    ) -> StoreResult<i64> {
        let detail: String = detail.chars().take(MAX_ERROR_CHARS).collect();
        self.single(|conn| {
            diesel::insert_into(divergences::table)
                .values((
                    divergences::user_key.eq(user.map(|u| u.0)),
                    divergences::topic.eq(topic),
                    divergences::detail.eq(&detail),
                    divergences::recorded_at.eq(now.as_millis()),
                ))
                .returning(divergences::id)
                .get_result(conn)
                .store()
        })
    }

    fn divergences(&mut self) -> StoreResult<Vec<Divergence>> {
        let rows: Vec<DivergenceRow> = divergences::table
            .order(divergences::id.asc())
            .select(DivergenceRow::as_select())
            .load(self.conn)
            .store()?;
        Ok(rows
            .into_iter()
            .map(|r| Divergence {
                id: r.id,
                user: r.user_key.map(UserKey),
                topic: r.topic,
                detail: r.detail,
                recorded_at: Timestamp::from_millis(r.recorded_at),
            })
            .collect())
    }

    fn resolve_divergence(&mut self, id: i64) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(divergences::table.find(id))
                .execute(conn)
                .store()
                .map(|n| n == 1)
        })
    }
}
