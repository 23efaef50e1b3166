-- Rate limits as policies (SPEC §7): a token has a tier, by name (built in or configured with
-- --rate-limit-tier, so no longer only 'standard' or 'admin'), or its own list of limits
-- (`rate_limits`, e.g. '60/minute,10000/day'; NULL when it uses its tier). The epoch trigger
-- now also watches the limits.
ALTER TABLE tokens DROP CONSTRAINT IF EXISTS tokens_rate_limit_tier_check;
ALTER TABLE tokens ALTER COLUMN rate_limit_tier DROP NOT NULL;
ALTER TABLE tokens ALTER COLUMN rate_limit_tier DROP DEFAULT;
ALTER TABLE tokens ADD COLUMN rate_limits TEXT;

DROP TRIGGER tokens_epoch_on_update ON tokens;
CREATE TRIGGER tokens_epoch_on_update
AFTER UPDATE OF workspace_id, name, description, secret_hash, hint, permissions, channel_scoped,
                ip_allowlist, rate_limit_tier, rate_limits, expires_at, revoked_at, previous_secret_hash,
                previous_secret_expires_at ON tokens
FOR EACH STATEMENT EXECUTE FUNCTION keyward_token_epoch_bump();
