-- The catalog's content preview (issue "Catalog III"). A file is keyed by the SHA-256
-- of its original bytes and held once however many torrents list it; the bytes shown
-- (re-encoded images, decoded text) are in a directory beside the store.
CREATE TABLE preview_torrents (
    info_hash BYTEA PRIMARY KEY NOT NULL,
    -- 1 fetched, 2 hidden by a moderator.
    state BIGINT NOT NULL,
    at BIGINT NOT NULL,
    fetched BIGINT NOT NULL
);

CREATE TABLE preview_files (
    sha256 BYTEA PRIMARY KEY NOT NULL,
    -- 1 text, 2 image.
    kind BIGINT NOT NULL,
    size BIGINT NOT NULL,
    stored BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    encoding TEXT NOT NULL,
    truncated BOOLEAN NOT NULL,
    viewed BIGINT NOT NULL
);
CREATE INDEX preview_files_by_viewed ON preview_files (viewed);

CREATE TABLE preview_links (
    info_hash BYTEA NOT NULL,
    path TEXT NOT NULL,
    sha256 BYTEA NOT NULL,
    PRIMARY KEY (info_hash, path)
);
CREATE INDEX preview_links_by_file ON preview_links (sha256);

CREATE TABLE preview_denied (
    sha256 BYTEA PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL
);
