-- What the agent needs: per-tenant control state (suspend, rollback hold,
-- last commits), the journal of changes in flight, and the status of each
-- owned resource.

CREATE TABLE tenants (
    tenant              TEXT    PRIMARY KEY,
    -- 1: automatic applies are stopped (`cairn suspend`).
    suspended           INTEGER NOT NULL DEFAULT 0,
    -- The commit a rollback holds the tenant at, and the ref's commit when
    -- the hold began: a new commit on the ref ends the hold.
    held_commit         TEXT,
    held_head           TEXT,
    -- The last commit reconciled, and the last one applied with success.
    last_commit         TEXT,
    last_applied_commit TEXT,
    last_applied_at     INTEGER,
    updated_at          INTEGER NOT NULL
);

-- A change sent to a plugin whose outcome is not recorded yet. Written
-- before the call, removed in the transaction that records the outcome: a
-- row left here after a crash is a change to find out about.
CREATE TABLE intents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant         TEXT    NOT NULL,
    run_id         INTEGER NOT NULL REFERENCES runs (id),
    address        TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    desired_digest TEXT,
    created_at     INTEGER NOT NULL
);
CREATE INDEX intents_by_tenant ON intents (tenant, address);

-- in-sync, drifted, failed or pending, with the last error and when.
ALTER TABLE resources ADD COLUMN status TEXT NOT NULL DEFAULT 'in-sync';
ALTER TABLE resources ADD COLUMN last_error TEXT;
