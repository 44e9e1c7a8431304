-- A commit refused before anything was planned (its signature, a quota,
-- its ref gone from the remote) is recorded as a run of its own: the
-- outcome `refused`, and the reason the operator reads, kept with the run.
-- SQLite cannot change a trigger: the two that check a run's words (0004)
-- are made again with the new word, compared one by one as there.

ALTER TABLE runs ADD COLUMN reason TEXT;

DROP TRIGGER runs_words_on_insert;
DROP TRIGGER runs_words_on_update;

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
          AND NEW.outcome <> 'detected'
          AND NEW.outcome <> 'refused'))
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
          AND NEW.outcome <> 'detected'
          AND NEW.outcome <> 'refused'))
BEGIN
    SELECT RAISE(ABORT, 'runs: a kind or an outcome this version of Cairn does not know');
END;
