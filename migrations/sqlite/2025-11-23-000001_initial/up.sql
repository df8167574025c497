-- accountd's schema (SQLite). Same tables, columns and rules as migrations/postgres; the cascade
-- rules are written down in docs/storage.md and checked by crates/storage's schema tests.
-- Ids are 64-bit rowids (INTEGER PRIMARY KEY AUTOINCREMENT: never reused), times BIGINT epoch
-- milliseconds (UTC), booleans 0/1.

CREATE TABLE tenants (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    CONSTRAINT tenants_tenant_id_key UNIQUE (tenant_id)
);

CREATE TABLE groups (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_key BIGINT NOT NULL REFERENCES tenants (key) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    name TEXT NOT NULL,
    CONSTRAINT groups_tenant_key_group_id_key UNIQUE (tenant_key, group_id)
);

-- A department belongs to a tenant, and to one of its groups unless it is an enterprise-level one
-- (group_key NULL). `path` is the JSON array of names from the root ancestor down to the department
-- itself, written once at creation (departments are never moved nor renamed).
CREATE TABLE departments (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_key BIGINT NOT NULL REFERENCES tenants (key) ON DELETE CASCADE,
    group_key BIGINT REFERENCES groups (key) ON DELETE CASCADE,
    parent_key BIGINT REFERENCES departments (key) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL
);
-- NULL never equals NULL in a UNIQUE constraint: one partial unique index per kind of department.
CREATE UNIQUE INDEX departments_group_key_name_key ON departments (group_key, name) WHERE group_key IS NOT NULL;
CREATE UNIQUE INDEX departments_tenant_key_name_key ON departments (tenant_key, name) WHERE group_key IS NULL;
CREATE INDEX departments_tenant_key_idx ON departments (tenant_key);
CREATE INDEX departments_parent_key_idx ON departments (parent_key);

-- The role columns (level, tenant_key, group_key, user_id, admin_department_key) can only hold
-- the combinations a `Role` has.
CREATE TABLE users (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL,
    username TEXT NOT NULL,
    level INTEGER NOT NULL,
    tenant_key BIGINT REFERENCES tenants (key) ON DELETE CASCADE,
    group_key BIGINT REFERENCES groups (key) ON DELETE CASCADE,
    user_id TEXT,
    admin_department_key BIGINT REFERENCES departments (key),
    department_key BIGINT REFERENCES departments (key) ON DELETE SET NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    cli_first_name TEXT NOT NULL,
    cli_last_name TEXT NOT NULL,
    phone_number TEXT NOT NULL,
    extension TEXT NOT NULL,
    cli_phone_number TEXT NOT NULL,
    language TEXT,
    email TEXT,
    network_class_of_service TEXT NOT NULL,
    time_zone TEXT,
    mobile TEXT NOT NULL,
    description TEXT NOT NULL,
    image TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    state TEXT NOT NULL,
    account_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    CONSTRAINT users_uuid_key UNIQUE (uuid),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_group_key_user_id_key UNIQUE (group_key, user_id),
    CONSTRAINT users_role_check CHECK (
        (level = 16 AND tenant_key IS NULL AND group_key IS NULL AND user_id IS NULL AND admin_department_key IS NULL)
        OR (level = 12 AND tenant_key IS NOT NULL AND group_key IS NULL AND user_id IS NULL AND admin_department_key IS NULL)
        OR (level IN (0, 8) AND tenant_key IS NOT NULL AND group_key IS NOT NULL AND user_id IS NOT NULL AND admin_department_key IS NULL)
        OR (level = 4 AND tenant_key IS NOT NULL AND group_key IS NOT NULL AND user_id IS NOT NULL AND admin_department_key IS NOT NULL)
    )
);
CREATE INDEX users_tenant_key_idx ON users (tenant_key);
CREATE INDEX users_group_key_key_idx ON users (group_key, key);
CREATE INDEX users_admin_department_key_idx ON users (admin_department_key);
CREATE INDEX users_department_key_idx ON users (department_key);

CREATE TABLE passwords (
    user_key BIGINT NOT NULL PRIMARY KEY REFERENCES users (key) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    first_login BOOLEAN NOT NULL
);

CREATE TABLE password_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX password_history_user_key_id_idx ON password_history (user_key, id);

CREATE TABLE pincodes (
    user_key BIGINT NOT NULL PRIMARY KEY REFERENCES users (key) ON DELETE CASCADE,
    hash TEXT,
    login_disabled BOOLEAN NOT NULL,
    expiration_days INTEGER NOT NULL,
    does_not_expire BOOLEAN NOT NULL,
    changed_at BIGINT,
    failed_attempts BIGINT NOT NULL
);

CREATE TABLE pin_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX pin_history_user_key_id_idx ON pin_history (user_key, id);

-- A device is owned by the system, a tenant (level ServiceProvider) or a group. `owner_key` is 0,
-- the tenant key or the group key: a non-null column, so one UNIQUE covers all three levels.
CREATE TABLE devices (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    level TEXT NOT NULL,
    tenant_key BIGINT REFERENCES tenants (key) ON DELETE CASCADE,
    group_key BIGINT REFERENCES groups (key) ON DELETE CASCADE,
    owner_key BIGINT NOT NULL,
    name TEXT NOT NULL,
    CONSTRAINT devices_level_owner_key_name_key UNIQUE (level, owner_key, name),
    CONSTRAINT devices_owner_check CHECK (
        (level = 'System' AND tenant_key IS NULL AND group_key IS NULL AND owner_key = 0)
        OR (level = 'ServiceProvider' AND tenant_key IS NOT NULL AND group_key IS NULL AND owner_key = tenant_key)
        OR (level = 'Group' AND tenant_key IS NOT NULL AND group_key IS NOT NULL AND owner_key = group_key)
    )
);
CREATE INDEX devices_tenant_key_idx ON devices (tenant_key);
CREATE INDEX devices_group_key_idx ON devices (group_key);

-- A user's lines: at most one main endpoint (access device or trunk), any number of additional
-- ones (access devices). `contacts` is a JSON array of SIP URIs.
CREATE TABLE user_endpoints (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    device_key BIGINT NOT NULL REFERENCES devices (key) ON DELETE CASCADE,
    line_port TEXT NOT NULL,
    is_main BOOLEAN NOT NULL,
    kind TEXT NOT NULL,
    line_number INTEGER,
    contacts TEXT NOT NULL,
    CONSTRAINT user_endpoints_line_port_key UNIQUE (line_port),
    CONSTRAINT user_endpoints_kind_check CHECK (
        (kind = 'access') OR (kind = 'trunk' AND is_main AND line_number IS NULL)
    )
);
CREATE UNIQUE INDEX user_endpoints_main_key ON user_endpoints (user_key) WHERE is_main;
CREATE INDEX user_endpoints_user_key_idx ON user_endpoints (user_key);
CREATE INDEX user_endpoints_device_key_idx ON user_endpoints (device_key);

-- End-user app data belongs to a group member's path, not to the users row: data of applications
-- excluded from a delete outlives the user (seed 001 `_excludedAppIds`); it goes with the group.
CREATE TABLE app_data (
    group_key BIGINT NOT NULL REFERENCES groups (key) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (group_key, user_id, app_id)
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest BLOB NOT NULL,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    auth TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    client_address TEXT,
    user_agent TEXT,
    CONSTRAINT sessions_digest_key UNIQUE (digest)
);
CREATE INDEX sessions_user_key_idx ON sessions (user_key);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_last_seen_at_idx ON sessions (last_seen_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest BLOB NOT NULL,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    CONSTRAINT api_tokens_digest_key UNIQUE (digest)
);
CREATE INDEX api_tokens_user_key_idx ON api_tokens (user_key);

CREATE TABLE throttle (
    key TEXT NOT NULL PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL
);

-- No foreign keys: the audit log outlives the users it speaks of.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor BIGINT,
    actor_name TEXT,
    subject BIGINT,
    action TEXT NOT NULL,
    fields TEXT NOT NULL,
    outcome TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX audit_events_subject_id_idx ON audit_events (subject, id);

CREATE TABLE tenant_licenses (
    tenant_key BIGINT NOT NULL REFERENCES tenants (key) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    module_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    owner_name TEXT NOT NULL,
    owner_description TEXT NOT NULL,
    version TEXT NOT NULL,
    license_type TEXT NOT NULL,
    license_number BIGINT NOT NULL,
    extra_flags BIGINT NOT NULL,
    extra_info TEXT NOT NULL,
    sort_order BIGINT NOT NULL,
    hidden BOOLEAN NOT NULL,
    unrestricted BOOLEAN NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (tenant_key, position)
);

CREATE TABLE user_secondary_groups (
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    group_key BIGINT NOT NULL REFERENCES groups (key) ON DELETE CASCADE,
    PRIMARY KEY (user_key, group_key)
);
CREATE INDEX user_secondary_groups_group_key_idx ON user_secondary_groups (group_key);
