-- Schema 7 is PostgreSQL's change notification (migrations/postgres/0007): on SQLite one
-- server uses a file and polls the epoch counter, so there is nothing to change.
SELECT 1;
