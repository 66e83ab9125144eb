-- The catalog: torrents whose metadata was fetched from their swarms, one row per
-- torrent (keyed by the tracker's 20-byte info-hash), its files apart, and the raw info
-- dictionary so the exact .torrent can be rebuilt. Plain column types only, so the same
-- schema reads the same on PostgreSQL (BYTEA, TEXT, BIGINT).

CREATE TABLE catalog (
    info_hash BLOB PRIMARY KEY NOT NULL,
    info_hash_v2 BLOB,
    name TEXT NOT NULL,
    total_size INTEGER NOT NULL,
    file_count INTEGER NOT NULL,
    piece_length INTEGER NOT NULL,
    private INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    resolved_at INTEGER NOT NULL,
    source_peers INTEGER NOT NULL,
    last_active INTEGER NOT NULL,
    info BLOB NOT NULL
);
CREATE INDEX catalog_by_last_active ON catalog (last_active);

CREATE TABLE catalog_files (
    info_hash BLOB NOT NULL,
    idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (info_hash, idx)
) WITHOUT ROWID;
