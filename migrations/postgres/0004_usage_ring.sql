-- As migrations/sqlite/0004 (without its data copy: see 0001): recent requests as a ring of
-- 100 slots per token, and the daily counts indexed by day for pruning.
CREATE TABLE usage_recent (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    slot     BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,
    status   BIGINT NOT NULL,
    ip       TEXT NOT NULL,
    PRIMARY KEY (token_id, slot)
);

DROP TABLE usage_requests;

CREATE INDEX usage_daily_by_day ON usage_daily (day);
