DROP INDEX users_email_idx;
DROP TABLE password_resets;
