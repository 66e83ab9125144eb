-- A hybrid (v1 + v2) torrent has two tracker hashes: clients announce it under its v1
-- hash and under its v2 hash truncated to 20 bytes. Its catalog entry is keyed by the
-- one it was resolved under; the other is an alias, so the torrent is one entry.

CREATE TABLE catalog_aliases (
    alias BLOB PRIMARY KEY NOT NULL,
    info_hash BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX catalog_aliases_by_entry ON catalog_aliases (info_hash);
