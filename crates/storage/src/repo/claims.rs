//! [`ClaimStore`]: per-user claims shared by every instance on the database. Taking one is a single
//! upsert that inserts the claim, or takes over a stored one only when it has expired (or is the
//! holder's own), so two processes racing for one user never both get it.

use super::Repo;
use crate::connection::per_backend;
use crate::error::QueryResultExt;
use crate::schema::user_claims;
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{ClaimStore, StoreResult};
use accountd_domain::user::Timestamp;
use diesel::prelude::*;
use diesel::upsert::excluded;
use std::time::Duration;

impl ClaimStore for Repo<'_> {
    fn claim_user(&mut self, user: UserKey, holder: &str, now: Timestamp, ttl: Duration) -> StoreResult<bool> {
        let now_ms = now.as_millis();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let expires_at = now_ms.saturating_add(ttl_ms);
        let taken = self.single(|conn| {
            per_backend!(&mut *conn, |c| {
                // `ON CONFLICT … DO UPDATE … WHERE` (diesel's `FilterDsl` on the upsert): a live
                // claim of another holder stays, and the statement then changes no row.
                use diesel::query_dsl::methods::FilterDsl;
                let upsert = diesel::insert_into(user_claims::table)
                    .values((
                        user_claims::user_key.eq(user.0),
                        user_claims::holder.eq(holder),
                        user_claims::expires_at.eq(expires_at),
                    ))
                    .on_conflict(user_claims::user_key)
                    .do_update()
                    .set((
                        user_claims::holder.eq(excluded(user_claims::holder)),
                        user_claims::expires_at.eq(excluded(user_claims::expires_at)),
                    ));
                FilterDsl::filter(
                    upsert,
                    user_claims::expires_at.le(now_ms).or(user_claims::holder.eq(holder)),
                )
                .execute(c)
            })
            .store()
        })?;
        Ok(taken == 1)
    }

    fn release_user_claim(&mut self, user: UserKey, holder: &str) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(
                user_claims::table
                    .filter(user_claims::user_key.eq(user.0))
                    .filter(user_claims::holder.eq(holder)),
            )
            .execute(conn)
            .store()
            .map(|n| n == 1)
        })
    }

    fn purge_expired_claims(&mut self, now: Timestamp) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(user_claims::table.filter(user_claims::expires_at.le(now.as_millis())))
                .execute(conn)
                .store()
                .map(|n| n as u64)
        })
    }
}
