//! [`AppDataStore`]: end-user application data, one JSON document per (user, application).
//!
//! Rows are keyed by the user's place, `(group_key, user_id, app_id)`, not by the `users` row:
//! the data of applications excluded from a delete (seed 001 `_excludedAppIds`) outlives the
//! user and is there again for a user re-created at the same place; it goes with the group.

use super::{Repo, lock_user};
use crate::connection::per_backend;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{app_data, users};
use accountd_domain::ids::{AppId, UserKey};
use accountd_domain::ports::{AppDataStore, StoreError, StoreResult};
use accountd_domain::records::AppData;
use diesel::prelude::*;
use diesel::upsert::excluded;

impl AppDataStore for Repo<'_> {
    fn put_app_data(&mut self, user: UserKey, data: &AppData) -> StoreResult<()> {
        self.atomic(|conn| {
            let placement = lock_user(conn, user)?;
            // Only group members have app data (it is keyed by their place).
            let (Some(group_key), Some(user_id)) = (placement.group_key, placement.user_id) else {
                return Err(StoreError::NotFound("user"));
            };
            per_backend!(&mut *conn, |c| diesel::insert_into(app_data::table)
                .values((
                    app_data::group_key.eq(group_key),
                    app_data::user_id.eq(user_id.as_str()),
                    app_data::app_id.eq(data.app.as_str()),
                    app_data::data.eq(data.data.as_str()),
                ))
                .on_conflict((app_data::group_key, app_data::user_id, app_data::app_id))
                .do_update()
                .set(app_data::data.eq(excluded(app_data::data)))
                .execute(c))
            .store_or_missing("user")
            .map(|_| ())
        })
    }

    fn app_data(&mut self, user: UserKey) -> StoreResult<Vec<AppData>> {
        let rows: Vec<(String, String)> = app_data::table
            .inner_join(
                users::table.on(users::group_key
                    .eq(app_data::group_key.nullable())
                    .and(users::user_id.eq(app_data::user_id.nullable()))),
            )
            .filter(users::key.eq(user.0))
            .order(app_data::app_id.asc())
            .select((app_data::app_id, app_data::data))
            .load(self.conn)
            .store()?;
        rows.into_iter()
            .map(|(app, data)| {
                Ok(AppData {
                    app: AppId::parse(app).map_err(|e| corrupt("app_data", user, e))?,
                    data,
                })
            })
            .collect()
    }
}
