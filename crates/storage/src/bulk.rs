//! The benchmarks' bulk copy of a user on PostgreSQL ([`Store::bulk_copy_user`], SQLite's is in
//! `database`): one `INSERT … SELECT` over `generate_series` per 100,000 users, the copies' password
//! rows written by the same statement (a data-modifying `WITH … RETURNING`), so each batch is
//! atomic. Only the username, user id, UUID and group differ from the template, to names the
//! caller has proved valid and plain (ASCII letters, digits and `-`) before.
//!
//! [`Store::bulk_copy_user`]: accountd_domain::ports::Store::bulk_copy_user

use crate::Database;
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{BulkCopy, StoreError};

/// Users per statement.
const BATCH: u64 = 100_000;

/// Copies user `template` to the generated users of `copy`, a batch per statement.
pub(crate) fn copy_users_postgres(db: &Database, template: UserKey, copy: &BulkCopy) -> Result<(), StoreError> {
    let mut next = copy.first;
    while next <= copy.last {
        let last = (next + BATCH - 1).min(copy.last);
        db.execute_raw(&copy_sql(template.0, next, last, copy))?;
        next = last + 1;
    }
    Ok(())
}

/// One statement copying user `template` (its row and its password) to generated users
/// `first..=last`: the same names, UUIDs and groups as SQLite's copy (`printf('%07d')` is
/// `lpad(x::text, 7, '0')` below 10⁷, `%012x` is `lpad(to_hex(x), 12, '0')`).
fn copy_sql(template: i64, first: u64, last: u64, copy: &BulkCopy) -> String {
    let BulkCopy {
        prefix,
        group_prefix,
        per_group,
        ..
    } = copy;
    format!(
        "WITH copies AS (
             INSERT INTO users (uuid, username, level, tenant_key, group_key, user_id, admin_department_key,
                 department_key, first_name, last_name, cli_first_name, cli_last_name, phone_number, extension,
                 cli_phone_number, language, email, network_class_of_service, time_zone, mobile, description,
                 image, enabled, state, account_type, created_at, updated_at, version)
             SELECT 'b3c00000-0000-4000-8000-' || lpad(to_hex(s.x), 12, '0'), '{prefix}' || lpad(s.x::text, 7, '0'),
                 t.level, t.tenant_key, g.key, '{prefix}' || lpad(s.x::text, 7, '0'), t.admin_department_key,
                 t.department_key, t.first_name, t.last_name, t.cli_first_name, t.cli_last_name, t.phone_number,
                 t.extension, t.cli_phone_number, t.language, t.email, t.network_class_of_service, t.time_zone,
                 t.mobile, t.description, t.image, t.enabled, t.state, t.account_type, t.created_at, t.updated_at,
                 t.version
             FROM generate_series({first}::bigint, {last}::bigint) AS s(x)
             JOIN users t ON t.key = {template}
             JOIN groups g ON g.tenant_key = t.tenant_key
                 AND g.group_id = '{group_prefix}' || lpad(((s.x - 1) / {per_group})::text, 4, '0')
             RETURNING key
         )
         INSERT INTO passwords (user_key, hash, changed_at, first_login)
         SELECT c.key, p.hash, p.changed_at, p.first_login
         FROM copies c JOIN passwords p ON p.user_key = {template}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_names_the_batch_and_the_template() {
        let copy = BulkCopy {
            first: 2,
            last: 1_000,
            prefix: "bench-",
            group_prefix: "BenchGroup",
            per_group: 1_000,
        };
        let sql = copy_sql(7, 2, 1_000, &copy);
        assert!(sql.contains("generate_series(2::bigint, 1000::bigint)"), "{sql}");
        assert!(sql.contains("JOIN users t ON t.key = 7"), "{sql}");
        assert!(sql.contains("p.user_key = 7"), "{sql}");
        assert!(
            sql.contains("'BenchGroup' || lpad(((s.x - 1) / 1000)::text, 4, '0')"),
            "{sql}"
        );
    }
}
