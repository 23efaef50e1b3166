-- Members and sessions (SPEC §14): one-time invitations to a workspace, and when each admin
-- last signed in (the members list shows it).
ALTER TABLE admins ADD COLUMN last_signin_at BIGINT;

-- An invitation is used once: accepting or revoking it deletes the row. Only the SHA-256 (hex)
-- of the link's code is kept, so a copy of the database cannot join anyone.
CREATE TABLE invites (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    code_hash    TEXT NOT NULL UNIQUE,
    invited_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX invites_by_workspace ON invites (workspace_id, created_at);
