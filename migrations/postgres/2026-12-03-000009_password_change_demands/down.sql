ALTER TABLE sessions DROP COLUMN password_change_only;
DROP TABLE password_change_demands;
