//! The users a scenario drives: `count` end users `{prefix}00@reliability.example` … of one tenant
//! and group, all with one password, created through the operator's `accountd import` (as an
//! operator would, and on either backend).

use crate::server::binary;
use serde_json::json;
use std::path::Path;

pub struct Population {
    pub prefix: &'static str,
    pub tenant: &'static str,
    pub group: &'static str,
    pub count: usize,
    pub first_name: &'static str,
    pub password: &'static str,
}

impl Population {
    pub fn username(&self, i: usize) -> String {
        format!("{}{i:02}@reliability.example", self.prefix)
    }

    /// Seed 001's path of user `i`.
    pub fn user_path(&self, i: usize) -> String {
        format!(
            "/api/v1/tenants/{}/groups/{}/users/{}{i:02}/",
            self.tenant, self.group, self.prefix
        )
    }

    /// Writes the import file in `dir` and imports it into `database_url`.
    pub fn import(&self, database_url: &str, dir: &Path) {
        let mut records = vec![
            json!({"kind": "tenant", "tenant": self.tenant, "name": self.tenant}),
            json!({"kind": "group", "tenant": self.tenant, "group": self.group}),
        ];
        for i in 0..self.count {
            records.push(json!({
                "kind": "user", "username": self.username(i), "level": 0,
                "tenant": self.tenant, "group": self.group, "user_id": format!("{}{i:02}", self.prefix),
                "first_name": self.first_name, "last_name": format!("{i}"), "password": self.password,
            }));
        }
        let file = dir.join(format!("{}-users.json", self.prefix));
        std::fs::write(&file, serde_json::to_vec(&records).unwrap()).unwrap();
        let output = binary()
            .arg("import")
            .arg(&file)
            .env("ACCOUNTD__DATABASE__URL", database_url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "import: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
