-- The tokens page counts a workspace's live tokens expiring within 7 days, and the expiry
-- sweeper lists every live token expiring within its horizon. Both walked every token (the
-- count the workspace's keyset index: ~14 ms at 100,000 tokens, on every page view). Two
-- partial indexes over live tokens that expire make each a range read of just those.
CREATE INDEX tokens_expiring_by_workspace ON tokens (workspace_id, expires_at)
    WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
CREATE INDEX tokens_expiring ON tokens (expires_at)
    WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
