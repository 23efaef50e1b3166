-- As migrations/sqlite/0005 (without its data copy: see 0001): recent requests as one chunk
-- per token per usage flush, a JSON array of [at, method, path, status, ip], oldest first.
CREATE TABLE usage_recent_chunks (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL,
    requests TEXT NOT NULL
);
CREATE UNIQUE INDEX usage_recent_chunks_by_token ON usage_recent_chunks (token_id, last_seq);

DROP TABLE usage_recent;
