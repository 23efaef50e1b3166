-- Recent requests are written as one chunk per token per usage flush instead of one row per
-- request: a flush then costs a few row writes per active token whatever the request rate.
-- A chunk holds the requests of one flush for one token (at most 100, the newest), oldest
-- first, as a JSON array of [at, method, path, status, ip]. `last_seq` is the token's request
-- count after the chunk's newest request, so a chunk whose `last_seq` is 100 or more below the
-- token's count holds none of its newest 100 requests and is deleted by the next flush of that
-- token: each token keeps fewer than 200 requests, readers show the newest 100.
CREATE TABLE usage_recent_chunks (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    last_seq INTEGER NOT NULL,
    requests TEXT NOT NULL
);
CREATE UNIQUE INDEX usage_recent_chunks_by_token ON usage_recent_chunks (token_id, last_seq);

-- Each token's ring (migration 0004) becomes one chunk, oldest first.
INSERT INTO usage_recent_chunks (token_id, last_seq, requests)
SELECT token_id, MAX(seq), json_group_array(json_array(at, method, path, status, ip) ORDER BY seq)
FROM usage_recent
GROUP BY token_id;

DROP TABLE usage_recent;
