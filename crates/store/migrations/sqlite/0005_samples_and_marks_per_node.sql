-- Several nodes may share one store. Samples and the swarm-snapshot mark become each
-- node's own, keyed by node id; what one node wrote before is the default node's
-- ('local', shoal_store::LOCAL_NODE). Completed counts keep their table: from this
-- version on, writers add deltas to `count`, so each stored count is the base they add to.
-- SQLite cannot change a primary key in place: each table is copied into a new one.

CREATE TABLE samples_v5 (node TEXT NOT NULL, at INTEGER NOT NULL,
    torrents INTEGER NOT NULL, peers INTEGER NOT NULL, seeders INTEGER NOT NULL,
    leechers INTEGER NOT NULL, announces INTEGER NOT NULL,
    PRIMARY KEY (node, at)) WITHOUT ROWID;
INSERT INTO samples_v5 (node, at, torrents, peers, seeders, leechers, announces)
    SELECT 'local', at, torrents, peers, seeders, leechers, announces FROM samples;
DROP TABLE samples;
ALTER TABLE samples_v5 RENAME TO samples;

CREATE TABLE swarm_samples_v5 (node TEXT NOT NULL, at INTEGER NOT NULL,
    info_hash BLOB NOT NULL, seeders INTEGER NOT NULL, leechers INTEGER NOT NULL,
    PRIMARY KEY (node, at, info_hash)) WITHOUT ROWID;
INSERT INTO swarm_samples_v5 (node, at, info_hash, seeders, leechers)
    SELECT 'local', at, info_hash, seeders, leechers FROM swarm_samples;
DROP TABLE swarm_samples;
ALTER TABLE swarm_samples_v5 RENAME TO swarm_samples;

CREATE TABLE snapshot_mark_v5 (node TEXT PRIMARY KEY NOT NULL,
    written_at INTEGER NOT NULL, checksum BLOB NOT NULL) WITHOUT ROWID;
INSERT INTO snapshot_mark_v5 (node, written_at, checksum)
    SELECT 'local', written_at, checksum FROM snapshot_mark LIMIT 1;
DROP TABLE snapshot_mark;
ALTER TABLE snapshot_mark_v5 RENAME TO snapshot_mark;
