-- Leases are split evenly over the servers (src/bearer/shares.rs): demand is not recorded.
ALTER TABLE rate_leases DROP COLUMN demand;
