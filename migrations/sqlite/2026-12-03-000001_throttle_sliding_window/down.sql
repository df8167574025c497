DROP INDEX throttle_window_started_at_idx;
ALTER TABLE throttle DROP COLUMN previous_failures;
