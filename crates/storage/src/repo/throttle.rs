//! [`ThrottleStore`]: failure counters per key in sliding windows, shared by every instance on the
//! database. A hit is one upsert whose `CASE`s roll the window over when the stored one is
//! `window_seconds` old or older, so concurrent hits from several processes count exactly.

use super::Repo;
use crate::connection::per_backend;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::throttle;
use accountd_domain::ports::{StoreResult, ThrottleStore};
use accountd_domain::records::ThrottleState;
use accountd_domain::user::Timestamp;
use diesel::dsl::case_when;
use diesel::prelude::*;

fn to_state(key: &str, failures: i64, previous: i64, window_started_at: i64) -> StoreResult<ThrottleState> {
    Ok(ThrottleState {
        failures: u32::try_from(failures).map_err(|e| corrupt("throttle", key, e))?,
        previous_failures: u32::try_from(previous).map_err(|e| corrupt("throttle", key, e))?,
        window_started_at: Timestamp::from_millis(window_started_at),
    })
}

impl ThrottleStore for Repo<'_> {
    fn throttle_hit(&mut self, key: &str, now: Timestamp, window_seconds: i64) -> StoreResult<ThrottleState> {
        use diesel::sql_types::BigInt;
        let now_ms = now.as_millis();
        let window_ms = window_seconds.saturating_mul(1000);
        // The stored window ended (one window ago) or is older than the previous one (two ago).
        let ended = now_ms.saturating_sub(window_ms);
        let long_gone = now_ms.saturating_sub(window_ms.saturating_mul(2));
        let (failures, previous, started): (i64, i64, i64) = self.single(|conn| {
            per_backend!(&mut *conn, |c| diesel::insert_into(throttle::table)
                .values((
                    throttle::key.eq(key),
                    throttle::failures.eq(1_i64),
                    throttle::previous_failures.eq(0_i64),
                    throttle::window_started_at.eq(now_ms),
                ))
                .on_conflict(throttle::key)
                .do_update()
                .set((
                    // Every expression reads the row as it was (SQL `SET` semantics).
                    throttle::previous_failures.eq(case_when(
                        throttle::window_started_at.le(long_gone),
                        0_i64.into_sql::<BigInt>(),
                    )
                    .when(throttle::window_started_at.le(ended), throttle::failures)
                    .otherwise(throttle::previous_failures)),
                    throttle::failures.eq(
                        case_when(throttle::window_started_at.le(ended), 1_i64.into_sql::<BigInt>(),)
                            .otherwise(throttle::failures + 1_i64)
                    ),
                    throttle::window_started_at.eq(case_when(
                        throttle::window_started_at.le(long_gone),
                        now_ms.into_sql::<BigInt>(),
                    )
                    .when(
                        throttle::window_started_at.le(ended),
                        throttle::window_started_at + window_ms,
                    )
                    .otherwise(throttle::window_started_at)),
                ))
                .returning((
                    throttle::failures,
                    throttle::previous_failures,
                    throttle::window_started_at,
                ))
                .get_result(c))
            .store()
        })?;
        to_state(key, failures, previous, started)
    }

    fn throttle_state(&mut self, key: &str) -> StoreResult<Option<ThrottleState>> {
        // On every login and Basic request: on the backend's own connection (prepared once) and
        // without `LIMIT ?` (re-prepared on every bind); see sessions.rs and docs/performance.md.
        per_backend!(&mut *self.conn, |c| throttle::table
            .find(key)
            .select((
                throttle::failures,
                throttle::previous_failures,
                throttle::window_started_at,
            ))
            .get_result::<(i64, i64, i64)>(c)
            .optional())
        .store()?
        .map(|(failures, previous, started)| to_state(key, failures, previous, started))
        .transpose()
    }

    fn throttle_clear(&mut self, key: &str) -> StoreResult<()> {
        self.single(|conn| {
            diesel::delete(throttle::table.find(key))
                .execute(conn)
                .store()
                .map(|_| ())
        })
    }

    fn throttle_purge(&mut self, before: Timestamp) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(throttle::table.filter(throttle::window_started_at.le(before.as_millis())))
                .execute(conn)
                .store()
                .map(|n| n as u64)
        })
    }
}
