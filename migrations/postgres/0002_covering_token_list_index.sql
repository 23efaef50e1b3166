-- As migrations/sqlite/0002: the keyset index carries the columns the list filters on.
DROP INDEX tokens_by_workspace;
CREATE INDEX tokens_by_workspace
    ON tokens (workspace_id, created_at DESC, id DESC, name, revoked_at, expires_at);
