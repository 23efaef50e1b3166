-- As migrations/sqlite/0019: partial indexes over live tokens that expire, for the tokens
-- page's expiring count and the expiry sweeper.
CREATE INDEX tokens_expiring_by_workspace ON tokens (workspace_id, expires_at)
    WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
CREATE INDEX tokens_expiring ON tokens (expires_at)
    WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
