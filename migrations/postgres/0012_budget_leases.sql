-- A server allows requests from a lease: units of a budget reserved for it until
-- `expires_ms`, renewed at each of its syncs (every 200 ms) and given back at shutdown. The
-- leases of all servers never add up to more than a budget has left; a server that dies
-- without giving its lease back loses it when the lease expires (1 s), so no budget stays
-- reserved for a server that is gone.
CREATE TABLE rate_leases (
    key        TEXT NOT NULL,
    server     TEXT NOT NULL,
    units      BIGINT NOT NULL,
    -- units it allowed in its last sync period: leases are split in proportion to demand
    demand     BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (key, server)
);
CREATE INDEX rate_leases_by_expiry ON rate_leases (expires_ms);
