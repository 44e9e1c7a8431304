-- The revision each release tag named when Cairn first read it
-- (`source::tags`): a tag found naming another is refused. Kept in the
-- store, not in a daemon's cache folder, so that every daemon sharing the
-- store refuses the same move: a tenant taken over by another daemon, or
-- a cache folder emptied, does not forget what the tag named.
CREATE TABLE tag_revisions (
    repo TEXT NOT NULL,
    tag TEXT NOT NULL,
    revision TEXT NOT NULL,
    first_read_at BIGINT NOT NULL,
    PRIMARY KEY (repo, tag)
);
