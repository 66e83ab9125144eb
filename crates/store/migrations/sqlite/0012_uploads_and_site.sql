-- The portal's publishing and site administration.
--
-- uploads: torrents published through the site, keyed like the catalog (the tracker's
-- 20-byte hash; a hybrid's other hash is in the catalog's aliases once approved). An
-- approved upload's metadata is in the catalog; a pending one keeps its entry here
-- (`pending`, the catalog entry's fields as they will be stored) until a moderator
-- approves it. `freeleech`: downloads on it are not counted.
--
-- site_settings: what admins change on the site (registration, global freeleech, double
-- upload, who may upload), overriding the configuration file; `version` counts changes
-- to settings and freeleech flags so servers reload them only when they changed.
--
-- users.ratio_exempt: an admin's override of the ratio rule for one account.

CREATE TABLE uploads (
    info_hash BLOB PRIMARY KEY NOT NULL,
    alias BLOB,
    user_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    approved INTEGER NOT NULL,
    freeleech INTEGER NOT NULL DEFAULT 0,
    total_size INTEGER NOT NULL,
    file_count INTEGER NOT NULL,
    pending BLOB
) WITHOUT ROWID;
CREATE INDEX uploads_by_user ON uploads (user_id, created_at);
CREATE INDEX uploads_by_alias ON uploads (alias);
CREATE INDEX uploads_pending ON uploads (approved, created_at);

CREATE TABLE site_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO site_settings (key, value) VALUES ('version', '0');

ALTER TABLE users ADD COLUMN ratio_exempt INTEGER NOT NULL DEFAULT 0;
