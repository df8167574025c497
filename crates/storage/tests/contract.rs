//! The storage contract: one set of cases, run against SQLite (a temp file per test) and
//! PostgreSQL (a schema per test), plus the backend-specific checks: 32 concurrent writers on
//! SQLite, durability across SIGKILL, and two pools sharing one PostgreSQL schema.
//!
//! A last check runs every case on SQLite again while recording each statement, and asks SQLite's
//! planner whether any of them scans a table (`query_plans`).
//!
//! Test names say their backend (`sqlite::…`, `postgres::…`). PostgreSQL tests print
//! `skipping postgres: <reason>` and pass when the server can't be reached, except under
//! `CI=true`, where they fail.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "contract/cases.rs"]
mod cases;
#[path = "contract/concurrency.rs"]
mod concurrency;
#[path = "contract/durability.rs"]
mod durability;
#[path = "contract/fixtures.rs"]
mod fixtures;
#[path = "contract/query_plans.rs"]
mod query_plans;

use accountd_storage::testing::TestDatabase;

/// Runs each case of [`cases`] as `sqlite::<case>` and `postgres::<case>`.
macro_rules! contract_tests {
    ($($case:ident),* $(,)?) => {
        /// Every case, for checks that run them all (query plans).
        const ALL_CASES: &[(&str, fn(&TestDatabase))] = &[$((stringify!($case), cases::$case)),*];

        mod sqlite {
            use super::*;
            $(
                #[test]
                fn $case() {
                    let db = TestDatabase::sqlite();
                    cases::$case(&db);
                }
            )*
        }

        mod postgres {
            use super::*;
            $(
                #[test]
                fn $case() {
                    let Some(db) = TestDatabase::postgres_or_skip() else { return };
                    cases::$case(&db);
                }
            )*
        }
    };
}

contract_tests!(
    tenants_and_groups,
    departments_have_paths,
    licenses_replace_in_order,
    secondary_groups_replace_sorted,
    users_by_key_uuid_username_and_path,
    every_role_round_trips,
    create_user_conflicts_name_the_field,
    create_user_references_must_exist,
    user_departments_resolve_within_the_user_tree,
    list_group_users_pages_by_key,
    update_profile_sets_clears_and_versions,
    update_profile_checks_expected_version,
    update_account_changes_status,
    passwords_and_history,
    pins_history_and_failures,
    devices_and_endpoints,
    line_ports_are_unique,
    delete_with_devices_unlinks_other_users,
    delete_without_devices_keeps_devices,
    delete_keeps_trunk_devices,
    delete_keeps_excluded_app_data,
    delete_missing_or_stale,
    delete_cascades_credentials_sessions_and_tokens,
    app_data_per_group_member,
    sessions_lifecycle,
    api_tokens_lifecycle,
    throttle_windows,
    user_claims_exclude_and_expire,
    user_claims_race_has_one_winner,
    outbox_leases_in_order_retries_and_records_divergences,
    outbox_leases_are_disjoint,
    second_factors_are_used_once_and_go_with_the_user,
    passkeys_move_forward_and_ceremonies_are_taken_once,
    password_change_demands_hold_sessions_until_settled,
    password_reset_links_are_taken_once_before_expiry,
    email_changes_wait_one_per_user_and_are_taken_once,
    audit_newest_first,
    audit_purge_deletes_only_the_old_oldest_first_in_batches,
    write_rolls_back_on_err,
    failed_statement_keeps_write_usable,
    reads_may_write_single_statements,
    corrupt_rows_are_reported,
    tenant_delete_cascades,
    ping_reports_pending_migrations,
    pool_timeout_is_unavailable,
);
