-- A secret between the create/regenerate POST and the page that shows it once, readable by
-- whichever server that page's request reaches. Never the secret itself: `sealed` is the
-- secret XOR a one-time pad of its length that only the browser holds (a cookie); the row is
-- found by the SHA-256 (hex) of a random id that only the session holds. Deleted when shown,
-- and ignored (then deleted) after 10 minutes.
CREATE TABLE reveals (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    admin_id    TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    token_id    TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    regenerated INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX reveals_by_expiry ON reveals (expires_at);
