-- Several daemons on one store: which daemons are alive, which one
-- reconciles each tenant (a lease with a fencing token), triggers passed
-- from the daemon that received them to the one that holds the tenant, and
-- each tenant's live status, so that any daemon answers for all of them.

CREATE TABLE daemons (
    id           TEXT    PRIMARY KEY,
    -- Where its HTTP API listens.
    address      TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    -- Milliseconds since the Unix epoch, by the store's clock: past it the
    -- daemon counts as gone.
    expires_at   INTEGER NOT NULL
);

CREATE TABLE leases (
    tenant      TEXT    PRIMARY KEY,
    -- The daemon that reconciles the tenant.
    holder      TEXT    NOT NULL,
    -- The fencing token: grows by one with every new holder, and every
    -- write made for the tenant checks it in its own transaction.
    token       INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    -- By the store's clock; 0 once released.
    expires_at  INTEGER NOT NULL
);

CREATE TABLE triggers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX triggers_by_tenant ON triggers (tenant);

CREATE TABLE live_status (
    tenant     TEXT    PRIMARY KEY,
    daemon     TEXT    NOT NULL,
    -- The holder's view of the tenant (JSON), written after each run.
    status     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Which daemon made each run, under which lease token.
ALTER TABLE runs ADD COLUMN daemon TEXT;
ALTER TABLE runs ADD COLUMN lease_token INTEGER;
