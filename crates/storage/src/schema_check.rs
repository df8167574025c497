//! Schema checks, run by `cargo test` on a freshly migrated database of each backend (after
//! crates.io's `schema_details.rs`):
//!
//! - `schema.rs` matches the migrations: same tables, and per table the same columns in the same
//!   order with the same type and nullability. The declared side comes from the `table!`
//!   definitions themselves (`Table::AllColumns`), so no list is kept by hand.
//! - The foreign keys are exactly the documented ones (`docs/storage.md`, "Cascades"), and every
//!   foreign key to `users`, `tenants`, `groups` and `devices` cascades.
//! - Every foreign-key column leads an index (cascades and joins never scan).
//! - Every unique index has a field name for `StoreError::Conflict` in [`UNIQUE_CONSTRAINTS`].
//! - Every pooled SQLite connection has the pragmas set.

use crate::Database;
use crate::connection::DbConn;
use crate::error::{FOREIGN_KEYS, UNIQUE_CONSTRAINTS};
use crate::schema::*;
use crate::testing::TestDatabase;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Bool, Integer, Nullable, Text};
use std::collections::{BTreeMap, BTreeSet};

/// The diesel type of a column, as a name.
trait TypeName {
    const NAME: &'static str;
    const NULLABLE: bool = false;
}

impl TypeName for BigInt {
    const NAME: &'static str = "BigInt";
}
impl TypeName for Integer {
    const NAME: &'static str = "Integer";
}
impl TypeName for Text {
    const NAME: &'static str = "Text";
}
impl TypeName for Bool {
    const NAME: &'static str = "Bool";
}
impl TypeName for Binary {
    const NAME: &'static str = "Binary";
}
impl<T: TypeName> TypeName for Nullable<T> {
    const NAME: &'static str = T::NAME;
    const NULLABLE: bool = true;
}

/// `(name, type, nullable)` of a column.
type ColumnInfo = (String, &'static str, bool);

/// The columns of a `table!`'s `AllColumns` tuple.
trait ColumnList {
    fn describe(out: &mut Vec<ColumnInfo>);
}

macro_rules! column_list {
    ($($c:ident),+) => {
        impl<$($c),+> ColumnList for ($($c,)+)
        where
            $($c: diesel::Column, <$c as diesel::Expression>::SqlType: TypeName,)+
        {
            fn describe(out: &mut Vec<ColumnInfo>) {
                $(out.push((
                    <$c as diesel::Column>::NAME.to_owned(),
                    <<$c as diesel::Expression>::SqlType as TypeName>::NAME,
                    <<$c as diesel::Expression>::SqlType as TypeName>::NULLABLE,
                ));)+
            }
        }
    };
}

macro_rules! column_lists {
    ($head:ident) => { column_list!($head); };
    ($head:ident, $($tail:ident),+) => {
        column_list!($head, $($tail),+);
        column_lists!($($tail),+);
    };
}

column_lists!(
    C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17, C18, C19, C20, C21, C22, C23, C24, C25,
    C26, C27, C28, C29, C30, C31, C32
);

fn columns_of<T>() -> Vec<ColumnInfo>
where
    T: diesel::Table,
    T::AllColumns: ColumnList,
{
    let mut out = Vec::new();
    T::AllColumns::describe(&mut out);
    out
}

/// Every table of `schema.rs`, with its declared columns.
fn declared() -> BTreeMap<String, Vec<ColumnInfo>> {
    [
        ("tenants", columns_of::<tenants::table>()),
        ("groups", columns_of::<groups::table>()),
        ("departments", columns_of::<departments::table>()),
        ("users", columns_of::<users::table>()),
        ("passwords", columns_of::<passwords::table>()),
        ("password_history", columns_of::<password_history::table>()),
        ("pincodes", columns_of::<pincodes::table>()),
        ("pin_history", columns_of::<pin_history::table>()),
        ("devices", columns_of::<devices::table>()),
        ("user_endpoints", columns_of::<user_endpoints::table>()),
        ("app_data", columns_of::<app_data::table>()),
        ("sessions", columns_of::<sessions::table>()),
        ("api_tokens", columns_of::<api_tokens::table>()),
        ("throttle", columns_of::<throttle::table>()),
        ("audit_events", columns_of::<audit_events::table>()),
        ("tenant_licenses", columns_of::<tenant_licenses::table>()),
        ("user_secondary_groups", columns_of::<user_secondary_groups::table>()),
        ("user_claims", columns_of::<user_claims::table>()),
        ("outbox", columns_of::<outbox::table>()),
        ("divergences", columns_of::<divergences::table>()),
        ("totp_factors", columns_of::<totp_factors::table>()),
        ("recovery_codes", columns_of::<recovery_codes::table>()),
        ("login_challenges", columns_of::<login_challenges::table>()),
        ("passkeys", columns_of::<passkeys::table>()),
        ("webauthn_ceremonies", columns_of::<webauthn_ceremonies::table>()),
        (
            "password_change_demands",
            columns_of::<password_change_demands::table>(),
        ),
        ("password_resets", columns_of::<password_resets::table>()),
        ("email_changes", columns_of::<email_changes::table>()),
    ]
    .into_iter()
    .map(|(t, c)| (t.to_owned(), c))
    .collect()
}

/// The foreign keys as `docs/storage.md` lists them: `(table, column, referenced table, on delete)`.
const EXPECTED_FOREIGN_KEYS: &[(&str, &str, &str, &str)] = &[
    ("api_tokens", "user_key", "users", "CASCADE"),
    ("app_data", "group_key", "groups", "CASCADE"),
    ("departments", "group_key", "groups", "CASCADE"),
    ("departments", "parent_key", "departments", "CASCADE"),
    ("departments", "tenant_key", "tenants", "CASCADE"),
    ("devices", "group_key", "groups", "CASCADE"),
    ("devices", "tenant_key", "tenants", "CASCADE"),
    ("email_changes", "user_key", "users", "CASCADE"),
    ("groups", "tenant_key", "tenants", "CASCADE"),
    ("login_challenges", "user_key", "users", "CASCADE"),
    ("passkeys", "user_key", "users", "CASCADE"),
    ("password_change_demands", "user_key", "users", "CASCADE"),
    ("password_history", "user_key", "users", "CASCADE"),
    ("password_resets", "user_key", "users", "CASCADE"),
    ("passwords", "user_key", "users", "CASCADE"),
    ("pin_history", "user_key", "users", "CASCADE"),
    ("pincodes", "user_key", "users", "CASCADE"),
    ("recovery_codes", "user_key", "users", "CASCADE"),
    ("sessions", "user_key", "users", "CASCADE"),
    ("tenant_licenses", "tenant_key", "tenants", "CASCADE"),
    ("totp_factors", "user_key", "users", "CASCADE"),
    ("user_endpoints", "device_key", "devices", "CASCADE"),
    ("user_endpoints", "user_key", "users", "CASCADE"),
    ("user_secondary_groups", "group_key", "groups", "CASCADE"),
    ("user_secondary_groups", "user_key", "users", "CASCADE"),
    ("users", "admin_department_key", "departments", "NO ACTION"),
    ("users", "department_key", "departments", "SET NULL"),
    ("users", "group_key", "groups", "CASCADE"),
    ("users", "tenant_key", "tenants", "CASCADE"),
    ("webauthn_ceremonies", "user_key", "users", "CASCADE"),
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    table: String,
    column: String,
    references: String,
    on_delete: String,
    /// PostgreSQL's constraint name (SQLite has none).
    name: Option<String>,
}

#[derive(Debug, Clone)]
struct Index {
    table: String,
    name: String,
    columns: Vec<String>,
    unique: bool,
}

/// What a migrated database holds.
#[derive(Debug, Default)]
struct Live {
    columns: BTreeMap<String, Vec<ColumnInfo>>,
    foreign_keys: Vec<ForeignKey>,
    indexes: Vec<Index>,
    /// Tables whose key is an identity/rowid column (never a conflict).
    identity_keys: BTreeSet<(String, String)>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn sqlite_type(declared: &str, rowid: bool) -> &'static str {
    match declared {
        "INTEGER" if rowid => "BigInt",
        "INTEGER" => "Integer",
        "BIGINT" => "BigInt",
        "TEXT" => "Text",
        "BOOLEAN" => "Bool",
        "BLOB" => "Binary",
        _ => "unknown",
    }
}

fn introspect_sqlite(c: &mut SqliteConnection) -> Live {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        r#type: String,
        #[diesel(sql_type = Integer)]
        notnull: i32,
        #[diesel(sql_type = Integer)]
        pk: i32,
    }
    #[derive(QueryableByName)]
    struct Fk {
        #[diesel(sql_type = Text)]
        from: String,
        #[diesel(sql_type = Text)]
        table: String,
        #[diesel(sql_type = Text)]
        on_delete: String,
    }
    #[derive(QueryableByName)]
    struct IndexRow {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Integer)]
        unique: i32,
    }
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load(c)
    .unwrap();
    let mut live = Live::default();
    for Name { name: table } in tables {
        let columns: Vec<Column> =
            diesel::sql_query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid")
                .bind::<Text, _>(&table)
                .load(c)
                .unwrap();
        let pk_count = columns.iter().filter(|col| col.pk > 0).count();
        let mut infos = Vec::new();
        for col in columns {
            let rowid = col.pk > 0 && pk_count == 1 && col.r#type == "INTEGER";
            if rowid {
                live.identity_keys.insert((table.clone(), col.name.clone()));
            }
            infos.push((col.name, sqlite_type(&col.r#type, rowid), col.notnull == 0 && !rowid));
        }
        live.columns.insert(table.clone(), infos);
        let fks: Vec<Fk> = diesel::sql_query("SELECT \"from\", \"table\", on_delete FROM pragma_foreign_key_list(?)")
            .bind::<Text, _>(&table)
            .load(c)
            .unwrap();
        live.foreign_keys.extend(fks.into_iter().map(|fk| ForeignKey {
            table: table.clone(),
            column: fk.from,
            references: fk.table,
            on_delete: fk.on_delete,
            name: None,
        }));
        let indexes: Vec<IndexRow> = diesel::sql_query("SELECT name, \"unique\" FROM pragma_index_list(?)")
            .bind::<Text, _>(&table)
            .load(c)
            .unwrap();
        for index in indexes {
            let columns: Vec<Name> = diesel::sql_query("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                .bind::<Text, _>(&index.name)
                .load(c)
                .unwrap();
            live.indexes.push(Index {
                table: table.clone(),
                name: index.name,
                columns: columns.into_iter().map(|n| n.name).collect(),
                unique: index.unique != 0,
            });
        }
    }
    live
}

fn postgres_type(data_type: &str) -> &'static str {
    match data_type {
        "bigint" => "BigInt",
        "integer" => "Integer",
        "text" => "Text",
        "boolean" => "Bool",
        "bytea" => "Binary",
        _ => "unknown",
    }
}

fn introspect_postgres(c: &mut PgConnection) -> Live {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Text)]
        data_type: String,
        #[diesel(sql_type = Text)]
        is_nullable: String,
        #[diesel(sql_type = Text)]
        is_identity: String,
    }
    #[derive(QueryableByName)]
    struct Fk {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Text)]
        references: String,
        #[diesel(sql_type = Text)]
        on_delete: String,
        #[diesel(sql_type = Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct IndexRow {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        index_name: String,
        #[diesel(sql_type = Text)]
        columns: String,
        #[diesel(sql_type = Bool)]
        is_unique: bool,
    }
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, is_identity::text \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations' \
         ORDER BY table_name, ordinal_position",
    )
    .load(c)
    .unwrap();
    let mut live = Live::default();
    for col in columns {
        if col.is_identity == "YES" {
            live.identity_keys
                .insert((col.table_name.clone(), col.column_name.clone()));
        }
        live.columns.entry(col.table_name).or_default().push((
            col.column_name,
            postgres_type(&col.data_type),
            col.is_nullable == "YES",
        ));
    }
    let fks: Vec<Fk> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, a.attname::text AS column_name, r.relname::text AS references, \
           CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'a' THEN 'NO ACTION' \
             WHEN 'r' THEN 'RESTRICT' ELSE 'SET DEFAULT' END AS on_delete, \
           c.conname::text AS name \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace",
    )
    .load(c)
    .unwrap();
    live.foreign_keys = fks
        .into_iter()
        .map(|fk| ForeignKey {
            table: fk.table_name,
            column: fk.column_name,
            references: fk.references,
            on_delete: fk.on_delete,
            name: Some(fk.name),
        })
        .collect();
    let indexes: Vec<IndexRow> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, \
           (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
              FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n) \
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns, \
           ix.indisunique AS is_unique \
         FROM pg_index ix \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_class i ON i.oid = ix.indexrelid \
         WHERE t.relnamespace = current_schema()::regnamespace AND t.relname <> '__diesel_schema_migrations'",
    )
    .load(c)
    .unwrap();
    live.indexes = indexes
        .into_iter()
        .map(|ix| Index {
            table: ix.table_name,
            name: ix.index_name,
            columns: ix.columns.split(',').map(str::to_owned).collect(),
            unique: ix.is_unique,
        })
        .collect();
    live
}

fn introspect(db: &Database) -> Live {
    let mut conn = db.connection().unwrap();
    match &mut *conn {
        DbConn::Sqlite(c) => introspect_sqlite(c),
        DbConn::Postgres(c) => introspect_postgres(c),
    }
}

fn schema_matches_migrations(db: &Database) {
    let live = introspect(db);
    let declared = declared();
    assert_eq!(
        live.columns.keys().collect::<Vec<_>>(),
        declared.keys().collect::<Vec<_>>(),
        "tables of the migrations vs schema.rs"
    );
    for (table, columns) in &declared {
        assert_eq!(
            &live.columns[table], columns,
            "columns of {table}: migrations (left) vs schema.rs (right)"
        );
    }
}

fn foreign_keys_follow_the_rules(db: &Database) {
    let live = introspect(db);
    let mut actual: Vec<(&str, &str, &str, &str)> = live
        .foreign_keys
        .iter()
        .map(|fk| {
            (
                fk.table.as_str(),
                fk.column.as_str(),
                fk.references.as_str(),
                fk.on_delete.as_str(),
            )
        })
        .collect();
    actual.sort_unstable();
    assert_eq!(actual, EXPECTED_FOREIGN_KEYS, "foreign keys vs docs/storage.md");
    for fk in &live.foreign_keys {
        if ["users", "tenants", "groups", "devices"].contains(&fk.references.as_str()) {
            assert_eq!(fk.on_delete, "CASCADE", "{}.{} must cascade", fk.table, fk.column);
        }
        // Each foreign-key column leads an index.
        assert!(
            live.indexes
                .iter()
                .any(|ix| ix.table == fk.table && ix.columns.first() == Some(&fk.column)),
            "{}.{} references {} but no index starts with it",
            fk.table,
            fk.column,
            fk.references
        );
        // PostgreSQL names the failed key: each (but the ones to users, which every method names
        // itself) is known.
        if let Some(name) = &fk.name
            && fk.references != "users"
        {
            assert!(
                FOREIGN_KEYS.iter().any(|(n, _)| n == name),
                "foreign key {name} has no NotFound name"
            );
        }
    }
}

fn unique_indexes_name_their_field(db: &Database, backend: crate::Backend) {
    let live = introspect(db);
    for ix in live.indexes.iter().filter(|ix| ix.unique) {
        if ix.columns.len() == 1 && live.identity_keys.contains(&(ix.table.clone(), ix.columns[0].clone())) {
            continue; // a generated key never conflicts
        }
        let known = match backend {
            crate::Backend::Postgres => UNIQUE_CONSTRAINTS.iter().any(|(pg, _, _)| *pg == ix.name),
            crate::Backend::Sqlite => {
                let message: Vec<String> = ix.columns.iter().map(|c| format!("{}.{c}", ix.table)).collect();
                let message = message.join(", ");
                UNIQUE_CONSTRAINTS.iter().any(|(_, sqlite, _)| *sqlite == message)
            }
        };
        assert!(
            known,
            "unique index {} on {}({:?}) has no Conflict field",
            ix.name, ix.table, ix.columns
        );
    }
}

#[test]
fn sqlite_schema_matches_migrations() {
    schema_matches_migrations(&TestDatabase::sqlite());
}

#[test]
fn postgres_schema_matches_migrations() {
    let Some(db) = TestDatabase::postgres_or_skip() else {
        return;
    };
    schema_matches_migrations(&db);
}

#[test]
fn sqlite_foreign_keys_cascade_as_documented_and_are_indexed() {
    foreign_keys_follow_the_rules(&TestDatabase::sqlite());
}

#[test]
fn postgres_foreign_keys_cascade_as_documented_and_are_indexed() {
    let Some(db) = TestDatabase::postgres_or_skip() else {
        return;
    };
    foreign_keys_follow_the_rules(&db);
}

#[test]
fn sqlite_unique_indexes_name_their_conflict_field() {
    unique_indexes_name_their_field(&TestDatabase::sqlite(), crate::Backend::Sqlite);
}

#[test]
fn postgres_unique_indexes_name_their_conflict_field() {
    let Some(db) = TestDatabase::postgres_or_skip() else {
        return;
    };
    unique_indexes_name_their_field(&db, crate::Backend::Postgres);
}

#[test]
fn sqlite_pragmas_are_set_on_every_pooled_connection() {
    #[derive(QueryableByName)]
    struct Pragmas {
        #[diesel(sql_type = Text)]
        journal_mode: String,
        #[diesel(sql_type = BigInt)]
        foreign_keys: i64,
        #[diesel(sql_type = BigInt)]
        synchronous: i64,
        #[diesel(sql_type = BigInt)]
        timeout: i64,
    }
    let opts = crate::PoolOptions {
        max_size: 3,
        sqlite_busy_timeout: std::time::Duration::from_millis(4321),
        ..crate::PoolOptions::default()
    };
    let db = TestDatabase::sqlite_with(&opts);
    // Hold every connection at once, so each is a different one.
    let mut held: Vec<_> = (0..3).map(|_| db.connection().unwrap()).collect();
    for conn in &mut held {
        let DbConn::Sqlite(c) = &mut **conn else {
            panic!("a SQLite database")
        };
        let p: Pragmas = diesel::sql_query(
            "SELECT (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, \
             (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys, \
             (SELECT synchronous FROM pragma_synchronous) AS synchronous, \
             (SELECT timeout FROM pragma_busy_timeout) AS timeout",
        )
        .get_result(c)
        .unwrap();
        assert_eq!(
            (p.journal_mode.as_str(), p.foreign_keys, p.synchronous, p.timeout),
            ("wal", 1, 2, 4321)
        );
    }
}
