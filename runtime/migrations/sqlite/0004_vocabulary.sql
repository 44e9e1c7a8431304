-- The words Cairn stores, typed in SQL as in Rust (`store/vocabulary.rs`):
-- a run's kind and outcome, an audit row's action and result, a journal
-- entry's action, a resource's status. A write of any other word is
-- refused. SQLite adds no constraint to an existing table, so triggers
-- check each write; rows already stored are left as they are.

CREATE TRIGGER runs_words_on_insert BEFORE INSERT ON runs
WHEN NEW.kind NOT IN ('plan', 'apply', 'rollback', 'reconcile', 'drift', 'suspend', 'resume', 'release-hold')
  OR (NEW.outcome IS NOT NULL AND NEW.outcome NOT IN ('planned', 'blocked', 'succeeded', 'failed', 'partial', 'interrupted', 'detected'))
BEGIN
    SELECT RAISE(ABORT, 'runs: a kind or an outcome this version of Cairn does not know');
END;
CREATE TRIGGER runs_words_on_update BEFORE UPDATE OF kind, outcome ON runs
WHEN NEW.kind NOT IN ('plan', 'apply', 'rollback', 'reconcile', 'drift', 'suspend', 'resume', 'release-hold')
  OR (NEW.outcome IS NOT NULL AND NEW.outcome NOT IN ('planned', 'blocked', 'succeeded', 'failed', 'partial', 'interrupted', 'detected'))
BEGIN
    SELECT RAISE(ABORT, 'runs: a kind or an outcome this version of Cairn does not know');
END;

-- The audit log is append-only (0001): inserts are all there is to check.
CREATE TRIGGER audit_words_on_insert BEFORE INSERT ON audit
WHEN NEW.action NOT IN ('create', 'update', 'replace', 'delete', 'forget', 'adopt', 'refresh', 'drift')
  OR NEW.result NOT IN ('ok', 'failed', 'skipped', 'detected')
BEGIN
    SELECT RAISE(ABORT, 'audit: an action or a result this version of Cairn does not know');
END;

CREATE TRIGGER intents_words_on_insert BEFORE INSERT ON intents
WHEN NEW.action NOT IN ('create', 'update', 'replace', 'delete', 'forget', 'adopt', 'refresh')
BEGIN
    SELECT RAISE(ABORT, 'intents: an action this version of Cairn does not know');
END;

CREATE TRIGGER resources_words_on_insert BEFORE INSERT ON resources
WHEN NEW.status NOT IN ('in-sync', 'drifted', 'failed', 'pending')
BEGIN
    SELECT RAISE(ABORT, 'resources: a status this version of Cairn does not know');
END;
CREATE TRIGGER resources_words_on_update BEFORE UPDATE OF status ON resources
WHEN NEW.status NOT IN ('in-sync', 'drifted', 'failed', 'pending')
BEGIN
    SELECT RAISE(ABORT, 'resources: a status this version of Cairn does not know');
END;
