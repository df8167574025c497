-- The durable outbox (issue 15): work that must reach another system after the fact, written in
-- the transaction of the change it belongs to (or armed before an Application Server call, to be
-- delivered only when the local write does not follow). A worker in every instance leases due
-- rows, delivers them at least once with exponential backoff, and deletes them; several instances
-- lease disjoint rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`). Rows of one user are delivered in id
-- order. Times are ms since the epoch.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    user_key BIGINT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    leased_by TEXT,
    leased_until BIGINT
);
-- The worker's look for due rows (earliest due first), and the per-user ordering check.
CREATE INDEX outbox_not_before_id_idx ON outbox (not_before, id);
CREATE INDEX outbox_user_key_id_idx ON outbox (user_key, id);

-- Divergences between the local store and the Application Server that accountd could not repair
-- (a new password or a delete the AS accepted when the local write then failed; an outbox row
-- given up after its last attempt). An operator sees them in /readyz detail, /metrics and
-- `accountd divergences`, and resolves them there.
CREATE TABLE divergences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key BIGINT,
    topic TEXT NOT NULL,
    detail TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
