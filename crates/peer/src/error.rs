//! Why a metadata fetch failed, one variant per metrics label.

use std::io;

/// Why fetching a torrent's metadata from one peer failed.
///
/// [`FetchError::reason`] gives a short, stable label per variant for metrics and for
/// deciding what to do next (a peer that sent `bad_data` is not asked again for that
/// hash; `connect` and `timeout` may be retried later). The state machines
/// ([`Session`](crate::Session), [`MetadataFetch`](crate::MetadataFetch)) produce all
/// but `connect`, `timeout` and `stalled`, which only the driver can see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The TCP connection could not be made (refused, unreachable, or not within the
    /// connect deadline).
    #[error("cannot connect: {0}")]
    Connect(io::ErrorKind),
    /// The whole exchange did not finish within the total deadline.
    #[error("no metadata within the total deadline")]
    Timeout,
    /// The peer made no progress (no complete useful message) within the idle deadline.
    #[error("no progress within the idle deadline")]
    Stalled,
    /// The peer's BitTorrent handshake was not one, or named another torrent.
    #[error("handshake: {0}")]
    Handshake(HandshakeError),
    /// The peer does not speak the extension protocol (BEP 10: reserved bit 20 unset).
    #[error("peer does not support the extension protocol (BEP 10)")]
    NoExtensions,
    /// The peer cannot share metadata: no `ut_metadata` in its extension handshake, or
    /// no `metadata_size` (it does not have the metadata itself).
    #[error("peer has no metadata to share (BEP 9)")]
    NoMetadata,
    /// The peer's `metadata_size` is above the caller's cap (refused before allocating).
    #[error("metadata_size {size} is over the limit of {max} bytes")]
    TooLarge {
        /// The size the peer announced.
        size: u64,
        /// The cap it broke.
        max: u32,
    },
    /// The peer rejected our request for a metadata piece.
    #[error("peer rejected the request for metadata piece {piece}")]
    Rejected {
        /// The piece it rejected.
        piece: u32,
    },
    /// The metadata or a piece of it was wrong.
    #[error("bad data: {0}")]
    BadData(BadData),
    /// The connection closed (or broke) before the metadata was complete.
    #[error("connection closed before the metadata was complete{}", match .0 {
        Some(kind) => format!(" ({kind})"),
        None => String::new(),
    })]
    Closed(Option<io::ErrorKind>),
    /// The peer broke the wire protocol or one of its limits.
    #[error("protocol: {0}")]
    Protocol(ProtocolError),
}

impl FetchError {
    /// A short, stable label for metrics: `connect`, `timeout`, `stalled`,
    /// `handshake`, `no_extensions`, `no_metadata`, `too_large`, `rejected`,
    /// `bad_data`, `closed` or `protocol`.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Connect(_) => "connect",
            FetchError::Timeout => "timeout",
            FetchError::Stalled => "stalled",
            FetchError::Handshake(_) => "handshake",
            FetchError::NoExtensions => "no_extensions",
            FetchError::NoMetadata => "no_metadata",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Rejected { .. } => "rejected",
            FetchError::BadData(_) => "bad_data",
            FetchError::Closed(_) => "closed",
            FetchError::Protocol(_) => "protocol",
        }
    }

    /// Every label [`FetchError::reason`] can return, for metrics that list them all.
    pub const REASONS: [&'static str; 11] = [
        "connect",
        "timeout",
        "stalled",
        "handshake",
        "no_extensions",
        "no_metadata",
        "too_large",
        "rejected",
        "bad_data",
        "closed",
        "protocol",
    ];
}

/// What was wrong with a peer's BitTorrent handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// It did not start with `\x13BitTorrent protocol`.
    #[error("not the BitTorrent protocol")]
    NotBitTorrent,
    /// It named a different info-hash than the one we asked for.
    #[error("the peer answered for another info-hash")]
    WrongInfoHash,
}

/// What was wrong with the metadata a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadData {
    /// The assembled info dict hashes to neither form of the info-hash.
    #[error("the metadata does not match the info-hash")]
    HashMismatch,
    /// A piece was not 16 KiB (or, for the last piece, the rest of the metadata).
    #[error("metadata piece {piece} is {len} bytes, expected {expected}")]
    PieceSize {
        /// The piece.
        piece: u32,
        /// Its length.
        len: usize,
        /// The length it must have.
        expected: usize,
    },
    /// A piece index past the end of the metadata.
    #[error("metadata piece {piece} is out of range")]
    OutOfRange {
        /// The piece.
        piece: u32,
    },
    /// A piece that was not requested, or arrived twice.
    #[error("metadata piece {piece} was not requested (or came twice)")]
    Unrequested {
        /// The piece.
        piece: u32,
    },
    /// A content block (BEP 3 `piece` message) we did not request, or that came twice.
    #[error("block at {begin} of piece {piece} was not requested (or came twice)")]
    UnrequestedBlock {
        /// The piece.
        piece: u32,
        /// The block's offset in the piece.
        begin: u32,
    },
    /// A whole content piece that does not match the torrent's hash for it.
    #[error("piece {index} does not match the torrent's hash")]
    BadPiece {
        /// The piece.
        index: u32,
    },
    /// A data message's `total_size` differs from the handshake's `metadata_size`.
    #[error("total_size {total_size} differs from metadata_size {metadata_size}")]
    TotalSize {
        /// The message's `total_size`.
        total_size: i64,
        /// The extension handshake's `metadata_size`.
        metadata_size: u32,
    },
}

/// How a peer broke the wire protocol or one of its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A length prefix above the limit (checked before anything is buffered).
    #[error("message of {len} bytes is over the limit of {max}")]
    MessageTooLong {
        /// The announced length.
        len: u32,
        /// The limit for this kind of message.
        max: u32,
    },
    /// An extended message (id 20) without its extended id byte.
    #[error("extended message without an extended id")]
    EmptyExtended,
    /// The extension handshake is not a bencoded dictionary.
    #[error("malformed extension handshake")]
    BadExtensionHandshake,
    /// A later extension handshake changed `metadata_size`.
    #[error("metadata_size changed during the connection")]
    MetadataSizeChanged,
    /// A `ut_metadata` message is not a bencoded dictionary with `msg_type` and `piece`,
    /// or a data message lacks `total_size`.
    #[error("malformed ut_metadata message")]
    BadMetadataMessage,
    /// A BEP 3 or BEP 6 message whose length is not the one its id requires (a
    /// `bitfield` not as long as the torrent's pieces need, say).
    #[error("message {id} of {len} bytes has the wrong length")]
    BadMessageLength {
        /// The message id.
        id: u8,
        /// Its length, id included.
        len: u32,
    },
}
