-- Audit retention: the periodic purge deletes the events older than `audit.retention_seconds`, in
-- batches of the oldest first; without an index on `at` each batch would scan the whole log.
CREATE INDEX audit_events_at_idx ON audit_events (at);
