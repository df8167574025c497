-- Passkeys (issue 19; docs/second-factors.md). Times are ms since the epoch.
--
-- A user's WebAuthn credentials. `credential` is webauthn-rs's serialisation of the credential
-- (public key, algorithm, counter, flags): nothing secret. `credential_id` is unique across every
-- account (a credential signs in one user). `counter`, `backup_eligible` and `backup_state` are
-- copies of what `credential` holds, for the list and for the conditional update that makes a
-- counter only go forward.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key BIGINT NOT NULL REFERENCES users (key) ON DELETE CASCADE,
    credential_id BLOB NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    counter BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);
CREATE INDEX passkeys_user_key_idx ON passkeys (user_key);

-- The state of a WebAuthn ceremony between its two calls, by the digest of the handle the client
-- holds: taken (deleted) by the call that finishes it, on whichever instance; expired ones go
-- with the periodic purge. `user_key` is NULL for a passkey sign-in (the authenticator names
-- the user).
CREATE TABLE webauthn_ceremonies (
    digest BLOB NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    user_key BIGINT REFERENCES users (key) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at_idx ON webauthn_ceremonies (expires_at);
CREATE INDEX webauthn_ceremonies_user_key_idx ON webauthn_ceremonies (user_key);

-- The assertion offered with a login's second step, for a user with passkeys.
ALTER TABLE login_challenges ADD COLUMN passkey_state TEXT;
