-- The search index is (re)built from the catalog in the order entries were resolved,
-- and catches up after a restart from the last time it committed: an index on
-- (resolved_at, info_hash) makes both a range scan.

CREATE INDEX catalog_by_resolved ON catalog (resolved_at, info_hash);
