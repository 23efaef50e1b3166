-- Rate budgets shared by every server on this database (PostgreSQL; one SQLite server keeps
-- them in memory). A budget is GCRA's theoretical arrival time in Unix nanoseconds: servers
-- add what they allowed every 200 ms and split what is left between them (src/bearer/shares.rs).
CREATE TABLE rate_budgets (
    key    TEXT PRIMARY KEY NOT NULL,
    tat_ns BIGINT NOT NULL
);

-- The servers running on this database, each seen at its last budget sync: how many split a
-- budget, and in what order.
CREATE TABLE instances (
    id         TEXT PRIMARY KEY NOT NULL,
    seen_at_ms BIGINT NOT NULL
);
