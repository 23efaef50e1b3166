-- As migrations/sqlite/0006: dashboard sessions under the SHA-256 (hex) of their id, and the
-- keys the server signs with.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    admin_id     TEXT REFERENCES admins (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    data         TEXT NOT NULL
);
CREATE INDEX sessions_by_admin ON sessions (admin_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);
