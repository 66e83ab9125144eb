-- Seeding time per account and torrent (credited like traffic: several nodes' credits
-- sum), when the account first completed the torrent (hit-and-run rules count from
-- then), and the bonus points an account has spent (the points it earned are its
-- seeding time's). SQLite's 0013.

ALTER TABLE user_torrents ADD COLUMN seed_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_torrents ADD COLUMN snatched_at BIGINT;
ALTER TABLE users ADD COLUMN bonus_spent BIGINT NOT NULL DEFAULT 0;
CREATE INDEX user_torrents_by_snatch ON user_torrents (snatched_at);
