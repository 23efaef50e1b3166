-- Dashboard sessions under the SHA-256 (hex) of their id: the cookie value is never stored, so
-- a copy of the database cannot sign anyone in. Replaces the `sessions` table that the former
-- session store created outside these migrations; sessions signed in before this migration end.
DROP TABLE IF EXISTS sessions;

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    -- set once the session is signed in
    admin_id     TEXT REFERENCES admins (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    -- 12 hours after last_seen_at, never more than 7 days after created_at
    expires_at   INTEGER NOT NULL,
    -- where and with what it signed in
    ip           TEXT,
    user_agent   TEXT,
    -- the session's other values as a JSON object
    data         TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_admin ON sessions (admin_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Keys the server signs with (the sign-in and setup forms' CSRF tokens), made once by the first
-- process that needs one, so every process on this database signs and checks alike.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;
