DROP INDEX audit_events_at_idx;
