-- A counter that moves whenever anything a bearer check depends on changes, in any process.
-- The server polls it to drop its token cache when the CLI (another process) changes tokens;
-- usage flushes (request_count, last_used_*) do not move it.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('token_epoch', 0);

CREATE TRIGGER tokens_epoch_on_update
AFTER UPDATE OF workspace_id, name, description, secret_hash, hint, permissions, channel_scoped,
                ip_allowlist, rate_limit_tier, expires_at, revoked_at ON tokens
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;

CREATE TRIGGER tokens_epoch_on_delete AFTER DELETE ON tokens
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;

CREATE TRIGGER token_channels_epoch_on_insert AFTER INSERT ON token_channels
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;

CREATE TRIGGER token_channels_epoch_on_delete AFTER DELETE ON token_channels
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;

CREATE TRIGGER channels_epoch_on_update AFTER UPDATE ON channels
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;

CREATE TRIGGER workspaces_epoch_on_update AFTER UPDATE ON workspaces
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
END;
