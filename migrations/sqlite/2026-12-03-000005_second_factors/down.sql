ALTER TABLE sessions DROP COLUMN enrollment_only;
ALTER TABLE sessions DROP COLUMN proved_at;
DROP TABLE login_challenges;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
