-- Rolling a secret with an overlap (SPEC §12): a token may hold a previous secret, as its
-- SHA-256 only, which keeps authenticating as the same token until
-- `previous_secret_expires_at`. The bearer lookup checks that time itself, so the row needs
-- no sweep when it passes; `previous_hint` is what recent requests and the dashboard show.
ALTER TABLE tokens ADD COLUMN previous_secret_hash BLOB;
ALTER TABLE tokens ADD COLUMN previous_hint TEXT;
ALTER TABLE tokens ADD COLUMN previous_secret_expires_at INTEGER;
CREATE UNIQUE INDEX tokens_by_previous_secret ON tokens (previous_secret_hash)
    WHERE previous_secret_hash IS NOT NULL;

-- Ending an overlap changes what authenticates: the epoch moves for these columns too.
DROP TRIGGER tokens_epoch_on_update;
CREATE TRIGGER tokens_epoch_on_update
AFTER UPDATE OF workspace_id, name, description, secret_hash, hint, permissions, channel_scoped,
                ip_allowlist, rate_limit_tier, expires_at, revoked_at, previous_secret_hash,
                previous_secret_expires_at ON tokens
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;
