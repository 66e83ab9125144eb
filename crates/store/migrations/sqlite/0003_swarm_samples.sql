CREATE TABLE swarm_samples (at INTEGER NOT NULL, info_hash BLOB NOT NULL,
    seeders INTEGER NOT NULL, leechers INTEGER NOT NULL,
    PRIMARY KEY (at, info_hash)) WITHOUT ROWID;
