-- Rate limits as policies (SPEC §7): a token has a tier, by name (built in or configured with
-- --rate-limit-tier, so no longer only 'standard' or 'admin'), or its own list of limits
-- (`rate_limits`, e.g. '60/minute,10000/day'; NULL when it uses its tier). The tier column
-- loses its CHECK (a column's own CHECK does not stop DROP COLUMN; the epoch trigger that
-- names it is made again, now also watching the limits, beside the previous secret of 0014).
DROP TRIGGER tokens_epoch_on_update;
ALTER TABLE tokens ADD COLUMN rate_tier TEXT;
UPDATE tokens SET rate_tier = rate_limit_tier;
ALTER TABLE tokens DROP COLUMN rate_limit_tier;
ALTER TABLE tokens RENAME COLUMN rate_tier TO rate_limit_tier;
ALTER TABLE tokens ADD COLUMN rate_limits TEXT;

CREATE TRIGGER tokens_epoch_on_update
AFTER UPDATE OF workspace_id, name, description, secret_hash, hint, permissions, channel_scoped,
                ip_allowlist, rate_limit_tier, rate_limits, expires_at, revoked_at, previous_secret_hash,
                previous_secret_expires_at ON tokens
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;
