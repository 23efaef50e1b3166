-- One-time setup codes, kept as the SHA-256 (hex) of the code: every server on this database
-- prints a setup link of its own while no admin exists, and any server accepts any of them.
-- Creating the first admin deletes them all.
CREATE TABLE setup_codes (
    code_hash  TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL
);
