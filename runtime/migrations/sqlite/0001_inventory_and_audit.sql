-- The inventory of owned objects, the runs of plan and apply, and the
-- append-only audit log of every action.

CREATE TABLE resources (
    tenant       TEXT    NOT NULL,
    address      TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    type_name    TEXT    NOT NULL,
    resource_id  TEXT    NOT NULL,
    -- sha256 of the canonical desired spec last applied.
    spec_digest  TEXT    NOT NULL,
    -- The state the provider returned, sensitive fields removed (JSON).
    state        TEXT,
    -- protect, ignore_changes, on_delete, adopt (JSON).
    lifecycle    TEXT    NOT NULL,
    -- Addresses this resource depended on (JSON array), to order deletes.
    depends_on   TEXT    NOT NULL,
    commit_id    TEXT    NOT NULL,
    -- 1 while a create is in flight or failed: the object may exist, and it
    -- is ours if it does.
    pending      INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, address)
);

CREATE TABLE runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant         TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    commit_id      TEXT    NOT NULL,
    commit_author  TEXT    NOT NULL,
    commit_summary TEXT    NOT NULL,
    plan_checksum  TEXT    NOT NULL,
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    outcome        TEXT,
    changes        INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_tenant ON runs (tenant, id);

CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         INTEGER NOT NULL REFERENCES runs (id),
    time           INTEGER NOT NULL,
    tenant         TEXT    NOT NULL,
    commit_id      TEXT    NOT NULL,
    commit_author  TEXT    NOT NULL,
    address        TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    before_digest  TEXT,
    after_digest   TEXT,
    result         TEXT    NOT NULL,
    error          TEXT,
    duration_ms    INTEGER NOT NULL
);
CREATE INDEX audit_by_tenant ON audit (tenant, seq);
CREATE INDEX audit_by_run ON audit (run_id, seq);

CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
