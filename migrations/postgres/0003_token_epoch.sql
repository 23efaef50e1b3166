-- As migrations/sqlite/0003: a counter that moves whenever anything a bearer check depends on
-- changes, in any process; usage flushes (request_count, last_used_*) do not move it.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('token_epoch', 0);

CREATE FUNCTION keyward_token_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
    RETURN NULL;
END;
$$;

CREATE TRIGGER tokens_epoch_on_update
AFTER UPDATE OF workspace_id, name, description, secret_hash, hint, permissions, channel_scoped,
                ip_allowlist, rate_limit_tier, expires_at, revoked_at ON tokens
FOR EACH STATEMENT EXECUTE FUNCTION keyward_token_epoch_bump();

CREATE TRIGGER tokens_epoch_on_delete AFTER DELETE ON tokens
FOR EACH STATEMENT EXECUTE FUNCTION keyward_token_epoch_bump();

CREATE TRIGGER token_channels_epoch_on_insert AFTER INSERT ON token_channels
FOR EACH STATEMENT EXECUTE FUNCTION keyward_token_epoch_bump();

CREATE TRIGGER token_channels_epoch_on_delete AFTER DELETE ON token_channels
FOR EACH STATEMENT EXECUTE FUNCTION keyward_token_epoch_bump();

CREATE TRIGGER channels_epoch_on_update AFTER UPDATE ON channels
FOR EACH STATEMENT EXECUTE FUNCTION keyward_token_epoch_bump();
