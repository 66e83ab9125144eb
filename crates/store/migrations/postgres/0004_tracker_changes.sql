-- What every node must apply to its own memory within a second of any node changing
-- the store: admin access-list entries added and removed, catalog entries added and
-- removed (each node's search index), and swarms an admin removed. Nodes read the rows
-- after the last sequence they applied; rows older than an hour are pruned.
CREATE TABLE tracker_changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind SMALLINT NOT NULL,
    info_hash BYTEA NOT NULL,
    node TEXT,
    at BIGINT NOT NULL DEFAULT EXTRACT(EPOCH FROM now())::BIGINT
);
CREATE INDEX tracker_changes_by_time ON tracker_changes (at);

-- Kinds: 1 access entry added, 2 access entry removed, 3 catalog entry added,
-- 4 catalog entry removed, 5 swarm removed by an admin.
--
-- Readers take every change up to the largest sequence they see, so no change may
-- become visible after a larger one: writers take turns on the log (readers are not
-- blocked), each drawing its sequence only once the one before has committed.
--
-- The writing node is named by its connection (application_name "shoal <node>"): a
-- node does not apply its own changes again.
CREATE FUNCTION log_tracker_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    writer TEXT := NULLIF(substring(current_setting('application_name') FROM '^shoal (.+)$'), '');
BEGIN
    LOCK TABLE tracker_changes IN EXCLUSIVE MODE;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO tracker_changes (kind, info_hash, node)
            VALUES (TG_ARGV[0]::SMALLINT, OLD.info_hash, writer);
    ELSE
        INSERT INTO tracker_changes (kind, info_hash, node)
            VALUES (TG_ARGV[0]::SMALLINT, NEW.info_hash, writer);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER access_list_added AFTER INSERT ON access_list
    FOR EACH ROW EXECUTE FUNCTION log_tracker_change(1);
CREATE TRIGGER access_list_removed AFTER DELETE ON access_list
    FOR EACH ROW EXECUTE FUNCTION log_tracker_change(2);
CREATE TRIGGER catalog_added AFTER INSERT ON catalog
    FOR EACH ROW EXECUTE FUNCTION log_tracker_change(3);
CREATE TRIGGER catalog_removed AFTER DELETE ON catalog
    FOR EACH ROW EXECUTE FUNCTION log_tracker_change(4);

-- Batches of summed writes (completed counts, credits) a node has committed, by the
-- node's own sequence: a batch retried after its commit's answer was lost (the
-- connection broke) is recognised and not added twice. Kept a day.
CREATE TABLE applied_batches (
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (node, kind, seq)
);
CREATE INDEX applied_batches_by_time ON applied_batches (at);
