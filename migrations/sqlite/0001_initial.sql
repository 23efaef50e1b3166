-- keyward schema: every table the product needs (SPEC §2-§7). Times are Unix seconds (UTC).

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE admins (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    admin_id     TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, admin_id)
);
CREATE INDEX memberships_by_admin ON memberships (admin_id);

CREATE TABLE channels (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    -- SHA-256 of the full secret; the secret itself is never stored.
    secret_hash     BLOB NOT NULL UNIQUE,
    hint            TEXT NOT NULL,
    -- space-separated permission codes
    permissions     TEXT NOT NULL,
    -- 0: all channels; 1: only the channels in token_channels (possibly none left)
    channel_scoped  INTEGER NOT NULL DEFAULT 0 CHECK (channel_scoped IN (0, 1)),
    -- one address or CIDR per line; empty = any address
    ip_allowlist    TEXT NOT NULL DEFAULT '',
    rate_limit_tier TEXT NOT NULL DEFAULT 'standard' CHECK (rate_limit_tier IN ('standard', 'admin')),
    expires_at      INTEGER,
    revoked_at      INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    created_by_type TEXT NOT NULL CHECK (created_by_type IN ('admin', 'token', 'cli')),
    created_by_id   TEXT,
    created_by_name TEXT NOT NULL,
    -- usage totals, written by the usage flusher only
    request_count   INTEGER NOT NULL DEFAULT 0,
    last_used_at    INTEGER,
    last_used_ip    TEXT
);
-- keyset pagination of a workspace's list, newest first
CREATE INDEX tokens_by_workspace ON tokens (workspace_id, created_at DESC, id DESC);

CREATE TABLE token_channels (
    token_id   TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, channel_id)
);
CREATE INDEX token_channels_by_channel ON token_channels (channel_id);

-- requests per token per UTC day (YYYY-MM-DD), kept 90 days
CREATE TABLE usage_daily (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    day      TEXT NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (token_id, day)
) WITHOUT ROWID;

-- the most recent requests per token (100 kept)
CREATE TABLE usage_requests (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,
    status   INTEGER NOT NULL,
    ip       TEXT NOT NULL
);
CREATE INDEX usage_requests_by_token ON usage_requests (token_id, id DESC);

-- who did what to which token, when and from where; never a secret
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    actor_type   TEXT NOT NULL CHECK (actor_type IN ('admin', 'token', 'cli')),
    actor_id     TEXT,
    actor_name   TEXT NOT NULL,
    action       TEXT NOT NULL,
    -- kept (not a foreign key) so entries outlive a deleted token
    token_id     TEXT,
    token_name   TEXT,
    ip           TEXT,
    details      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_workspace ON audit_log (workspace_id, id DESC);
CREATE INDEX audit_by_token ON audit_log (workspace_id, token_id, id DESC);
