//! [`PinStore`]: a user's PIN hash and settings (one `pincodes` row), the history of earlier
//! PINs, and the failed-attempt counter.

use super::credentials::to_hashes;
use super::{Repo, lock_user};
use crate::connection::DbConn;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{pin_history, pincodes};
use accountd_domain::ids::UserKey;
use accountd_domain::pincode::PinSettings;
use accountd_domain::ports::{PinStore, StoreError, StoreResult};
use accountd_domain::records::PinRecord;
use accountd_domain::secret::SecretHash;
use accountd_domain::user::Timestamp;
use diesel::prelude::*;

/// The `pincodes` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = pincodes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct PinRow {
    hash: Option<String>,
    login_disabled: bool,
    expiration_days: i32,
    does_not_expire: bool,
    changed_at: Option<i64>,
    failed_attempts: i64,
}

fn to_pin(user: UserKey, row: PinRow) -> StoreResult<PinRecord> {
    let bad = |e: accountd_domain::InvalidValue| corrupt("pincode", user, e);
    Ok(PinRecord {
        hash: row.hash.map(SecretHash::new).transpose().map_err(bad)?,
        settings: PinSettings::new(row.login_disabled, i64::from(row.expiration_days), row.does_not_expire)
            .map_err(bad)?,
        changed_at: row.changed_at.map(Timestamp::from_millis),
        failed_attempts: u32::try_from(row.failed_attempts).map_err(|e| corrupt("pincode", user, e))?,
    })
}

/// Keeps the newest `keep` PIN history rows of `user`.
fn trim_pin_history(conn: &mut DbConn, user: UserKey, keep: u8) -> StoreResult<()> {
    let ids: Vec<i64> = pin_history::table
        .filter(pin_history::user_key.eq(user.0))
        .order(pin_history::id.desc())
        .select(pin_history::id)
        .load(conn)
        .store()?;
    if let Some(&newest_dropped) = ids.get(usize::from(keep)) {
        diesel::delete(
            pin_history::table
                .filter(pin_history::user_key.eq(user.0))
                .filter(pin_history::id.le(newest_dropped)),
        )
        .execute(conn)
        .store()?;
    }
    Ok(())
}

impl PinStore for Repo<'_> {
    fn pin(&mut self, user: UserKey) -> StoreResult<Option<PinRecord>> {
        pincodes::table
            .find(user.0)
            .select(PinRow::as_select())
            .first(self.conn)
            .optional()
            .store()?
            .map(|row| to_pin(user, row))
            .transpose()
    }

    fn set_pin(
        &mut self,
        user: UserKey,
        hash: Option<&SecretHash>,
        settings: &PinSettings,
        keep_history: u8,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.atomic(|conn| {
            lock_user(conn, user)?;
            let previous: Option<(Option<String>, Option<i64>)> = pincodes::table
                .find(user.0)
                .select((pincodes::hash, pincodes::changed_at))
                .first(conn)
                .optional()
                .store()?;
            let settings_columns = (
                pincodes::login_disabled.eq(settings.login_disabled),
                pincodes::expiration_days.eq(i32::from(settings.expiration_days())),
                pincodes::does_not_expire.eq(settings.does_not_expire),
            );
            match (previous, hash) {
                (None, hash) => {
                    diesel::insert_into(pincodes::table)
                        .values((
                            pincodes::user_key.eq(user.0),
                            pincodes::hash.eq(hash.map(SecretHash::as_str)),
                            settings_columns,
                            pincodes::changed_at.eq(hash.map(|_| now.as_millis())),
                            pincodes::failed_attempts.eq(0),
                        ))
                        .execute(conn)
                        .store_or_missing("user")?;
                }
                (Some(_), None) => {
                    diesel::update(pincodes::table.find(user.0))
                        .set(settings_columns)
                        .execute(conn)
                        .store()?;
                }
                (Some((old_hash, old_changed_at)), Some(hash)) => {
                    if let Some(old_hash) = old_hash {
                        diesel::insert_into(pin_history::table)
                            .values((
                                pin_history::user_key.eq(user.0),
                                pin_history::hash.eq(old_hash),
                                pin_history::changed_at.eq(old_changed_at.unwrap_or(now.as_millis())),
                            ))
                            .execute(conn)
                            .store()?;
                    }
                    diesel::update(pincodes::table.find(user.0))
                        .set((
                            pincodes::hash.eq(hash.as_str()),
                            settings_columns,
                            pincodes::changed_at.eq(now.as_millis()),
                            pincodes::failed_attempts.eq(0),
                        ))
                        .execute(conn)
                        .store()?;
                }
            }
            trim_pin_history(conn, user, keep_history)
        })
    }

    fn pin_history(&mut self, user: UserKey, limit: u8) -> StoreResult<Vec<SecretHash>> {
        let hashes: Vec<String> = pin_history::table
            .filter(pin_history::user_key.eq(user.0))
            .order(pin_history::id.desc())
            .limit(i64::from(limit))
            .select(pin_history::hash)
            .load(self.conn)
            .store()?;
        to_hashes(user, "pin_history", hashes)
    }

    fn record_pin_failure(&mut self, user: UserKey) -> StoreResult<u32> {
        let count: Option<i64> = self.single(|conn| {
            diesel::update(pincodes::table.find(user.0))
                .set(pincodes::failed_attempts.eq(pincodes::failed_attempts + 1))
                .returning(pincodes::failed_attempts)
                .get_result(conn)
                .optional()
                .store()
        })?;
        let count = count.ok_or(StoreError::NotFound("pinCode"))?;
        u32::try_from(count).map_err(|e| corrupt("pincode", user, e))
    }
}
