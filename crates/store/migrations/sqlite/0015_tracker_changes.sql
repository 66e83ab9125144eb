-- What every node must apply to its own memory within a second of any node (or
-- `shoal` beside it) changing the store: admin access-list entries added and removed,
-- catalog entries added and removed (each node's search index), and swarms an admin
-- removed. Nodes read the rows after the last sequence they applied. Triggers write the
-- rows, so no writer can forget one; rows older than an hour are pruned (a node that
-- was away longer reloads everything at start). AUTOINCREMENT: a sequence is never
-- given out twice, even after every row was pruned.
CREATE TABLE tracker_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    info_hash BLOB NOT NULL,
    node TEXT,
    at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX tracker_changes_by_time ON tracker_changes (at);

-- Kinds: 1 access entry added, 2 access entry removed, 3 catalog entry added,
-- 4 catalog entry removed, 5 swarm removed by an admin (written by the node, with its name).
CREATE TRIGGER access_list_added AFTER INSERT ON access_list BEGIN
    INSERT INTO tracker_changes (kind, info_hash) VALUES (1, NEW.info_hash);
END;
CREATE TRIGGER access_list_removed AFTER DELETE ON access_list BEGIN
    INSERT INTO tracker_changes (kind, info_hash) VALUES (2, OLD.info_hash);
END;
CREATE TRIGGER catalog_added AFTER INSERT ON catalog BEGIN
    INSERT INTO tracker_changes (kind, info_hash) VALUES (3, NEW.info_hash);
END;
CREATE TRIGGER catalog_removed AFTER DELETE ON catalog BEGIN
    INSERT INTO tracker_changes (kind, info_hash) VALUES (4, OLD.info_hash);
END;

-- Batches of summed writes (completed counts, credits) a node has committed, by the
-- node's own sequence: a batch retried after its commit's answer was lost (the
-- connection broke) is recognised and not added twice. Kept a day.
CREATE TABLE applied_batches (
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (node, kind, seq)
);
CREATE INDEX applied_batches_by_time ON applied_batches (at);
