//! The whole BEP 9 exchange with one peer, without I/O: handshake, extension handshake,
//! requests, assembly and verification.

use crate::error::{BadData, FetchError};
use crate::wire::{piece_count, Event, Limits, Session, METADATA_PIECE_LEN};
use crate::{verify, HashKind};

/// Most metadata requests kept in flight at once (fewer if the peer's `reqq` says so).
pub const MAX_IN_FLIGHT: u32 = 4;

/// How a [`MetadataFetch`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The info dict, verified against the info-hash.
    Done {
        /// The info dict's bytes exactly as the peer sent them.
        info: Vec<u8>,
        /// Which hash of them matched.
        matched: HashKind,
    },
    /// Why it failed.
    Failed(FetchError),
}

/// Fetches one torrent's info dict from one peer over a [`Session`], without I/O.
///
/// It fails when the peer lacks the extension protocol or `ut_metadata`, rejects a
/// request, sends a wrong piece or metadata that matches neither form of the
/// info-hash; it keeps at most [`MAX_IN_FLIGHT`] requests (or the peer's `reqq`)
/// outstanding. The caller drives it like a [`Session`]: [`MetadataFetch::receive`],
/// [`MetadataFetch::eof`], [`MetadataFetch::poll_transmit`], and checks
/// [`MetadataFetch::outcome`] after each; [`MetadataFetch::progress`] counts useful
/// messages, for an idle deadline that a peer dripping bytes cannot keep resetting.
///
/// ```
/// use shoal_peer::{MetadataFetch, Limits};
///
/// let mut fetch = MetadataFetch::new([7; 20], *b"-SH0001-000000000000", Limits::default());
/// let mut out = Vec::new();
/// fetch.poll_transmit(&mut out);
/// assert_eq!(&out[..20], b"\x13BitTorrent protocol"); // our handshake, sent first
/// fetch.receive(b"HTTP/1.1 400 Bad Request\r\n");
/// assert_eq!(fetch.outcome().unwrap().unwrap_err().reason(), "handshake");
/// ```
#[derive(Debug)]
pub struct MetadataFetch {
    info_hash: [u8; 20],
    pub(crate) session: Session,
    /// The metadata, allocated once its size is known (and within the cap).
    pub(crate) buffer: Vec<u8>,
    /// Next piece to request.
    next: u32,
    /// Pieces received so far.
    have: u32,
    in_flight: u32,
    max_in_flight: u32,
    client: Option<String>,
    progress: u64,
    outcome: Option<Outcome>,
}

impl MetadataFetch {
    /// A fetch of `info_hash`'s metadata; our handshake is queued at once.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20], limits: Limits) -> MetadataFetch {
        MetadataFetch {
            info_hash,
            session: Session::new(info_hash, peer_id, limits),
            buffer: Vec::new(),
            next: 0,
            have: 0,
            in_flight: 0,
            max_in_flight: MAX_IN_FLIGHT,
            client: None,
            progress: 0,
            outcome: None,
        }
    }

    /// Feeds bytes read from the peer, in any split.
    pub fn receive(&mut self, data: &[u8]) {
        if self.outcome.is_none() {
            self.session.receive(data);
            self.drive();
        }
    }

    /// The peer closed its side: unless already finished, this fails as
    /// [`FetchError::Closed`].
    pub fn eof(&mut self) {
        if self.outcome.is_none() {
            self.session.eof();
            self.drive();
        }
    }

    /// Appends what should be written to the peer to `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        self.session.poll_transmit(buf);
    }

    /// How it ended, once it has: `Ok((info, matched))` or the error.
    pub fn outcome(&self) -> Option<Result<(&[u8], HashKind), &FetchError>> {
        self.outcome.as_ref().map(|o| match o {
            Outcome::Done { info, matched } => Ok((&info[..], *matched)),
            Outcome::Failed(e) => Err(e),
        })
    }

    /// Takes the outcome, once there is one.
    pub fn take_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    /// Whether it has ended (and the outcome not yet taken, or taken).
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some() || self.session.is_done()
    }

    /// A count of useful messages received (handshakes, pieces): when it has not
    /// moved for the idle deadline, the peer is stalling.
    pub fn progress(&self) -> u64 {
        self.progress
    }

    /// The peer's client name (`v` in its extension handshake), once known.
    pub fn client(&self) -> Option<&str> {
        self.client.as_deref()
    }

    /// The metadata size the peer announced, once known.
    pub fn metadata_size(&self) -> Option<u32> {
        self.session.metadata_size()
    }

    fn finish(&mut self, outcome: Outcome) {
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
        }
    }

    fn drive(&mut self) {
        while let Some(event) = self.session.poll_event() {
            if self.outcome.is_some() {
                return;
            }
            if let Err(e) = self.handle(event) {
                self.finish(Outcome::Failed(e));
                return;
            }
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), FetchError> {
        match event {
            Event::Handshake { reserved, .. } => {
                self.progress += 1;
                if !reserved.extensions() {
                    return Err(FetchError::NoExtensions);
                }
            }
            Event::ExtensionHandshake(hs) => {
                self.progress += 1;
                if hs.client.is_some() {
                    self.client = hs.client;
                }
                if !self.buffer.is_empty() {
                    // A later extension handshake (BEP 10 allows updates); the size was
                    // checked unchanged by the session.
                    return Ok(());
                }
                let (Some(_), Some(size)) = (hs.ut_metadata, hs.metadata_size) else {
                    return Err(FetchError::NoMetadata);
                };
                if let Some(reqq) = hs.reqq {
                    self.max_in_flight = reqq.clamp(1, MAX_IN_FLIGHT);
                }
                // The size is within the cap: the session refused anything larger.
                self.buffer = vec![0; size as usize];
                self.request_more()?;
            }
            Event::MetadataPiece { index, data } => {
                self.progress += 1;
                let start = index as usize * METADATA_PIECE_LEN;
                self.buffer[start..start + data.len()].copy_from_slice(&data);
                self.have += 1;
                self.in_flight -= 1;
                if self.have == piece_count(self.buffer.len() as u32) {
                    let info = std::mem::take(&mut self.buffer);
                    let outcome = match verify(&info, &self.info_hash) {
                        Some(matched) => Outcome::Done { info, matched },
                        None => Outcome::Failed(FetchError::BadData(BadData::HashMismatch)),
                    };
                    self.finish(outcome);
                } else {
                    self.request_more()?;
                }
            }
            Event::MetadataRejected { index } => {
                return Err(FetchError::Rejected { piece: index });
            }
            Event::Closed => return Err(FetchError::Closed(None)),
            Event::Error(e) => return Err(e),
        }
        Ok(())
    }

    fn request_more(&mut self) -> Result<(), FetchError> {
        let count = piece_count(self.buffer.len() as u32);
        while self.in_flight < self.max_in_flight && self.next < count {
            self.session.request_piece(self.next)?;
            self.next += 1;
            self.in_flight += 1;
        }
        Ok(())
    }
}
