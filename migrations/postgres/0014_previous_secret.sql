-- As migrations/sqlite/0014: a token's previous secret (SHA-256 only) that keeps working until
-- `previous_secret_expires_at` (SPEC §12), checked by the bearer lookup itself.
ALTER TABLE tokens ADD COLUMN previous_secret_hash BYTEA;
ALTER TABLE tokens ADD COLUMN previous_hint TEXT;
ALTER TABLE tokens ADD COLUMN previous_secret_expires_at BIGINT;
CREATE UNIQUE INDEX tokens_by_previous_secret ON tokens (previous_secret_hash)
    WHERE previous_secret_hash IS NOT NULL;

-- Ending an overlap changes what authenticates: the epoch moves (and notifies) for these
-- columns too.
DROP TRIGGER tokens_epoch_on_update ON tokens;
CREATE TRIGGER tokens_epoch_on_update
AFTER UPDATE OF workspace_id, name, description, secret_hash, hint, permissions, channel_scoped,
                ip_allowlist, rate_limit_tier, expires_at, revoked_at, previous_secret_hash,
                previous_secret_expires_at ON tokens
FOR EACH STATEMENT EXECUTE FUNCTION keyward_token_epoch_bump();
