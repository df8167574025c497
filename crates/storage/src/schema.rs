//! The diesel schema: one `table!` per table of `migrations/{sqlite,postgres}`.
//!
//! Both backends have the same tables and columns with the same diesel types (the SQLite rowid
//! keys are 64-bit like PostgreSQL's BIGINT identities), so one schema serves both. The
//! `schema_check` tests apply each backend's migrations to a fresh database and compare its live
//! columns (name, type, nullability) with these declarations, so the two can't drift apart.

diesel::table! {
    tenants (key) {
        key -> BigInt,
        tenant_id -> Text,
        name -> Text,
    }
}

diesel::table! {
    groups (key) {
        key -> BigInt,
        tenant_key -> BigInt,
        group_id -> Text,
        name -> Text,
    }
}

diesel::table! {
    departments (key) {
        key -> BigInt,
        tenant_key -> BigInt,
        group_key -> Nullable<BigInt>,
        parent_key -> Nullable<BigInt>,
        name -> Text,
        path -> Text,
    }
}

diesel::table! {
    users (key) {
        key -> BigInt,
        uuid -> Text,
        username -> Text,
        level -> Integer,
        tenant_key -> Nullable<BigInt>,
        group_key -> Nullable<BigInt>,
        user_id -> Nullable<Text>,
        admin_department_key -> Nullable<BigInt>,
        department_key -> Nullable<BigInt>,
        first_name -> Text,
        last_name -> Text,
        cli_first_name -> Text,
        cli_last_name -> Text,
        phone_number -> Text,
        extension -> Text,
        cli_phone_number -> Text,
        language -> Nullable<Text>,
        email -> Nullable<Text>,
        network_class_of_service -> Text,
        time_zone -> Nullable<Text>,
        mobile -> Text,
        description -> Text,
        image -> Text,
        enabled -> Bool,
        state -> Text,
        account_type -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    passwords (user_key) {
        user_key -> BigInt,
        hash -> Text,
        changed_at -> BigInt,
        first_login -> Bool,
    }
}

diesel::table! {
    password_history (id) {
        id -> BigInt,
        user_key -> BigInt,
        hash -> Text,
        changed_at -> BigInt,
    }
}

diesel::table! {
    pincodes (user_key) {
        user_key -> BigInt,
        hash -> Nullable<Text>,
        login_disabled -> Bool,
        expiration_days -> Integer,
        does_not_expire -> Bool,
        changed_at -> Nullable<BigInt>,
        failed_attempts -> BigInt,
    }
}

diesel::table! {
    pin_history (id) {
        id -> BigInt,
        user_key -> BigInt,
        hash -> Text,
        changed_at -> BigInt,
    }
}

diesel::table! {
    devices (key) {
        key -> BigInt,
        level -> Text,
        tenant_key -> Nullable<BigInt>,
        group_key -> Nullable<BigInt>,
        owner_key -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    user_endpoints (key) {
        key -> BigInt,
        user_key -> BigInt,
        device_key -> BigInt,
        line_port -> Text,
        is_main -> Bool,
        kind -> Text,
        line_number -> Nullable<Integer>,
        contacts -> Text,
    }
}

diesel::table! {
    app_data (group_key, user_id, app_id) {
        group_key -> BigInt,
        user_id -> Text,
        app_id -> Text,
        data -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        digest -> Binary,
        user_key -> BigInt,
        auth -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        client_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        proved_at -> BigInt,
        enrollment_only -> Bool,
        password_change_only -> Bool,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        digest -> Binary,
        user_key -> BigInt,
        name -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        scope -> Text,
        personal -> Bool,
    }
}

diesel::table! {
    throttle (key) {
        key -> Text,
        failures -> BigInt,
        window_started_at -> BigInt,
        previous_failures -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Nullable<BigInt>,
        actor_name -> Nullable<Text>,
        subject -> Nullable<BigInt>,
        action -> Text,
        fields -> Text,
        outcome -> Text,
        request_id -> Nullable<Text>,
        client_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        actor_level -> Nullable<Integer>,
    }
}

diesel::table! {
    tenant_licenses (tenant_key, position) {
        tenant_key -> BigInt,
        position -> Integer,
        module_id -> BigInt,
        name -> Text,
        description -> Text,
        owner_name -> Text,
        owner_description -> Text,
        version -> Text,
        license_type -> Text,
        license_number -> BigInt,
        extra_flags -> BigInt,
        extra_info -> Text,
        sort_order -> BigInt,
        hidden -> Bool,
        unrestricted -> Bool,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    user_secondary_groups (user_key, group_key) {
        user_key -> BigInt,
        group_key -> BigInt,
    }
}

diesel::table! {
    user_claims (user_key) {
        user_key -> BigInt,
        holder -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        topic -> Text,
        user_key -> Nullable<BigInt>,
        payload -> Text,
        created_at -> BigInt,
        not_before -> BigInt,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        leased_by -> Nullable<Text>,
        leased_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    divergences (id) {
        id -> BigInt,
        user_key -> Nullable<BigInt>,
        topic -> Text,
        detail -> Text,
        recorded_at -> BigInt,
    }
}

diesel::table! {
    totp_factors (user_key) {
        user_key -> BigInt,
        key_id -> Text,
        sealed -> Binary,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_key -> BigInt,
        digest -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    login_challenges (digest) {
        digest -> Binary,
        user_key -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        failures -> Integer,
        passkey_state -> Nullable<Text>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> BigInt,
        user_key -> BigInt,
        credential_id -> Binary,
        name -> Text,
        credential -> Text,
        counter -> BigInt,
        backup_eligible -> Bool,
        backup_state -> Bool,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_ceremonies (digest) {
        digest -> Binary,
        kind -> Text,
        user_key -> Nullable<BigInt>,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    password_change_demands (user_key) {
        user_key -> BigInt,
        demanded_at -> BigInt,
    }
}

diesel::table! {
    password_resets (digest) {
        digest -> Binary,
        user_key -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    email_changes (user_key) {
        user_key -> BigInt,
        digest -> Binary,
        email -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    groups,
    departments,
    users,
    passwords,
    password_history,
    pincodes,
    pin_history,
    devices,
    user_endpoints,
    app_data,
    sessions,
    api_tokens,
    throttle,
    audit_events,
    tenant_licenses,
    user_secondary_groups,
    user_claims,
    outbox,
    divergences,
    totp_factors,
    recovery_codes,
    login_challenges,
    passkeys,
    webauthn_ceremonies,
    password_change_demands,
    password_resets,
    email_changes,
);
