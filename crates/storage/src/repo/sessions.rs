//! [`SessionStore`]: login sessions, kept by the SHA-256 digest of their id. Looking a session up
//! with its user is one query: `sessions` in front of the user joins.

use super::user::{UserJoinRow, to_user, user_columns, user_joins};
use super::{Repo, count};
use crate::connection::per_backend;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{email_changes, password_change_demands, password_resets, sessions, users};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{SessionStore, StoreResult};
use accountd_domain::principal::AuthMethod;
use accountd_domain::records::{ClientInfo, NewSession, PendingEmailChange, Session};
use accountd_domain::secret::TokenDigest;
use accountd_domain::text::EmailAddress;
use accountd_domain::user::{Timestamp, User};
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct SessionRow {
    id: i64,
    digest: Vec<u8>,
    user_key: i64,
    auth: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    client_address: Option<String>,
    user_agent: Option<String>,
    proved_at: i64,
    enrollment_only: bool,
    password_change_only: bool,
}

fn to_session(row: SessionRow) -> StoreResult<Session> {
    let id = row.id;
    Ok(Session {
        id,
        digest: TokenDigest::from_slice(&row.digest).map_err(|e| corrupt("session", id, e))?,
        user: UserKey(row.user_key),
        auth: AuthMethod::parse(&row.auth)
            .ok_or_else(|| corrupt("session", id, format!("unknown auth {:?}", row.auth)))?,
        created_at: Timestamp::from_millis(row.created_at),
        last_seen_at: Timestamp::from_millis(row.last_seen_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        client: ClientInfo {
            address: row.client_address,
            user_agent: row.user_agent,
        },
        proved_at: Timestamp::from_millis(row.proved_at),
        enrollment_only: row.enrollment_only,
        password_change_only: row.password_change_only,
    })
}

impl SessionStore for Repo<'_> {
    fn create_session(&mut self, session: &NewSession) -> StoreResult<Session> {
        let row: SessionRow = self.single(|conn| {
            // `RETURNING` a `Selectable` is built per backend (`MultiBackend` can't).
            per_backend!(&mut *conn, |c| diesel::insert_into(sessions::table)
                .values((
                    sessions::digest.eq(session.digest.as_bytes().as_slice()),
                    sessions::user_key.eq(session.user.0),
                    sessions::auth.eq(session.auth.as_str()),
                    sessions::created_at.eq(session.created_at.as_millis()),
                    sessions::last_seen_at.eq(session.created_at.as_millis()),
                    sessions::expires_at.eq(session.expires_at.as_millis()),
                    sessions::client_address.eq(session.client.address.as_deref()),
                    sessions::user_agent.eq(session.client.user_agent.as_deref()),
                    sessions::proved_at.eq(session.proved_at.as_millis()),
                    sessions::enrollment_only.eq(session.enrollment_only),
                    sessions::password_change_only.eq(session.password_change_only),
                ))
                .returning(SessionRow::as_returning())
                .get_result(c))
            .store_or_missing("user")
        })?;
        to_session(row)
    }

    fn session_with_user(&mut self, digest: &TokenDigest) -> StoreResult<Option<(Session, User)>> {
        // The path of every request with a session, so it runs on the backend's own connection
        // (`per_backend!`): diesel then prepares it once per connection and reuses it, where
        // `MultiBackend` would build its SQL three times per call. No `LIMIT ?` (`digest` is unique):
        // a bound limit makes SQLite ≥ 3.53 re-prepare the statement on every execution.
        // docs/performance.md has the measurements.
        let row: Option<(SessionRow, UserJoinRow)> = per_backend!(&mut *self.conn, |c| user_joins!(
            sessions::table.inner_join(users::table.on(users::key.eq(sessions::user_key)))
        )
        .filter(sessions::digest.eq(digest.as_bytes().as_slice()))
        .select((SessionRow::as_select(), user_columns!()))
        .get_result(c)
        .optional())
        .store()?;
        row.map(|(session, user)| Ok((to_session(session)?, to_user(user)?)))
            .transpose()
    }

    fn touch_session(&mut self, digest: &TokenDigest, now: Timestamp) -> StoreResult<()> {
        self.single(|conn| {
            diesel::update(sessions::table.filter(sessions::digest.eq(digest.as_bytes().as_slice())))
                .set(sessions::last_seen_at.eq(now.as_millis()))
                .execute(conn)
                .store()
                .map(|_| ())
        })
    }

    fn delete_session(&mut self, digest: &TokenDigest) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(sessions::table.filter(sessions::digest.eq(digest.as_bytes().as_slice())))
                .execute(conn)
                .store()
                .map(|n| n > 0)
        })
    }

    fn delete_user_session(&mut self, user: UserKey, id: i64) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(
                sessions::table
                    .filter(sessions::id.eq(id))
                    .filter(sessions::user_key.eq(user.0)),
            )
            .execute(conn)
            .store()
            .map(|n| n > 0)
        })
    }

    fn delete_user_sessions(&mut self, user: UserKey, except: Option<&TokenDigest>) -> StoreResult<u64> {
        self.single(|conn| {
            let mine = sessions::table.filter(sessions::user_key.eq(user.0));
            match except {
                Some(keep) => {
                    diesel::delete(mine.filter(sessions::digest.ne(keep.as_bytes().as_slice()))).execute(conn)
                }
                None => diesel::delete(mine).execute(conn),
            }
            .store()
            .map(count)
        })
    }

    fn user_sessions(&mut self, user: UserKey) -> StoreResult<Vec<Session>> {
        sessions::table
            .filter(sessions::user_key.eq(user.0))
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .select(SessionRow::as_select())
            .load(self.conn)
            .store()?
            .into_iter()
            .map(to_session)
            .collect()
    }

    fn purge_sessions(&mut self, now: Timestamp, idle_before: Timestamp) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(
                sessions::table.filter(
                    sessions::expires_at
                        .lt(now.as_millis())
                        .or(sessions::last_seen_at.lt(idle_before.as_millis())),
                ),
            )
            .execute(conn)
            .store()
            .map(count)
        })
    }

    fn lock_account(&mut self, user: UserKey) -> StoreResult<()> {
        super::lock_user(self.conn, user).map(|_| ())
    }

    fn create_password_reset(
        &mut self,
        digest: &TokenDigest,
        user: UserKey,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.single(|conn| {
            diesel::insert_into(password_resets::table)
                .values((
                    password_resets::digest.eq(digest.as_bytes().as_slice()),
                    password_resets::user_key.eq(user.0),
                    password_resets::created_at.eq(created_at.as_millis()),
                    password_resets::expires_at.eq(expires_at.as_millis()),
                ))
                .execute(conn)
                .store_or_missing("user")
                .map(|_| ())
        })
    }

    fn password_reset_user(&mut self, digest: &TokenDigest, now: Timestamp) -> StoreResult<Option<UserKey>> {
        password_resets::table
            .filter(password_resets::digest.eq(digest.as_bytes().as_slice()))
            .filter(password_resets::expires_at.gt(now.as_millis()))
            .select(password_resets::user_key)
            .first::<i64>(self.conn)
            .optional()
            .store()
            .map(|user| user.map(UserKey))
    }

    fn take_password_reset(&mut self, digest: &TokenDigest, now: Timestamp) -> StoreResult<Option<UserKey>> {
        let user: Option<i64> = self.single(|conn| {
            let mine = password_resets::table
                .filter(password_resets::digest.eq(digest.as_bytes().as_slice()))
                .filter(password_resets::expires_at.gt(now.as_millis()));
            per_backend!(&mut *conn, |c| diesel::delete(mine)
                .returning(password_resets::user_key)
                .get_result(c)
                .optional())
            .store()
        })?;
        Ok(user.map(UserKey))
    }

    fn delete_password_resets(&mut self, user: UserKey) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(password_resets::table.filter(password_resets::user_key.eq(user.0)))
                .execute(conn)
                .store()
                .map(count)
        })
    }

    fn purge_password_resets(&mut self, now: Timestamp) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(password_resets::table.filter(password_resets::expires_at.lt(now.as_millis())))
                .execute(conn)
                .store()
                .map(count)
        })
    }

    fn put_email_change(
        &mut self,
        user: UserKey,
        digest: &TokenDigest,
        change: &PendingEmailChange,
    ) -> StoreResult<()> {
        self.single(|conn| {
            diesel::delete(email_changes::table.filter(email_changes::user_key.eq(user.0)))
                .execute(conn)
                .store()?;
            diesel::insert_into(email_changes::table)
                .values((
                    email_changes::user_key.eq(user.0),
                    email_changes::digest.eq(digest.as_bytes().as_slice()),
                    email_changes::email.eq(change.email.as_str()),
                    email_changes::created_at.eq(change.created_at.as_millis()),
                    email_changes::expires_at.eq(change.expires_at.as_millis()),
                ))
                .execute(conn)
                .store_or_missing("user")
                .map(|_| ())
        })
    }

    fn email_change(&mut self, user: UserKey, now: Timestamp) -> StoreResult<Option<PendingEmailChange>> {
        let row: Option<(String, i64, i64)> = email_changes::table
            .filter(email_changes::user_key.eq(user.0))
            .filter(email_changes::expires_at.gt(now.as_millis()))
            .select((
                email_changes::email,
                email_changes::created_at,
                email_changes::expires_at,
            ))
            .first(self.conn)
            .optional()
            .store()?;
        row.map(|(email, created_at, expires_at)| {
            Ok(PendingEmailChange {
                email: stored_email(user, email)?,
                created_at: Timestamp::from_millis(created_at),
                expires_at: Timestamp::from_millis(expires_at),
            })
        })
        .transpose()
    }

    fn email_change_link(
        &mut self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> StoreResult<Option<(UserKey, EmailAddress)>> {
        let row: Option<(i64, String)> = email_changes::table
            .filter(email_changes::digest.eq(digest.as_bytes().as_slice()))
            .filter(email_changes::expires_at.gt(now.as_millis()))
            .select((email_changes::user_key, email_changes::email))
            .first(self.conn)
            .optional()
            .store()?;
        row.map(|(user, email)| Ok((UserKey(user), stored_email(UserKey(user), email)?)))
            .transpose()
    }

    fn take_email_change(
        &mut self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> StoreResult<Option<(UserKey, EmailAddress)>> {
        let row: Option<(i64, String)> = self.single(|conn| {
            let mine = email_changes::table
                .filter(email_changes::digest.eq(digest.as_bytes().as_slice()))
                .filter(email_changes::expires_at.gt(now.as_millis()));
            per_backend!(&mut *conn, |c| diesel::delete(mine)
                .returning((email_changes::user_key, email_changes::email))
                .get_result(c)
                .optional())
            .store()
        })?;
        row.map(|(user, email)| Ok((UserKey(user), stored_email(UserKey(user), email)?)))
            .transpose()
    }

    fn delete_email_change(&mut self, user: UserKey) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(email_changes::table.filter(email_changes::user_key.eq(user.0)))
                .execute(conn)
                .store()
                .map(|n| n > 0)
        })
    }

    fn purge_email_changes(&mut self, now: Timestamp) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(email_changes::table.filter(email_changes::expires_at.lt(now.as_millis())))
                .execute(conn)
                .store()
                .map(count)
        })
    }

    fn demand_password_change(&mut self, user: UserKey, at: Timestamp) -> StoreResult<()> {
        self.single(|conn| {
            per_backend!(&mut *conn, |c| diesel::insert_into(password_change_demands::table)
                .values((
                    password_change_demands::user_key.eq(user.0),
                    password_change_demands::demanded_at.eq(at.as_millis()),
                ))
                .on_conflict(password_change_demands::user_key)
                .do_nothing()
                .execute(c))
            .store_or_missing("user")
            .map(|_| ())
        })
    }

    fn password_change_demanded(&mut self, user: UserKey) -> StoreResult<bool> {
        // On every Basic request: on the backend's own connection, prepared once.
        per_backend!(&mut *self.conn, |c| diesel::select(diesel::dsl::exists(
            password_change_demands::table.filter(password_change_demands::user_key.eq(user.0)),
        ))
        .get_result(c))
        .store()
    }

    fn settle_password_change(&mut self, user: UserKey) -> StoreResult<bool> {
        let settled = self.single(|conn| {
            diesel::delete(password_change_demands::table.filter(password_change_demands::user_key.eq(user.0)))
                .execute(conn)
                .store()
        })?;
        self.single(|conn| {
            diesel::update(
                sessions::table
                    .filter(sessions::user_key.eq(user.0))
                    .filter(sessions::password_change_only),
            )
            .set(sessions::password_change_only.eq(false))
            .execute(conn)
            .store()
        })?;
        Ok(settled > 0)
    }
}

/// A pending change's address as stored (checked when it was asked; read back leniently).
fn stored_email(user: UserKey, email: String) -> StoreResult<EmailAddress> {
    EmailAddress::from_stored("emailAddress", email).map_err(|e| corrupt("email_changes", user.0, e))
}
