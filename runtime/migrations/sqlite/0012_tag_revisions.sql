-- The revision each release tag named when Cairn first read it
-- (`source::tags`): a tag found naming another is refused. Kept in the
-- store, not in a daemon's cache folder, so that every daemon sharing the
-- store refuses the same move: a tenant taken over by another daemon, or
-- a cache folder emptied, does not forget what the tag named. The
-- repository is kept as `sha256:` and the hex digest of its address, never
-- the address, which may carry a token.
CREATE TABLE tag_revisions (
    repo_digest TEXT NOT NULL,
    tag TEXT NOT NULL,
    revision TEXT NOT NULL,
    first_read_at INTEGER NOT NULL,
    PRIMARY KEY (repo_digest, tag)
);
