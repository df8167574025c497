-- The user's own security timeline (issue 21; docs/timeline.md): where and with what each audited
-- request came (the client address as the server saw it, the User-Agent cut to 256 characters).
ALTER TABLE audit_events ADD COLUMN client_address TEXT;
ALTER TABLE audit_events ADD COLUMN user_agent TEXT;
