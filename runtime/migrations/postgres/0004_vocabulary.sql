-- The words Cairn stores, typed in SQL as in Rust (`store/vocabulary.rs`):
-- a run's kind and outcome, an audit row's action and result, a journal
-- entry's action, a resource's status. A write of any other word is
-- refused. NOT VALID: the rows already stored are not checked, so a store
-- opens whatever an earlier version wrote; every new or changed row is.
-- The same words as migrations/sqlite/0004.

ALTER TABLE runs ADD CONSTRAINT runs_kind_is_known
    CHECK (kind IN ('plan', 'apply', 'rollback', 'reconcile', 'drift', 'suspend', 'resume', 'release-hold')) NOT VALID;
ALTER TABLE runs ADD CONSTRAINT runs_outcome_is_known
    CHECK (outcome IS NULL OR outcome IN ('planned', 'blocked', 'succeeded', 'failed', 'partial', 'interrupted', 'detected')) NOT VALID;

ALTER TABLE audit ADD CONSTRAINT audit_action_is_known
    CHECK (action IN ('create', 'update', 'replace', 'delete', 'forget', 'adopt', 'refresh', 'drift')) NOT VALID;
ALTER TABLE audit ADD CONSTRAINT audit_result_is_known
    CHECK (result IN ('ok', 'failed', 'skipped', 'detected')) NOT VALID;

ALTER TABLE intents ADD CONSTRAINT intents_action_is_known
    CHECK (action IN ('create', 'update', 'replace', 'delete', 'forget', 'adopt', 'refresh')) NOT VALID;

ALTER TABLE resources ADD CONSTRAINT resources_status_is_known
    CHECK (status IN ('in-sync', 'drifted', 'failed', 'pending')) NOT VALID;
