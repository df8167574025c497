//! [`CredentialStore`]: the current password of a user and the history of earlier ones.
//!
//! History rows are ordered by their identity (`id`), not by time, so a clock stepping back
//! can't reorder them; it is trimmed to `keep_history` entries on every change.

use super::{Repo, lock_user};
use crate::connection::DbConn;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{password_history, passwords};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{CredentialStore, StoreError, StoreResult};
use accountd_domain::records::PasswordRecord;
use accountd_domain::secret::SecretHash;
use accountd_domain::user::Timestamp;
use diesel::prelude::*;

/// A stored password as the domain's record.
pub(super) fn to_password(
    user: UserKey,
    hash: String,
    changed_at: i64,
    first_login: bool,
) -> StoreResult<PasswordRecord> {
    Ok(PasswordRecord {
        hash: SecretHash::new(hash).map_err(|e| corrupt("password", user, e))?,
        changed_at: Timestamp::from_millis(changed_at),
        first_login,
    })
}

/// Hashes from a history table, newest first.
pub(super) fn to_hashes(user: UserKey, table: &str, hashes: Vec<String>) -> StoreResult<Vec<SecretHash>> {
    hashes
        .into_iter()
        .map(|h| SecretHash::new(h).map_err(|e| corrupt(table, user, e)))
        .collect()
}

/// Keeps the newest `keep` history rows of `user`, given the ids of all of them newest first.
fn trim_password_history(conn: &mut DbConn, user: UserKey, keep: u8) -> StoreResult<()> {
    let ids: Vec<i64> = password_history::table
        .filter(password_history::user_key.eq(user.0))
        .order(password_history::id.desc())
        .select(password_history::id)
        .load(conn)
        .store()?;
    if let Some(&newest_dropped) = ids.get(usize::from(keep)) {
        diesel::delete(
            password_history::table
                .filter(password_history::user_key.eq(user.0))
                .filter(password_history::id.le(newest_dropped)),
        )
        .execute(conn)
        .store()?;
    }
    Ok(())
}

impl CredentialStore for Repo<'_> {
    fn password(&mut self, user: UserKey) -> StoreResult<Option<PasswordRecord>> {
        passwords::table
            .find(user.0)
            .select((passwords::hash, passwords::changed_at, passwords::first_login))
            .first::<(String, i64, bool)>(self.conn)
            .optional()
            .store()?
            .map(|(hash, changed_at, first_login)| to_password(user, hash, changed_at, first_login))
            .transpose()
    }

    fn set_password(
        &mut self,
        user: UserKey,
        hash: &SecretHash,
        first_login: bool,
        keep_history: u8,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.atomic(|conn| {
            lock_user(conn, user)?;
            let previous: Option<(String, i64)> = passwords::table
                .find(user.0)
                .select((passwords::hash, passwords::changed_at))
                .first(conn)
                .optional()
                .store()?;
            match previous {
                Some((old_hash, old_changed_at)) => {
                    diesel::insert_into(password_history::table)
                        .values((
                            password_history::user_key.eq(user.0),
                            password_history::hash.eq(old_hash),
                            password_history::changed_at.eq(old_changed_at),
                        ))
                        .execute(conn)
                        .store()?;
                    diesel::update(passwords::table.find(user.0))
                        .set((
                            passwords::hash.eq(hash.as_str()),
                            passwords::changed_at.eq(now.as_millis()),
                            passwords::first_login.eq(first_login),
                        ))
                        .execute(conn)
                        .store()?;
                }
                None => {
                    diesel::insert_into(passwords::table)
                        .values((
                            passwords::user_key.eq(user.0),
                            passwords::hash.eq(hash.as_str()),
                            passwords::changed_at.eq(now.as_millis()),
                            passwords::first_login.eq(first_login),
                        ))
                        .execute(conn)
                        .store_or_missing("user")?;
                }
            }
            trim_password_history(conn, user, keep_history)
        })
    }

    fn rehash_password(&mut self, user: UserKey, hash: &SecretHash) -> StoreResult<()> {
        let updated = self.single(|conn| {
            diesel::update(passwords::table.find(user.0))
                .set(passwords::hash.eq(hash.as_str()))
                .execute(conn)
                .store()
        })?;
        if updated == 0 {
            Err(StoreError::NotFound("password"))
        } else {
            Ok(())
        }
    }

    fn password_history(&mut self, user: UserKey, limit: u8) -> StoreResult<Vec<SecretHash>> {
        let hashes: Vec<String> = password_history::table
            .filter(password_history::user_key.eq(user.0))
            .order(password_history::id.desc())
            .limit(i64::from(limit))
            .select(password_history::hash)
            .load(self.conn)
            .store()?;
        to_hashes(user, "password_history", hashes)
    }

    fn clear_first_login(&mut self, user: UserKey) -> StoreResult<()> {
        // No password (an SSO-only account): nothing to clear.
        self.single(|conn| {
            diesel::update(passwords::table.find(user.0))
                .set(passwords::first_login.eq(false))
                .execute(conn)
                .store()
        })
        .map(|_| ())
    }
}
