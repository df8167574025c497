//! Seed 001's delete of a user: its lines, the devices it owns, its app data (the rules are in
//! `docs/storage.md`, "Deleting a user").

use super::lock_user;
use crate::connection::DbConn;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{app_data, devices, groups, tenants, user_endpoints, users};
use accountd_domain::endpoint::LineRef;
use accountd_domain::ids::{LinePort, UserId, UserKey};
use accountd_domain::level::GroupMember;
use accountd_domain::ports::{DeleteOptions, DeleteOutcome, StoreError, StoreResult};
use accountd_domain::user::Version;
use diesel::prelude::*;

/// A line of a user being deleted.
#[derive(Debug, Queryable)]
struct LineRow {
    device_key: i64,
    line_port: String,
    is_main: bool,
    kind: String,
}

/// Seed 001's delete; the rules are in `docs/storage.md` ("Deleting a user").
pub(super) fn delete_user(
    conn: &mut DbConn,
    member: &GroupMember,
    expected: Option<Version>,
    options: &DeleteOptions,
) -> StoreResult<DeleteOutcome> {
    let found: Option<(i64, i64, Option<i64>)> = users::table
        .inner_join(groups::table.on(users::group_key.eq(groups::key.nullable())))
        .inner_join(tenants::table.on(groups::tenant_key.eq(tenants::key)))
        .filter(tenants::tenant_id.eq(member.tenant.as_str()))
        .filter(groups::group_id.eq(member.group.as_str()))
        .filter(users::user_id.eq(member.user.as_str()))
        .select((users::key, users::version, users::group_key))
        .first(conn)
        .optional()
        .store()?;
    let Some((key, version, Some(group_key))) = found else {
        return Ok(DeleteOutcome::default());
    };
    if expected.is_some_and(|v| v.0 != version) {
        return Err(StoreError::VersionMismatch);
    }
    lock_user(conn, UserKey(key))?;

    let lines: Vec<LineRow> = user_endpoints::table
        .filter(user_endpoints::user_key.eq(key))
        .order(user_endpoints::key.asc())
        .select((
            user_endpoints::device_key,
            user_endpoints::line_port,
            user_endpoints::is_main,
            user_endpoints::kind,
        ))
        .load(conn)
        .store()?;
    let line_ref = |line_port: &str| -> StoreResult<LineRef> {
        Ok(LineRef {
            user_id: member.user.clone(),
            line_port: LinePort::parse(line_port).map_err(|e| corrupt("user_endpoint", key, e))?,
        })
    };
    let mut outcome = DeleteOutcome {
        existed: true,
        ..DeleteOutcome::default()
    };
    let main = lines.iter().find(|l| l.is_main);
    if let Some(main) = main {
        outcome.deleted_main_device = Some(line_ref(&main.line_port)?);
    }
    if options.delete_devices {
        // Owned: every access device the user has a line on. Trunk groups are shared
        // infrastructure and are never deleted with one of their users.
        let mut owned: Vec<i64> = lines
            .iter()
            .filter(|l| l.kind == "access")
            .map(|l| l.device_key)
            .collect();
        owned.sort_unstable();
        owned.dedup();
        if !owned.is_empty() {
            let others: Vec<(Option<String>, String)> = user_endpoints::table
                .inner_join(users::table.on(users::key.eq(user_endpoints::user_key)))
                .filter(user_endpoints::device_key.eq_any(&owned))
                .filter(user_endpoints::user_key.ne(key))
                .select((users::user_id, user_endpoints::line_port))
                .load(conn)
                .store()?;
            for (user_id, line_port) in others {
                let bad = |e: accountd_domain::InvalidValue| corrupt("user_endpoint", key, e);
                let user_id =
                    user_id.ok_or_else(|| corrupt("user_endpoint", key, "a line of a user without user id"))?;
                outcome.detached_additional_users.push(LineRef {
                    user_id: UserId::parse(user_id).map_err(bad)?,
                    line_port: LinePort::parse(line_port).map_err(bad)?,
                });
            }
            let main_device = main.filter(|m| m.kind == "access").map(|m| m.device_key);
            let mut reported = Vec::new();
            for line in lines.iter().filter(|l| !l.is_main && l.kind == "access") {
                if Some(line.device_key) != main_device && !reported.contains(&line.device_key) {
                    reported.push(line.device_key);
                    outcome.deleted_additional_devices.push(line_ref(&line.line_port)?);
                }
            }
            diesel::delete(devices::table.filter(devices::key.eq_any(&owned)))
                .execute(conn)
                .store()?;
        }
        outcome.detached_additional_users.sort();
        outcome.deleted_additional_devices.sort();
    }

    let excluded: Vec<&str> = options.excluded_app_ids.iter().map(|a| a.as_str()).collect();
    diesel::delete(
        app_data::table
            .filter(app_data::group_key.eq(group_key))
            .filter(app_data::user_id.eq(member.user.as_str()))
            .filter(app_data::app_id.ne_all(&excluded)),
    )
    .execute(conn)
    .store()?;
    // Passwords, PINs, histories, sessions, tokens, remaining lines and secondary groups go by
    // cascade.
    diesel::delete(users::table.find(key)).execute(conn).store()?;
    Ok(outcome)
}
