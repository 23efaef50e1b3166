-- Every server on this database hears a token change at once: the epoch counter's trigger
-- function also sends a notification on channel `keyward_token_epoch` (delivered when the
-- changing transaction commits). Servers still poll the counter, which catches what a lost
-- notification (a reconnect) misses.
CREATE OR REPLACE FUNCTION keyward_token_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'token_epoch';
    PERFORM pg_notify('keyward_token_epoch', '');
    RETURN NULL;
END;
$$;
