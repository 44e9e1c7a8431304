-- A commit refused before anything was planned (its signature, a quota,
-- its ref gone from the remote) is recorded as a run of its own: the
-- outcome `refused`, and the reason the operator reads, kept with the run.
-- The check of a run's outcome (0004) is made again with the new word,
-- NOT VALID as there. The same words as migrations/sqlite/0005.

ALTER TABLE runs ADD COLUMN reason TEXT;

ALTER TABLE runs DROP CONSTRAINT runs_outcome_is_known;
ALTER TABLE runs ADD CONSTRAINT runs_outcome_is_known
    CHECK (outcome IS NULL OR outcome IN ('planned', 'blocked', 'succeeded', 'failed', 'partial', 'interrupted', 'detected', 'refused')) NOT VALID;
