//! `accountd import`/`export` as a library over a real database: idempotence, bad records by place
//! with the good ones kept (and a bad record leaving nothing behind), parents before children,
//! round trips, and 10,000 users in batches.

use crate::helpers::keyed_config;
use accountd::import::{self, Format};
use accountd::startup;
use accountd_domain::ids::Username;
use accountd_domain::ports::{PageRequest, Store};
use accountd_service::Services;
use accountd_service::import::{ImportReport, Kind, Located, Silent};
use accountd_storage::Database;
use accountd_storage::testing::TestDatabase;
use std::io::Write;
use std::path::{Path, PathBuf};

fn services(db: &TestDatabase) -> Services<Database> {
    startup::services(&keyed_config(), db.database().clone()).unwrap()
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/examples")
        .join(name)
}

fn import_file(services: &Services<Database>, path: &Path) -> ImportReport {
    let rows = import::read_file(path, Format::of(path, None).unwrap()).unwrap();
    services.import(rows, &Silent).unwrap()
}

fn import_text(services: &Services<Database>, name: &str, text: &str) -> ImportReport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    import_file(services, &path)
}

fn exists(db: &TestDatabase, username: &str) -> bool {
    db.database()
        .read(|repo| repo.user_by_username(&Username::parse(username).unwrap()))
        .unwrap()
        .is_some()
}

#[test]
fn the_examples_import_once_and_then_are_unchanged() {
    let db = TestDatabase::sqlite();
    let services = services(&db);
    for example in ["import.csv", "import.json"] {
        let first = import_file(&services, &self::example(example));
        assert!(first.failed.is_empty(), "{example}: {:?}", first.failed);
        let again = import_file(&services, &self::example(example));
        assert_eq!(again.created_total(), 0, "{example}: {again:?}");
        assert_eq!(again.unchanged_total(), first.created_total() + first.unchanged_total());
        assert!(again.failed.is_empty());
    }
    // What the CSV example made, as its docs say.
    let ed = db
        .database()
        .read(|repo| {
            let ed = repo
                .user_by_username(&Username::parse("ed@globex.example").unwrap())?
                .unwrap();
            let endpoint = repo.endpoint(ed.key)?;
            let password = repo.password(ed.key)?;
            Ok::<_, accountd_domain::ports::StoreError>((ed, endpoint, password))
        })
        .unwrap();
    let department = ed.0.profile.department.unwrap();
    assert_eq!(department.full_path_name(), "Field \\ North");
    assert_eq!(ed.1.unwrap().line_port().as_str(), "ed@sip.globex.example");
    let password = ed.2.unwrap();
    assert!(
        password.hash.as_str().starts_with("$argon2id$"),
        "a plaintext password is hashed"
    );
    assert!(password.first_login, "and is to be changed at first login");
}

#[test]
fn bad_records_are_reported_by_line_and_the_good_ones_kept() {
    let db = TestDatabase::sqlite();
    let services = services(&db);
    let hash = "pbkdf2_sha256$1000$seasalt2024abcd$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=";
    let csv = format!(
        "kind,tenant,group,name,parent,username,level,first_name,last_name,email,password_hash,device,line_port\n\
         tenant,T,,,,,,,,,,,\n\
         group,T,G,,,,,,,,,,\n\
         group,Missing,G,,,,,,,,,,\n\
         department,T,G,Child,Orphan's parent,,,,,,,,\n\
         device,T,G,Phone,,,,,,,,,\n\
         user,T,G,,,u1,0,One,User,,{hash},Phone,line-1@sip.example\n\
         user,T,G,,,u2,0,Two,User,,{hash},Phone,line-1@sip.example\n\
         user,T,G,,,u3,0,Three,User,not-an-email,{hash},,\n\
         user,T,G,,,u1,0,One,Again,,{hash},,\n\
         user,T,,,,u5,0,Five,User,,{hash},,\n\
         user,T,G,,,u6,0,Six,User,,not-a-hash,,\n\
         banana,T,,,,,,,,,,,\n\
         user,T,G,,,u7,0,Seven,User,,{hash},,\n"
    );
    let report = import_text(&services, "bad.csv", &csv);
    let failures: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
    let expect = [
        "line 4: group: no such tenant",
        "line 5: department: no such parent department",
        "line 8: user: linePort is already taken",
        "line 9: user: email",
        "line 10: user: the username is given twice",
        "line 11: user: group is required for this level",
        "line 12: user: password_hash:",
        "line 13: kind must be one of",
    ];
    assert_eq!(failures.len(), expect.len(), "{failures:#?}");
    for (failure, expected) in failures.iter().zip(expect) {
        assert!(failure.starts_with(expected), "{failure} / {expected}");
    }
    assert!(
        !failures.iter().any(|f| f.contains("not-a-hash")),
        "a hash is never echoed"
    );
    assert_eq!(report.created.get(&Kind::User), Some(&2), "u1 and u7");
    assert!(exists(&db, "u1") && exists(&db, "u7"));
    // u2 failed on its line port after its user row was written: nothing of it is left.
    assert!(!exists(&db, "u2"), "a failed record leaves nothing behind");
    assert!(!exists(&db, "u3"));
}

#[test]
fn departments_are_created_parents_first_whatever_the_order() {
    let db = TestDatabase::sqlite();
    let services = services(&db);
    let report = import_text(
        &services,
        "departments.json",
        r#"[
            {"kind": "department", "tenant": "T", "name": "Leaf", "parent": "Middle"},
            {"kind": "department", "tenant": "T", "name": "Middle", "parent": "Root"},
            {"kind": "department", "tenant": "T", "name": "Root"},
            {"kind": "tenant", "tenant": "T"},
            {"kind": "department", "tenant": "T", "name": "A", "parent": "B"},
            {"kind": "department", "tenant": "T", "name": "B", "parent": "A"},
            {"kind": "user", "username": "x", "level": "zero"}
        ]"#,
    );
    assert_eq!(report.created.get(&Kind::Department), Some(&3), "{report:?}");
    let failures: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(
        failures[0].starts_with("index 4: department: its parent chain is a cycle"),
        "{failures:?}"
    );
    assert!(failures[1].starts_with("index 5: department: its parent chain is a cycle"));
    assert!(failures[2].starts_with("index 6: "), "{failures:?}");
    let leaf = db
        .database()
        .read(|repo| repo.list_departments())
        .unwrap()
        .into_iter()
        .find(|d| d.key.name.as_str() == "Leaf")
        .unwrap();
    assert_eq!(leaf.full_path_name(), "Root \\ Middle \\ Leaf");
}

/// An export holds password hashes: the file is the owner's only, when new and when it replaces a
/// file that others could read.
#[cfg(unix)]
#[test]
fn an_export_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let source = TestDatabase::sqlite();
    let services = services(&source);
    accountd::demo::load(&services).unwrap();
    let exported = services.export(&Silent).unwrap();
    assert!(exported.iter().any(|r| r.password_hash.is_some()));
    let dir = tempfile::tempdir().unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for format in [Format::Json, Format::Csv] {
        let new = dir.path().join(format!("new.{format:?}"));
        import::write_file(&new, format, &exported).unwrap();
        assert_eq!(mode(&new), 0o600, "{format:?}, a new file");

        let existing = dir.path().join(format!("existing.{format:?}"));
        std::fs::write(&existing, "old").unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
        import::write_file(&existing, format, &exported).unwrap();
        assert_eq!(mode(&existing), 0o600, "{format:?}, a replaced file");
        assert_eq!(
            import::read_file(&existing, format).unwrap().len(),
            exported.len(),
            "{format:?}: the old content is gone"
        );
    }
}

#[test]
fn an_export_imports_into_an_empty_database_as_the_same_export() {
    let source = TestDatabase::sqlite();
    let services = services(&source);
    accountd::demo::load(&services).unwrap();
    assert!(import_file(&services, &example("import.csv")).failed.is_empty());
    let exported = services.export(&Silent).unwrap();
    assert!(
        exported.iter().all(|r| r.password.is_none()),
        "never a plaintext password"
    );
    assert!(
        exported
            .iter()
            .filter(|r| r.kind == Some(Kind::User))
            .all(|r| r.password_hash.is_some())
    );
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::Json, Format::Csv] {
        let file = dir.path().join(format!("export.{format:?}"));
        import::write_file(&file, format, &exported).unwrap();
        let target = TestDatabase::sqlite();
        let target_services = self::services(&target);
        let rows = import::read_file(&file, format).unwrap();
        let report = target_services.import(rows, &Silent).unwrap();
        assert!(report.failed.is_empty(), "{format:?}: {:?}", report.failed);
        let again = target_services.export(&Silent).unwrap();
        assert_eq!(again, exported, "{format:?}");
    }
}

#[test]
fn ten_thousand_users_import_in_batches() {
    let db = TestDatabase::sqlite();
    let services = services(&db);
    let hash = "pbkdf2_sha256$1000$seasalt2024abcd$WHiW/J4oczM83YnkR6temR2srZHjVNeIqZPnRQpQUw4=";
    let mut csv = String::from(
        "kind,tenant,group,name,username,level,first_name,last_name,password_hash,password,device,line_port\n\
         tenant,Bulk,,,,,,,,,,\n",
    );
    for g in 0..10 {
        csv.push_str(&format!("group,Bulk,G{g},,,,,,,,,\ndevice,Bulk,G{g},DP{g},,,,,,,,\n"));
    }
    for i in 0..10_000 {
        let g = i % 10;
        // A few plaintext passwords, hashed on the hasher's threads; the rest carry a hash.
        let (hash, plain) = if i % 2_000 == 0 {
            ("", "Bulk-Passw0rd!")
        } else {
            (hash, "")
        };
        csv.push_str(&format!(
            "user,Bulk,G{g},,user{i:05},0,User,N{i},{hash},{plain},DP{g},line{i:05}@bulk.example\n"
        ));
    }
    let report = import_text(&services, "bulk.csv", &csv);
    assert!(
        report.failed.is_empty(),
        "{:?}",
        &report.failed[..report.failed.len().min(5)]
    );
    assert_eq!(report.created.get(&Kind::User), Some(&10_000));
    assert_eq!(db.database().read(|repo| repo.count_users()).unwrap(), 10_000);
    let page = db
        .database()
        .read(|repo| repo.list_users(PageRequest { after: None, limit: 3 }))
        .unwrap();
    assert_eq!(page.items.len(), 3);
    let again = import_text(&services, "bulk.csv", &csv);
    assert_eq!(again.created_total(), 0);
    assert_eq!(again.unchanged.get(&Kind::User), Some(&10_000));
}

#[test]
fn unreadable_files_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("x.csv");
    std::fs::write(&unknown, "kind,nickname\nuser,bob\n").unwrap();
    let err = import::read_file(&unknown, Format::Csv).unwrap_err();
    assert!(format!("{err:#}").contains("unknown column \"nickname\""), "{err:#}");
    let not_json = dir.path().join("x.json");
    std::fs::write(&not_json, "{\"kind\": \"user\"}").unwrap();
    assert!(import::read_file(&not_json, Format::Json).is_err());
    let rows: Vec<Located> = import::read_file(&example("import.json"), Format::Json).unwrap();
    assert!(rows.iter().all(|r| r.record.is_ok()));
}

#[test]
fn postgres_imports_keeps_good_records_and_exports_the_same() {
    let Some(db) = TestDatabase::postgres_or_skip() else {
        return;
    };
    let services = services(&db);
    accountd::demo::load(&services).unwrap();
    let first = import_file(&services, &example("import.csv"));
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    // A batch with a failing record on PostgreSQL: rolled back, then record by record.
    let report = import_text(
        &services,
        "clash.csv",
        "kind,tenant,group,username,first_name,last_name,device,line_port\n\
         user,Globex,Sales,pg1,Pg,One,DP_Sales_1,shared@sip.example\n\
         user,Globex,Sales,pg2,Pg,Two,DP_Sales_1,shared@sip.example\n\
         user,Globex,Sales,pg3,Pg,Three,,\n",
    );
    let failures: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
    assert_eq!(failures, ["line 3: user: linePort is already taken"]);
    assert!(exists(&db, "pg1") && exists(&db, "pg3") && !exists(&db, "pg2"));
    let exported = services.export(&Silent).unwrap();
    let Some(target) = TestDatabase::postgres_or_skip() else {
        return;
    };
    let target_services = self::services(&target);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.json");
    import::write_file(&file, Format::Json, &exported).unwrap();
    assert!(import_file(&target_services, &file).failed.is_empty());
    assert_eq!(target_services.export(&Silent).unwrap(), exported);
}
