-- Sliding-window throttling (issue 14): the previous window's count weighs on the current one, so a
-- burst across a window boundary no longer gets twice the limit. Keys become digests in their own
-- namespaces: the old rows (raw usernames and addresses) mean nothing any more.
DELETE FROM throttle;
ALTER TABLE throttle ADD COLUMN previous_failures BIGINT NOT NULL DEFAULT 0;
-- The purge deletes by window age.
CREATE INDEX throttle_window_started_at_idx ON throttle (window_started_at);
