-- Whether the provider asked, with the object's last recorded change, to
-- compare it again over time (contract 0.2.0's `recheck-after`): its
-- desired state depends on time. 1: every plan compares it, even when Git
-- did not move it and the world is as its last apply left it; 0: such a
-- plan skips it.
ALTER TABLE resources ADD COLUMN recheck BIGINT NOT NULL DEFAULT 0
    CONSTRAINT resources_recheck_is_a_flag CHECK (recheck IN (0, 1));
