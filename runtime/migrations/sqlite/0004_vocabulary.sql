-- The words Cairn stores, typed in SQL as in Rust (`store/vocabulary.rs`):
-- a run's kind and outcome, an audit row's action and result, a journal
-- entry's action, a resource's status. A write of any other word is
-- refused. SQLite adds no constraint to an existing table, so triggers
-- check each write; rows already stored are left as they are. The words
-- are compared one by one: SQLite builds a table for an `IN (...)` list at
-- every row a trigger sees, which made recording a batch of 10,000
-- changes two thirds slower; compared one by one, a sixth.

CREATE TRIGGER runs_words_on_insert BEFORE INSERT ON runs
WHEN (NEW.kind <> 'plan'
     AND NEW.kind <> 'apply'
     AND NEW.kind <> 'rollback'
     AND NEW.kind <> 'reconcile'
     AND NEW.kind <> 'drift'
     AND NEW.kind <> 'suspend'
     AND NEW.kind <> 'resume'
     AND NEW.kind <> 'release-hold')
  OR (NEW.outcome IS NOT NULL
      AND (NEW.outcome <> 'planned'
          AND NEW.outcome <> 'blocked'
          AND NEW.outcome <> 'succeeded'
          AND NEW.outcome <> 'failed'
          AND NEW.outcome <> 'partial'
          AND NEW.outcome <> 'interrupted'
          AND NEW.outcome <> 'detected'))
BEGIN
    SELECT RAISE(ABORT, 'runs: a kind or an outcome this version of Cairn does not know');
END;
CREATE TRIGGER runs_words_on_update BEFORE UPDATE OF kind, outcome ON runs
WHEN (NEW.kind <> 'plan'
     AND NEW.kind <> 'apply'
     AND NEW.kind <> 'rollback'
     AND NEW.kind <> 'reconcile'
     AND NEW.kind <> 'drift'
     AND NEW.kind <> 'suspend'
     AND NEW.kind <> 'resume'
     AND NEW.kind <> 'release-hold')
  OR (NEW.outcome IS NOT NULL
      AND (NEW.outcome <> 'planned'
          AND NEW.outcome <> 'blocked'
          AND NEW.outcome <> 'succeeded'
          AND NEW.outcome <> 'failed'
          AND NEW.outcome <> 'partial'
          AND NEW.outcome <> 'interrupted'
          AND NEW.outcome <> 'detected'))
BEGIN
    SELECT RAISE(ABORT, 'runs: a kind or an outcome this version of Cairn does not know');
END;

-- The audit log is append-only (0001): inserts are all there is to check.
CREATE TRIGGER audit_words_on_insert BEFORE INSERT ON audit
WHEN (NEW.action <> 'create'
     AND NEW.action <> 'update'
     AND NEW.action <> 'replace'
     AND NEW.action <> 'delete'
     AND NEW.action <> 'forget'
     AND NEW.action <> 'adopt'
     AND NEW.action <> 'refresh'
     AND NEW.action <> 'drift')
  OR (NEW.result <> 'ok'
     AND NEW.result <> 'failed'
     AND NEW.result <> 'skipped'
     AND NEW.result <> 'detected')
BEGIN
    SELECT RAISE(ABORT, 'audit: an action or a result this version of Cairn does not know');
END;

CREATE TRIGGER intents_words_on_insert BEFORE INSERT ON intents
WHEN (NEW.action <> 'create'
     AND NEW.action <> 'update'
     AND NEW.action <> 'replace'
     AND NEW.action <> 'delete'
     AND NEW.action <> 'forget'
     AND NEW.action <> 'adopt'
     AND NEW.action <> 'refresh')
BEGIN
    SELECT RAISE(ABORT, 'intents: an action this version of Cairn does not know');
END;

CREATE TRIGGER resources_words_on_insert BEFORE INSERT ON resources
WHEN (NEW.status <> 'in-sync'
     AND NEW.status <> 'drifted'
     AND NEW.status <> 'failed'
     AND NEW.status <> 'pending')
BEGIN
    SELECT RAISE(ABORT, 'resources: a status this version of Cairn does not know');
END;
CREATE TRIGGER resources_words_on_update BEFORE UPDATE OF status ON resources
WHEN (NEW.status <> 'in-sync'
     AND NEW.status <> 'drifted'
     AND NEW.status <> 'failed'
     AND NEW.status <> 'pending')
BEGIN
    SELECT RAISE(ABORT, 'resources: a status this version of Cairn does not know');
END;
