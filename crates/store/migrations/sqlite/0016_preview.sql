-- The catalog's content preview (issue "Catalog III"). A file is keyed by the SHA-256
-- of its original bytes and held once however many torrents list it; the bytes shown
-- (re-encoded images, decoded text) are in a directory beside the store.
CREATE TABLE preview_torrents (
    info_hash BLOB PRIMARY KEY NOT NULL,
    -- 1 fetched, 2 hidden by a moderator.
    state INTEGER NOT NULL,
    at INTEGER NOT NULL,
    fetched INTEGER NOT NULL
);

CREATE TABLE preview_files (
    sha256 BLOB PRIMARY KEY NOT NULL,
    -- 1 text, 2 image.
    kind INTEGER NOT NULL,
    size INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    truncated INTEGER NOT NULL,
    viewed INTEGER NOT NULL
);
CREATE INDEX preview_files_by_viewed ON preview_files (viewed);

CREATE TABLE preview_links (
    info_hash BLOB NOT NULL,
    path TEXT NOT NULL,
    sha256 BLOB NOT NULL,
    PRIMARY KEY (info_hash, path)
) WITHOUT ROWID;
CREATE INDEX preview_links_by_file ON preview_links (sha256);

CREATE TABLE preview_denied (
    sha256 BLOB PRIMARY KEY NOT NULL,
    at INTEGER NOT NULL
);
