//! [`ThrottleStore`]: failure counters per key in fixed windows, shared by every instance on the
//! database. A hit is one upsert whose `CASE` starts a fresh window when the stored one is
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

fn to_state(key: &str, failures: i64, window_started_at: i64) -> StoreResult<ThrottleState> {
    Ok(ThrottleState {
        failures: u32::try_from(failures).map_err(|e| corrupt("throttle", key, e))?,
        window_started_at: Timestamp::from_millis(window_started_at),
    })
}

impl ThrottleStore for Repo<'_> {
    fn throttle_hit(&mut self, key: &str, now: Timestamp, window_seconds: i64) -> StoreResult<ThrottleState> {
        let now_ms = now.as_millis();
        let cutoff = now.plus_seconds(window_seconds.saturating_neg()).as_millis();
        let (failures, started): (i64, i64) = self.single(|conn| {
            per_backend!(&mut *conn, |c| diesel::insert_into(throttle::table)
                .values((
                    throttle::key.eq(key),
                    throttle::failures.eq(1_i64),
                    throttle::window_started_at.eq(now_ms),
                ))
                .on_conflict(throttle::key)
                .do_update()
                .set((
                    throttle::failures.eq(case_when(
                        throttle::window_started_at.le(cutoff),
                        1_i64.into_sql::<diesel::sql_types::BigInt>()
                    )
                    .otherwise(throttle::failures + 1_i64)),
                    throttle::window_started_at.eq(case_when(
                        throttle::window_started_at.le(cutoff),
                        now_ms.into_sql::<diesel::sql_types::BigInt>()
                    )
                    .otherwise(throttle::window_started_at)),
                ))
                .returning((throttle::failures, throttle::window_started_at))
                .get_result(c))
            .store()
        })?;
        to_state(key, failures, started)
    }

    fn throttle_state(&mut self, key: &str) -> StoreResult<Option<ThrottleState>> {
        // On every login and Basic request: on the backend's own connection (prepared once) and
        // without `LIMIT ?` (re-prepared on every bind); see sessions.rs and docs/performance.md.
        per_backend!(&mut *self.conn, |c| throttle::table
            .find(key)
            .select((throttle::failures, throttle::window_started_at))
            .get_result::<(i64, i64)>(c)
            .optional())
        .store()?
        .map(|(failures, started)| to_state(key, failures, started))
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
}
