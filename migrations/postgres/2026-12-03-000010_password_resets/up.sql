-- Password reset by e-mail (issue 22; docs/notifications.md): single-use, expiring links, kept
-- by the SHA-256 of their token (the token itself is only in the e-mail). Sign-in names may be an
-- e-mail address: users are found by it through an index.
CREATE TABLE password_resets (
    digest BYTEA NOT NULL PRIMARY KEY,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user_key_idx ON password_resets (user_key);
CREATE INDEX password_resets_expires_at_idx ON password_resets (expires_at);
CREATE INDEX users_email_idx ON users (email);
