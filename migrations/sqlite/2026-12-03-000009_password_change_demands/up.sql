-- "This wasn't me" (issue 21; docs/timeline.md): a user who reported an event must change their
-- password at their next sign-in. The demand stays until they change it themself; sessions opened
-- meanwhile may only do that (and read who they are, and sign out).
CREATE TABLE password_change_demands (
    user_key BIGINT NOT NULL PRIMARY KEY REFERENCES users (key) ON DELETE CASCADE,
    demanded_at BIGINT NOT NULL
);
ALTER TABLE sessions ADD COLUMN password_change_only BOOLEAN NOT NULL DEFAULT FALSE;
