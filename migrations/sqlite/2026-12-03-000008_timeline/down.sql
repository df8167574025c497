ALTER TABLE audit_events DROP COLUMN actor_level;
ALTER TABLE audit_events DROP COLUMN user_agent;
ALTER TABLE audit_events DROP COLUMN client_address;
