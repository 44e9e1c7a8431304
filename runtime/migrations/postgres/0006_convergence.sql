-- A provider that did not converge on an object: after its last apply,
-- the provider's own comparison of the spec with what it observed (or
-- returned) still found a difference. JSON {"plugin": SHA256, "reason":
-- TEXT}: the object is held, not applied again while its recorded spec
-- (spec_digest) and the plugin (its sha256) are those of the apply that
-- did not converge. NULL when it converged. The same column as
-- migrations/sqlite/0006.
ALTER TABLE resources ADD COLUMN diverged TEXT;
