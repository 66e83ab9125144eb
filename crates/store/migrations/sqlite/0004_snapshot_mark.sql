CREATE TABLE snapshot_mark (written_at INTEGER NOT NULL, checksum BLOB NOT NULL);
