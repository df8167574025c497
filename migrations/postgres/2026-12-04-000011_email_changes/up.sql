-- Verified e-mail changes (issue 22; docs/notifications.md "Verified e-mail changes"): at most one
-- pending change per user, the new address and its single-use, expiring link (kept by the SHA-256
-- of its token; the token itself is only in the e-mail to the new address).
CREATE TABLE email_changes (
    user_key BIGINT NOT NULL PRIMARY KEY REFERENCES users (key) ON DELETE CASCADE,
    digest BYTEA NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX email_changes_digest_key ON email_changes (digest);
CREATE INDEX email_changes_expires_at_idx ON email_changes (expires_at);
