-- Password checks (sign-in, and the current password on the password-change form), shared by
-- every server on this database so that throttling holds whichever server a guess reaches.
-- `key_hash` is the SHA-256 (hex) of what an attempt counts against (`email:…`, `ip:…`,
-- `admin:…`), never the email or address itself. A row is reserved (failed = 0) before its
-- password is checked and counts while the check runs; a wrong password makes it a failure
-- (failed = 1), counted for 15 minutes.
CREATE TABLE signin_attempts (
    attempt  TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    at_ms    BIGINT NOT NULL,
    failed   BIGINT NOT NULL,
    PRIMARY KEY (attempt, key_hash)
);
CREATE INDEX signin_attempts_by_key ON signin_attempts (key_hash, at_ms);
CREATE INDEX signin_attempts_by_time ON signin_attempts (at_ms);
