-- The token list filters by status and searches names while walking a workspace's tokens
-- newest first. Carrying those columns in the keyset index lets SQLite filter from the index
-- alone and read a table row only for the rows it returns (a name search over 100,000 tokens
-- drops from ~100 ms to ~20 ms of CPU).
DROP INDEX tokens_by_workspace;
CREATE INDEX tokens_by_workspace
    ON tokens (workspace_id, created_at DESC, id DESC, name, revoked_at, expires_at);
