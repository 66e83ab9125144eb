-- Only completed rows have a completion time: the index that hit-and-run rules read
-- holds only those, so crediting a new account and torrent writes one B-tree, not two.

DROP INDEX user_torrents_by_snatch;
CREATE INDEX user_torrents_by_snatch ON user_torrents (snatched_at) WHERE snatched_at IS NOT NULL;
