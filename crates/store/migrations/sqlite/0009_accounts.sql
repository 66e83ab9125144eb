-- Accounts for the portal and private mode: users with a passkey (16 random bytes,
-- written as 32 hex digits in announce URLs), a role, a ban flag and their totals;
-- invites stored by the SHA-256 of their code (the code is shown once); and a change
-- log that every node (and a `shoal user` command run beside a server) appends to, so
-- servers reload exactly the accounts that changed since they last looked.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    passkey BLOB NOT NULL UNIQUE,
    password_hash TEXT,
    banned INTEGER NOT NULL DEFAULT 0,
    uploaded INTEGER NOT NULL DEFAULT 0,
    downloaded INTEGER NOT NULL DEFAULT 0,
    invite_quota INTEGER NOT NULL DEFAULT 0,
    invited_by INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE invites (
    code_hash BLOB PRIMARY KEY NOT NULL,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by INTEGER,
    used_at INTEGER
) WITHOUT ROWID;

CREATE TABLE account_changes (
    seq INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL
);
