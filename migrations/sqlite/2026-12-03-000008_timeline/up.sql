-- The user's own security timeline (issue 21; docs/timeline.md): where and with what each audited
-- request came (the client address as the server saw it, cut to 64 characters; the User-Agent cut
-- to 256), and the acting user's level at the time (an administrator's change says at which level).
ALTER TABLE audit_events ADD COLUMN client_address TEXT;
ALTER TABLE audit_events ADD COLUMN user_agent TEXT;
ALTER TABLE audit_events ADD COLUMN actor_level INTEGER;
