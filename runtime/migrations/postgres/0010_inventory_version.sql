-- Each tenant's inventory version: one more with every transaction that
-- writes its `resources` or `intents` rows. A daemon's worker keeps its
-- tenant's inventory in memory and uses the copy only while the version
-- is the one it kept. No row: no write yet (version 0).
CREATE TABLE inventory_versions (
    tenant TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
