-- What each change did, in its provider's words (`start run 3: pause 1
-- of 2 web for 30s (web-1)`, `update ttl: 300 → 600`): the history shows
-- it beside the action. NULL for rows written before it was kept, and for
-- drift found.
ALTER TABLE audit ADD COLUMN summary TEXT;
