ALTER TABLE login_challenges DROP COLUMN passkey_state;
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
