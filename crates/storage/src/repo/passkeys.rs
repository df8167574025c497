//! [`PasskeyStore`]: passkeys (issue 19) and the state of WebAuthn ceremonies. A counter only goes
//! forward (one conditional `UPDATE` on the counter last seen), and a ceremony is taken by one
//! `DELETE … RETURNING`, so two instances given the same answer accept it once.

use super::{Repo, count};
use crate::connection::per_backend;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{passkeys, webauthn_ceremonies};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{PasskeyStore, StoreResult};
use accountd_domain::records::{Ceremony, NewPasskey, PasskeyRecord};
use accountd_domain::secret::TokenDigest;
use accountd_domain::user::Timestamp;
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct PasskeyRow {
    id: i64,
    user_key: i64,
    credential_id: Vec<u8>,
    name: String,
    credential: String,
    counter: i64,
    backup_eligible: bool,
    backup_state: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

fn to_passkey(row: PasskeyRow) -> StoreResult<PasskeyRecord> {
    let counter = u32::try_from(row.counter).map_err(|e| corrupt("passkey", row.user_key, e))?;
    Ok(PasskeyRecord {
        id: row.id,
        passkey: NewPasskey {
            user: UserKey(row.user_key),
            credential_id: row.credential_id,
            name: row.name,
            credential: row.credential,
            counter,
            backup_eligible: row.backup_eligible,
            backup_state: row.backup_state,
            created_at: Timestamp::from_millis(row.created_at),
            last_used_at: row.last_used_at.map(Timestamp::from_millis),
        },
    })
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webauthn_ceremonies)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct CeremonyRow {
    digest: Vec<u8>,
    kind: String,
    user_key: Option<i64>,
    state: String,
    expires_at: i64,
}

impl PasskeyStore for Repo<'_> {
    fn user_passkeys(&mut self, user: UserKey) -> StoreResult<Vec<PasskeyRecord>> {
        // On every login and Basic request (is there a second factor?): on the backend's own
        // connection, prepared once; see sessions.rs.
        let rows: Vec<PasskeyRow> = per_backend!(&mut *self.conn, |c| passkeys::table
            .filter(passkeys::user_key.eq(user.0))
            .order(passkeys::id.asc())
            .select(PasskeyRow::as_select())
            .load(c))
        .store()?;
        rows.into_iter().map(to_passkey).collect()
    }

    fn passkey_by_credential(&mut self, credential_id: &[u8]) -> StoreResult<Option<PasskeyRecord>> {
        let row: Option<PasskeyRow> = passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .select(PasskeyRow::as_select())
            .first(self.conn)
            .optional()
            .store()?;
        row.map(to_passkey).transpose()
    }

    fn add_passkey(&mut self, passkey: &NewPasskey) -> StoreResult<PasskeyRecord> {
        let row: PasskeyRow = self.single(|conn| {
            // `RETURNING` a `Selectable` is built per backend (`MultiBackend` can't).
            per_backend!(&mut *conn, |c| diesel::insert_into(passkeys::table)
                .values((
                    passkeys::user_key.eq(passkey.user.0),
                    passkeys::credential_id.eq(&passkey.credential_id),
                    passkeys::name.eq(&passkey.name),
                    passkeys::credential.eq(&passkey.credential),
                    passkeys::counter.eq(i64::from(passkey.counter)),
                    passkeys::backup_eligible.eq(passkey.backup_eligible),
                    passkeys::backup_state.eq(passkey.backup_state),
                    passkeys::created_at.eq(passkey.created_at.as_millis()),
                    passkeys::last_used_at.eq(passkey.last_used_at.map(Timestamp::as_millis)),
                ))
                .returning(PasskeyRow::as_returning())
                .get_result(c))
            .store_or_missing("user")
        })?;
        to_passkey(row)
    }

    fn use_passkey(&mut self, id: i64, seen_counter: u32, updated: &NewPasskey, now: Timestamp) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::update(
                passkeys::table
                    .filter(passkeys::id.eq(id))
                    .filter(passkeys::counter.eq(i64::from(seen_counter))),
            )
            .set((
                passkeys::credential.eq(&updated.credential),
                passkeys::counter.eq(i64::from(updated.counter)),
                passkeys::backup_eligible.eq(updated.backup_eligible),
                passkeys::backup_state.eq(updated.backup_state),
                passkeys::last_used_at.eq(now.as_millis()),
            ))
            .execute(conn)
            .store()
            .map(|n| n == 1)
        })
    }

    fn delete_passkey(&mut self, user: UserKey, id: i64) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(
                passkeys::table
                    .filter(passkeys::id.eq(id))
                    .filter(passkeys::user_key.eq(user.0)),
            )
            .execute(conn)
            .store()
            .map(|n| n > 0)
        })
    }

    fn delete_passkeys(&mut self, user: UserKey) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(passkeys::table.filter(passkeys::user_key.eq(user.0)))
                .execute(conn)
                .store()
                .map(count)
        })
    }

    fn put_ceremony(&mut self, ceremony: &Ceremony) -> StoreResult<()> {
        self.single(|conn| {
            diesel::insert_into(webauthn_ceremonies::table)
                .values((
                    webauthn_ceremonies::digest.eq(ceremony.digest.as_bytes().as_slice()),
                    webauthn_ceremonies::kind.eq(&ceremony.kind),
                    webauthn_ceremonies::user_key.eq(ceremony.user.map(|u| u.0)),
                    webauthn_ceremonies::state.eq(&ceremony.state),
                    webauthn_ceremonies::expires_at.eq(ceremony.expires_at.as_millis()),
                ))
                .execute(conn)
                .store_or_missing("user")
                .map(|_| ())
        })
    }

    fn take_ceremony(&mut self, digest: &TokenDigest, kind: &str, now: Timestamp) -> StoreResult<Option<Ceremony>> {
        let row: Option<CeremonyRow> = self.single(|conn| {
            let mine = webauthn_ceremonies::table
                .filter(webauthn_ceremonies::digest.eq(digest.as_bytes().as_slice()))
                .filter(webauthn_ceremonies::kind.eq(kind))
                .filter(webauthn_ceremonies::expires_at.gt(now.as_millis()));
            per_backend!(&mut *conn, |c| diesel::delete(mine)
                .returning(CeremonyRow::as_returning())
                .get_result(c)
                .optional())
            .store()
        })?;
        row.map(|row| {
            Ok(Ceremony {
                digest: TokenDigest::from_slice(&row.digest).map_err(|e| corrupt("ceremony", 0, e))?,
                kind: row.kind,
                user: row.user_key.map(UserKey),
                state: row.state,
                expires_at: Timestamp::from_millis(row.expires_at),
            })
        })
        .transpose()
    }

    fn purge_ceremonies(&mut self, now: Timestamp) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.lt(now.as_millis())))
                .execute(conn)
                .store()
                .map(count)
        })
    }
}
