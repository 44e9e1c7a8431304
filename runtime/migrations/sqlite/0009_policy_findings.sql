-- What the tenant's policies found in a run's plan (a JSON array of
-- findings, each with its policy, enforcement level, rule, severity,
-- message, address, field and help), and the override an operator gave
-- for it (a JSON object: the policies overridden, by whom, why). Both
-- empty for runs without policies, and for every run before policies.
ALTER TABLE runs ADD COLUMN findings TEXT;
ALTER TABLE runs ADD COLUMN policy_override TEXT;
