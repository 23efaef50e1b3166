-- Recent requests become a ring of 100 slots per token. A request's `seq` is its position in
-- the token's request count (1, 2, 3, …) and it is written to slot `seq % 100`, overwriting
-- the request 100 before it: storage is bounded by construction, a flush never deletes, and
-- each request is one in-place write in its token's part of the table.
CREATE TABLE usage_recent (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    slot     INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,
    status   INTEGER NOT NULL,
    ip       TEXT NOT NULL,
    PRIMARY KEY (token_id, slot)
) WITHOUT ROWID;

-- The kept requests, numbered back from each token's count (the newest is seq = count).
INSERT INTO usage_recent (token_id, slot, seq, at, method, path, status, ip)
SELECT token_id, seq % 100, seq, at, method, path, status, ip
FROM (
    SELECT r.token_id, r.at, r.method, r.path, r.status, r.ip,
           t.request_count + 1
               - ROW_NUMBER() OVER (PARTITION BY r.token_id ORDER BY r.id DESC) AS seq,
           ROW_NUMBER() OVER (PARTITION BY r.token_id ORDER BY r.id DESC) AS newest
    FROM usage_requests AS r JOIN tokens AS t ON t.id = r.token_id
)
WHERE newest <= 100 AND seq > 0;

DROP TABLE usage_requests;

-- Daily counts past 90 days are pruned by day once a day, not per token on every flush.
CREATE INDEX usage_daily_by_day ON usage_daily (day);
