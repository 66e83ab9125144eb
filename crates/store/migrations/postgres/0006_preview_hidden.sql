-- Files a moderator hid from one torrent's preview. Kept when the torrent's preview is
-- forgotten with its catalog entry (as a whole torrent's hide is), so a later fetch of
-- the same torrent leaves them out.
CREATE TABLE preview_hidden (
    info_hash BYTEA NOT NULL,
    path TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (info_hash, path)
);
