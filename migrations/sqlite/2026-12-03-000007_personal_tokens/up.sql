-- Personal API tokens (issue 20; docs/account-page.md, docs/security.md). A token is `personal`
-- when its user created it from their session (else the operator did, `accountd token create`),
-- and has a scope: `read` (safe methods only) or `full`.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';
ALTER TABLE api_tokens ADD COLUMN personal BOOLEAN NOT NULL DEFAULT FALSE;
