-- Private mode's accounting: what each account uploaded and downloaded per torrent
-- (credited from its announces), whether it was seeding at its last announce, whether it
-- completed the torrent (a snatch), and when it last announced; the account's totals
-- are in `users`. Rows are added to, never replaced: several nodes' credits sum.

CREATE TABLE user_torrents (
    user_id INTEGER NOT NULL,
    info_hash BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    downloaded INTEGER NOT NULL DEFAULT 0,
    seeding INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 0,
    snatched INTEGER NOT NULL DEFAULT 0,
    first_announce INTEGER NOT NULL,
    last_announce INTEGER NOT NULL,
    PRIMARY KEY (user_id, info_hash)
) WITHOUT ROWID;
