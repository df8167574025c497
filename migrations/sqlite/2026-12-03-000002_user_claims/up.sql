-- Per-user claims (issue 15): a change that goes to the Application Server claims its user for the
-- length of the call, so changes to one user stay ordered across instances while changes to
-- different users never wait on each other. A claim whose holder crashed expires (`expires_at`, ms).
-- No foreign key: a claim is short-lived, and one left on a deleted user expires like any other.
CREATE TABLE user_claims (
    user_key BIGINT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- The periodic purge deletes expired claims by their expiry.
CREATE INDEX user_claims_expires_at_idx ON user_claims (expires_at);
