-- Second factors (issue 18). Times are ms since the epoch.
--
-- A user's TOTP authenticator: its secret sealed with XChaCha20-Poly1305 under the key `key_id`
-- (`nonce` || ciphertext in `sealed`, the user key as associated data), never stored in clear.
-- `confirmed_at` is NULL until the user proved the app with a first code; `last_step` is the
-- last 30-second step a code was accepted for (a code of that step or an earlier one is refused:
-- no replay, across every instance, by one conditional UPDATE).
CREATE TABLE totp_factors (
    user_key BIGINT NOT NULL PRIMARY KEY REFERENCES users (key) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT
);

-- One-time recovery codes: their SHA-256 only (80 random bits each); a used code is deleted.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    digest BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT recovery_codes_user_digest_key UNIQUE (user_key, digest)
);

-- The second step of a login: a short-lived, single-use challenge handed out after the password,
-- kept by its digest; deleted when used, or by the session purge once expired.
CREATE TABLE login_challenges (
    digest BLOB NOT NULL PRIMARY KEY,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX login_challenges_user_key_idx ON login_challenges (user_key);
CREATE INDEX login_challenges_expires_at_idx ON login_challenges (expires_at);

-- Sessions remember when they last proved a password or factor (re-authentication for sensitive
-- changes) and whether they may only enroll a factor (`mfa.required_levels`).
ALTER TABLE sessions ADD COLUMN proved_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN enrollment_only BOOLEAN NOT NULL DEFAULT FALSE;
