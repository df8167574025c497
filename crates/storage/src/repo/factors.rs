//! [`FactorStore`]: second factors (issue 18). TOTP authenticators (the secret sealed by the
//! service, never in clear here), recovery codes and login challenges by digest, and the sessions'
//! proof times. Replay of a TOTP code is refused by one conditional `UPDATE` on `last_step`, so two
//! instances given the same code accept it once.

use super::{Repo, count};
use crate::connection::per_backend;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{login_challenges, recovery_codes, sessions, totp_factors};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{FactorStore, StoreResult};
use accountd_domain::records::{LoginChallenge, SealedSecret, TotpFactor};
use accountd_domain::secret::TokenDigest;
use accountd_domain::user::Timestamp;
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = totp_factors)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct TotpRow {
    user_key: i64,
    key_id: String,
    sealed: Vec<u8>,
    created_at: i64,
    confirmed_at: Option<i64>,
    last_step: Option<i64>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = login_challenges)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct ChallengeRow {
    digest: Vec<u8>,
    user_key: i64,
    created_at: i64,
    expires_at: i64,
    failures: i32,
    passkey_state: Option<String>,
}

fn to_challenge(row: ChallengeRow) -> StoreResult<LoginChallenge> {
    let user = row.user_key;
    Ok(LoginChallenge {
        digest: TokenDigest::from_slice(&row.digest).map_err(|e| corrupt("login_challenge", user, e))?,
        user: UserKey(user),
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        failures: u32::try_from(row.failures).unwrap_or(0),
        passkey_state: row.passkey_state,
    })
}

impl FactorStore for Repo<'_> {
    fn totp_factor(&mut self, user: UserKey) -> StoreResult<Option<TotpFactor>> {
        // On every login and Basic request (is there a second factor?): on the backend's own
        // connection (prepared once) and without `LIMIT ?`; see sessions.rs.
        let row: Option<TotpRow> = per_backend!(&mut *self.conn, |c| totp_factors::table
            .find(user.0)
            .select(TotpRow::as_select())
            .get_result(c)
            .optional())
        .store()?;
        Ok(row.map(|row| TotpFactor {
            user: UserKey(row.user_key),
            sealed: SealedSecret {
                key_id: row.key_id,
                bytes: row.sealed,
            },
            created_at: Timestamp::from_millis(row.created_at),
            confirmed_at: row.confirmed_at.map(Timestamp::from_millis),
            last_step: row.last_step,
        }))
    }

    fn put_totp_factor(&mut self, factor: &TotpFactor) -> StoreResult<()> {
        self.atomic(|conn| {
            diesel::delete(totp_factors::table.find(factor.user.0))
                .execute(conn)
                .store()?;
            diesel::insert_into(totp_factors::table)
                .values((
                    totp_factors::user_key.eq(factor.user.0),
                    totp_factors::key_id.eq(&factor.sealed.key_id),
                    totp_factors::sealed.eq(&factor.sealed.bytes),
                    totp_factors::created_at.eq(factor.created_at.as_millis()),
                    totp_factors::confirmed_at.eq(factor.confirmed_at.map(Timestamp::as_millis)),
                    totp_factors::last_step.eq(factor.last_step),
                ))
                .execute(conn)
                .store_or_missing("user")
                .map(|_| ())
        })
    }

    fn use_totp_step(&mut self, user: UserKey, step: i64, now: Timestamp) -> StoreResult<bool> {
        self.atomic(|conn| {
            let unused = totp_factors::table
                .filter(totp_factors::user_key.eq(user.0))
                .filter(totp_factors::last_step.is_null().or(totp_factors::last_step.lt(step)));
            let used = diesel::update(unused)
                .set(totp_factors::last_step.eq(step))
                .execute(conn)
                .store()?;
            if used != 1 {
                return Ok(false);
            }
            diesel::update(
                totp_factors::table
                    .filter(totp_factors::user_key.eq(user.0))
                    .filter(totp_factors::confirmed_at.is_null()),
            )
            .set(totp_factors::confirmed_at.eq(now.as_millis()))
            .execute(conn)
            .store()?;
            Ok(true)
        })
    }

    fn delete_totp_factor(&mut self, user: UserKey) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(totp_factors::table.find(user.0))
                .execute(conn)
                .store()
                .map(|n| n > 0)
        })
    }

    fn replace_recovery_codes(&mut self, user: UserKey, digests: &[TokenDigest], now: Timestamp) -> StoreResult<()> {
        self.atomic(|conn| {
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_key.eq(user.0)))
                .execute(conn)
                .store()?;
            // One row at a time: a batch `INSERT` can't be built for both backends at once (ten rows).
            for digest in digests {
                diesel::insert_into(recovery_codes::table)
                    .values((
                        recovery_codes::user_key.eq(user.0),
                        recovery_codes::digest.eq(digest.as_bytes().as_slice()),
                        recovery_codes::created_at.eq(now.as_millis()),
                    ))
                    .execute(conn)
                    .store_or_missing("user")?;
            }
            Ok(())
        })
    }

    fn use_recovery_code(&mut self, user: UserKey, digest: &TokenDigest) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(
                recovery_codes::table
                    .filter(recovery_codes::user_key.eq(user.0))
                    .filter(recovery_codes::digest.eq(digest.as_bytes().as_slice())),
            )
            .execute(conn)
            .store()
            .map(|n| n == 1)
        })
    }

    fn recovery_codes_left(&mut self, user: UserKey) -> StoreResult<u32> {
        let n: i64 = recovery_codes::table
            .filter(recovery_codes::user_key.eq(user.0))
            .count()
            .get_result(self.conn)
            .store()?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn recovery_code_digests(&mut self, user: UserKey) -> StoreResult<Vec<TokenDigest>> {
        recovery_codes::table
            .filter(recovery_codes::user_key.eq(user.0))
            .order(recovery_codes::id.asc())
            .select(recovery_codes::digest)
            .load::<Vec<u8>>(self.conn)
            .store()?
            .iter()
            .map(|d| TokenDigest::from_slice(d).map_err(|e| corrupt("recovery_codes", user.0, e)))
            .collect()
    }

    fn delete_recovery_codes(&mut self, user: UserKey) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_key.eq(user.0)))
                .execute(conn)
                .store()
                .map(count)
        })
    }

    fn create_login_challenge(&mut self, challenge: &LoginChallenge) -> StoreResult<()> {
        self.single(|conn| {
            diesel::insert_into(login_challenges::table)
                .values((
                    login_challenges::digest.eq(challenge.digest.as_bytes().as_slice()),
                    login_challenges::user_key.eq(challenge.user.0),
                    login_challenges::created_at.eq(challenge.created_at.as_millis()),
                    login_challenges::expires_at.eq(challenge.expires_at.as_millis()),
                    login_challenges::failures.eq(i32::try_from(challenge.failures).unwrap_or(i32::MAX)),
                    login_challenges::passkey_state.eq(challenge.passkey_state.as_deref()),
                ))
                .execute(conn)
                .store_or_missing("user")
                .map(|_| ())
        })
    }

    fn login_challenge(&mut self, digest: &TokenDigest) -> StoreResult<Option<LoginChallenge>> {
        login_challenges::table
            .find(digest.as_bytes().as_slice())
            .select(ChallengeRow::as_select())
            .first(self.conn)
            .optional()
            .store()?
            .map(to_challenge)
            .transpose()
    }

    fn count_challenge_failure(&mut self, digest: &TokenDigest) -> StoreResult<u32> {
        self.atomic(|conn| {
            let mine = login_challenges::table.find(digest.as_bytes().as_slice());
            diesel::update(mine)
                .set(login_challenges::failures.eq(login_challenges::failures + 1))
                .execute(conn)
                .store()?;
            let failures: Option<i32> = mine.select(login_challenges::failures).first(conn).optional().store()?;
            Ok(failures.map_or(0, |f| u32::try_from(f).unwrap_or(0)))
        })
    }

    fn delete_login_challenge(&mut self, digest: &TokenDigest) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(login_challenges::table.find(digest.as_bytes().as_slice()))
                .execute(conn)
                .store()
                .map(|n| n > 0)
        })
    }

    fn purge_login_challenges(&mut self, now: Timestamp) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(login_challenges::table.filter(login_challenges::expires_at.lt(now.as_millis())))
                .execute(conn)
                .store()
                .map(count)
        })
    }

    fn prove_session(&mut self, digest: &TokenDigest, now: Timestamp, enrollment_only: bool) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::update(sessions::table.filter(sessions::digest.eq(digest.as_bytes().as_slice())))
                .set((
                    sessions::proved_at.eq(now.as_millis()),
                    sessions::enrollment_only.eq(enrollment_only),
                ))
                .execute(conn)
                .store()
                .map(|n| n > 0)
        })
    }
}
