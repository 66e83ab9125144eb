-- Seeding time per account and torrent (credited like traffic: several nodes' credits
-- sum), when the account first completed the torrent (hit-and-run rules count from
-- then), and the bonus points an account has spent (the points it earned are its
-- seeding time's).

ALTER TABLE user_torrents ADD COLUMN seed_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_torrents ADD COLUMN snatched_at INTEGER;
ALTER TABLE users ADD COLUMN bonus_spent INTEGER NOT NULL DEFAULT 0;
CREATE INDEX user_torrents_by_snatch ON user_torrents (snatched_at);
