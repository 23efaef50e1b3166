-- Webhook endpoints of a workspace. The signing secret is stored sealed (ChaCha20-Poly1305
-- under the server's secret key, nonce first), never in plain text: it must be readable to
-- sign, so it cannot be a hash.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    -- event names separated by commas, or `*`
    events          TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    -- why the server disabled it (a 410), NULL when an admin did or it is enabled
    disabled_reason TEXT,
    secret_sealed   BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhooks (workspace_id);

-- The outbox: one row per event and endpoint, written in the transaction of the change.
-- `id` is the `webhook-id` header, the same on every attempt. A server claims a due row by
-- moving `next_attempt_ms` past the attempt's timeout (a lease): a server that dies during
-- an attempt leaves the row due again once the lease ends.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- pending, delivered, failed
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_at INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_ms);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);

-- Expiry notices already emitted: one per token, expiry and kind (`expiring:30`, `expired`),
-- so each is sent once in total, whichever server sweeps. A new expiry date re-arms them.
CREATE TABLE expiry_notices (
    token_id     TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    days_left    INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (token_id, kind, expires_at)
);
CREATE INDEX expiry_notices_by_workspace ON expiry_notices (workspace_id, at);

-- When each admin last got the daily e-mail digest (at most one a day).
CREATE TABLE notice_digests (
    admin_id TEXT PRIMARY KEY NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    sent_at  INTEGER NOT NULL
);
