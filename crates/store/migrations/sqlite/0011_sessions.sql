-- The site's login sessions: a session is known only by the SHA-256 of its token (the
-- token itself lives in the browser's cookie), with the account, a per-session secret
-- for the forms' CSRF tokens, and when it ends. Expired rows are deleted as new
-- sessions are made.

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    csrf BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
