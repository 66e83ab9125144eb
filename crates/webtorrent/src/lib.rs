//! The WebTorrent tracker's logic, without sockets.
//!
//! A WebTorrent tracker relays WebRTC offers and answers between browsers over
//! WebSockets. This crate is everything that decides what to do with a message —
//! admission through the shared [`Gate`], announces into the engine's
//! [`WsSwarms`], offer fan-out, answer routing, the per-connection limits — written
//! the way `shoal-udp`'s handler is: text frames in, text frames out, no runtime. The
//! transport (HTTP upgrade, WebSocket framing, queues, timers) lives in `shoal-http`
//! and drives it:
//!
//! - [`Tracker::connection`] when a WebSocket opens, with the connection's own
//!   [`Mailbox`] (the bounded queue other connections push relays into);
//! - [`Connection::receive`] for every text frame, whose return value is the reply to
//!   write back; relays for other connections are pushed to their mailboxes;
//! - [`Connection::delivering`] for each relay the transport takes from its mailbox
//!   and writes (an offer the client was shown is the only one it may answer);
//! - [`Connection::close`] when the socket closes, which leaves every swarm it joined.
//!
//! Time is passed in: engine seconds for the swarms, milliseconds for rate limits and
//! offer lifetimes.
#![deny(missing_docs)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use shoal_engine::gate::{Ask, Gate, Verdict};
use shoal_engine::ratelimit::Action as Limit;
use shoal_engine::webtorrent::{PendingOffers, WsConfig, WsJoin, WsSwarms};
use shoal_engine::{AnnounceEvent, InfoHash, PeerId, Rejection, Secs};
use shoal_protocol::ws::{
    parse, write_announce_response, write_answer, write_failure, write_offer,
    write_scrape_response, Action, ClientMessage, ParseLimits, ScrapeEntry, WsScrape,
};

#[cfg(test)]
mod tests;

/// The WebTorrent tracker's rules.
#[derive(Debug, Clone)]
pub struct Config {
    /// The swarms' rules (interval, grace, limits).
    pub swarms: WsConfig,
    /// Most offers relayed from one announce; more are ignored.
    pub max_offers: usize,
    /// Most torrents one connection may be in.
    pub max_torrents_per_connection: usize,
    /// Milliseconds a relayed offer may be answered.
    pub offer_ttl_ms: u64,
    /// Offers a connection remembers for answering (the latest ones).
    pub pending_offers: usize,
    /// Most info-hashes answered per scrape; extra hashes are ignored.
    pub max_scrape_hashes: usize,
    /// Whether a scrape without info-hashes answers for every torrent.
    pub full_scrape: bool,
    /// Seconds a client must wait between full scrapes.
    pub full_scrape_interval: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            swarms: WsConfig::default(),
            max_offers: 10,
            max_torrents_per_connection: 1000,
            offer_ttl_ms: 60_000,
            pending_offers: 32,
            max_scrape_hashes: 64,
            full_scrape: false,
            full_scrape_interval: 600,
        }
    }
}

/// A relayed message for another connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The frame to write, as is.
    pub text: String,
    /// For an offer: what the receiving connection may answer.
    pub offer: Option<Offered>,
}

/// An offer relayed to a connection, which may answer it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The offering peer.
    pub from: PeerId,
    /// The offer's id, which the answer names.
    pub offer_id: [u8; 20],
}

/// How other connections reach one connection: the transport's bounded queue.
pub trait Mailbox: Clone + Send + Sync + 'static {
    /// Queues `relay`; false when the connection cannot take it (its queue is over
    /// budget: a slow reader, which the transport closes).
    fn push(&self, relay: Relay) -> bool;
}

/// Counters of what the WebTorrent tracker did. The connection counters are the
/// transport's to keep; the rest are kept here.
#[derive(Debug, Default)]
pub struct WsStats {
    /// WebSocket connections accepted.
    pub connections: AtomicU64,
    /// WebSocket connections closed.
    pub closed: AtomicU64,
    /// Upgrades refused by the per-address connection limit.
    pub refused_per_ip: AtomicU64,
    /// Announces answered.
    pub announces: AtomicU64,
    /// Scrapes answered.
    pub scrapes: AtomicU64,
    /// Offers relayed to another peer.
    pub offers_relayed: AtomicU64,
    /// Offers not relayed (no one to send them to, or the receiver was full).
    pub offers_dropped: AtomicU64,
    /// Answers relayed to the peer that made the offer.
    pub answers_relayed: AtomicU64,
    /// Answers refused: no matching offer was sent on this connection, it expired, or
    /// the offering peer is gone.
    pub answers_refused: AtomicU64,
    /// Requests answered with a failure (bad message, not allowed, limits).
    pub failures: AtomicU64,
    /// Announces and scrapes refused by per-source rate limits.
    pub rate_limited: AtomicU64,
    /// Connections closed for a message or frame over the size limit.
    pub too_large: AtomicU64,
    /// Connections closed because their outbound queue was over budget.
    pub slow_readers: AtomicU64,
    /// Connections closed after their idle timeout.
    pub idle_closed: AtomicU64,
}

impl WsStats {
    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.connections
            .load(Relaxed)
            .saturating_sub(self.closed.load(Relaxed))
    }
}

/// Most torrents in a WebTorrent full scrape.
const MAX_FULL_SCRAPE: usize = 100_000;

/// The WebTorrent swarms and the rules every connection shares.
pub struct Tracker<M> {
    config: Config,
    gate: Arc<Gate>,
    swarms: WsSwarms<M>,
    stats: WsStats,
    next_conn: AtomicU64,
}

impl<M> std::fmt::Debug for Tracker<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<M: Mailbox> Tracker<M> {
    /// Empty swarms behind `gate`; `seed` keys their tables (give it fresh randomness).
    pub fn new(config: Config, gate: Arc<Gate>, seed: u64) -> Self {
        Tracker {
            swarms: WsSwarms::new(config.swarms.clone(), seed),
            config,
            gate,
            stats: WsStats::default(),
            next_conn: AtomicU64::new(1),
        }
    }

    /// The swarms (for stats and purging).
    pub fn swarms(&self) -> &WsSwarms<M> {
        &self.swarms
    }

    /// The counters.
    pub fn stats(&self) -> &WsStats {
        &self.stats
    }

    /// The rules in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new connection from `client`, reached through `mailbox`. `passkey` is what
    /// the upgrade request's path carried (`/announce/<key>`), for a private tracker.
    pub fn connection(&self, client: IpAddr, passkey: Option<&[u8]>, mailbox: M) -> Connection<M> {
        Connection {
            id: self.next_conn.fetch_add(1, Relaxed),
            client,
            passkey: passkey.map(Box::from),
            mailbox,
            joined: Vec::new(),
            pending: PendingOffers::default(),
        }
    }
}

/// One WebSocket connection's state: its peers' memberships and the offers it may
/// answer.
pub struct Connection<M> {
    id: u64,
    client: IpAddr,
    passkey: Option<Box<[u8]>>,
    mailbox: M,
    /// Swarms this connection's peers joined, left when it closes.
    joined: Vec<(InfoHash, PeerId)>,
    pending: PendingOffers,
}

impl<M: Mailbox> Connection<M> {
    /// Torrents this connection's peers are in.
    pub fn torrents(&self) -> usize {
        self.joined.len()
    }

    /// Offers this connection may still answer (at most `pending_offers`).
    pub fn pending_offers(&self) -> usize {
        self.pending.len()
    }

    /// Answers one client message. Returns the frame to write back, if any; relays
    /// to other connections go to their mailboxes.
    pub fn receive(
        &mut self,
        t: &Tracker<M>,
        text: &str,
        now: Secs,
        now_ms: u64,
    ) -> Option<String> {
        let cfg = &t.config;
        let limits = ParseLimits {
            max_offers: cfg.max_offers,
            max_scrape_hashes: cfg.max_scrape_hashes,
        };
        let mut out = String::new();
        let fail = |out: &mut String, reason: &str, action, hash: Option<&InfoHash>| {
            t.stats.failures.fetch_add(1, Relaxed);
            write_failure(out, reason, action, hash);
        };
        let msg = match parse(text, limits) {
            Ok(m) => m,
            Err(e) => {
                fail(&mut out, e.reason, e.action, e.info_hash.as_ref());
                return Some(out);
            }
        };
        match msg {
            ClientMessage::Announce(a) => {
                let h = a.info_hash;
                match self.admit(t, Limit::Announce, Some(&h), now_ms) {
                    Verdict::Admit => {}
                    v => {
                        write_failure(
                            &mut out,
                            v.reason(Limit::Announce),
                            Some(Action::Announce),
                            Some(&h),
                        );
                        return Some(out);
                    }
                }
                let member = self.joined.contains(&(h, a.peer_id));
                if !member
                    && a.event != AnnounceEvent::Stopped
                    && self.joined.len() >= cfg.max_torrents_per_connection
                {
                    let reason = "too many torrents on one connection";
                    fail(&mut out, reason, Some(Action::Announce), Some(&h));
                    return Some(out);
                }
                let wanted = a
                    .offers
                    .len()
                    .min(a.numwant.map_or(usize::MAX, |n| n as usize));
                let join = WsJoin {
                    info_hash: h,
                    peer_id: a.peer_id,
                    conn: self.id,
                    event: a.event,
                    seeder: a.left == Some(0),
                    offers: wanted,
                };
                let mut targets = Vec::new();
                let o = t.swarms.announce(&join, &self.mailbox, now, &mut targets);
                if a.event == AnnounceEvent::Stopped {
                    self.joined.retain(|j| *j != (h, a.peer_id));
                } else if o.joined && !member {
                    self.joined.push((h, a.peer_id));
                }
                // A full tracker, or a peer id another live connection holds: a
                // failure rather than counts, so the client learns that its announce
                // and offers went nowhere.
                if let Some(r @ (Rejection::TooManyTorrents | Rejection::PeerIdInUse)) = o.rejected
                {
                    fail(&mut out, r.as_str(), Some(Action::Announce), Some(&h));
                    return Some(out);
                }
                t.stats.announces.fetch_add(1, Relaxed);
                let dropped = a.offers.len() + a.offers_dropped - targets.len();
                t.stats.offers_dropped.fetch_add(dropped as u64, Relaxed);
                for ((_, to), offer) in targets.iter().zip(&a.offers) {
                    let mut text = String::new();
                    write_offer(&mut text, &h, &a.peer_id, &offer.offer_id, offer.offer);
                    let relay = Relay {
                        text,
                        offer: Some(Offered {
                            info_hash: h,
                            from: a.peer_id,
                            offer_id: offer.offer_id,
                        }),
                    };
                    let counter = if to.push(relay) {
                        &t.stats.offers_relayed
                    } else {
                        &t.stats.offers_dropped
                    };
                    counter.fetch_add(1, Relaxed);
                }
                write_announce_response(&mut out, &h, o.complete, o.incomplete, o.interval);
                Some(out)
            }
            ClientMessage::Answer(ans) => {
                let routed = self
                    .pending
                    .take(&ans.info_hash, &ans.to_peer_id, &ans.offer_id, now_ms)
                    .then(|| t.swarms.member(&ans.info_hash, &ans.to_peer_id))
                    .flatten();
                let sent = routed.is_some_and(|to| {
                    let mut text = String::new();
                    write_answer(
                        &mut text,
                        &ans.info_hash,
                        &ans.peer_id,
                        &ans.offer_id,
                        ans.answer,
                    );
                    to.push(Relay { text, offer: None })
                });
                let counter = if sent {
                    &t.stats.answers_relayed
                } else {
                    &t.stats.answers_refused
                };
                counter.fetch_add(1, Relaxed);
                // Answers get no reply (the offering peer gets the answer).
                None
            }
            ClientMessage::Scrape(scrape) => {
                match self.admit(t, Limit::Scrape, None, now_ms) {
                    Verdict::Admit => {}
                    v => {
                        write_failure(
                            &mut out,
                            v.reason(Limit::Scrape),
                            Some(Action::Scrape),
                            None,
                        );
                        return Some(out);
                    }
                }
                let entry = |(info_hash, complete, incomplete, downloaded)| ScrapeEntry {
                    info_hash,
                    complete,
                    incomplete,
                    downloaded,
                };
                let files: Vec<ScrapeEntry> = match scrape {
                    WsScrape::Hashes(hashes) => hashes
                        .iter()
                        .map(|h| {
                            let (c, i, d) = t.swarms.scrape(h);
                            entry((*h, c, i, d))
                        })
                        .collect(),
                    WsScrape::All => {
                        if !cfg.full_scrape {
                            let reason = "full scrape is disabled: name info_hash values";
                            fail(&mut out, reason, Some(Action::Scrape), None);
                            return Some(out);
                        }
                        if !t
                            .gate
                            .full_scrape(self.client, now, cfg.full_scrape_interval)
                        {
                            let reason = "full scrape allowed once per full_scrape_interval";
                            fail(&mut out, reason, Some(Action::Scrape), None);
                            return Some(out);
                        }
                        let mut all = Vec::new();
                        t.swarms.scrape_all(&mut all, MAX_FULL_SCRAPE);
                        all.into_iter().map(entry).collect()
                    }
                };
                t.stats.scrapes.fetch_add(1, Relaxed);
                write_scrape_response(&mut out, &files);
                Some(out)
            }
        }
    }

    /// Asks the gate; counts what it refuses.
    fn admit(&self, t: &Tracker<M>, action: Limit, h: Option<&InfoHash>, now_ms: u64) -> Verdict {
        let verdict = t.gate.check(&Ask {
            action,
            source: self.client,
            info_hash: h,
            passkey: self.passkey.as_deref(),
            now_ms,
        });
        match verdict {
            Verdict::Admit => {}
            Verdict::RateLimited => {
                t.stats.rate_limited.fetch_add(1, Relaxed);
            }
            Verdict::Refuse(_) => {
                t.stats.failures.fetch_add(1, Relaxed);
            }
        }
        verdict
    }

    /// Notes a relay the transport is about to write to this connection: an offer
    /// shown to the client is one it may answer (until `offer_ttl_ms`).
    pub fn delivering(&mut self, t: &Tracker<M>, relay: &Relay, now_ms: u64) {
        if let Some(o) = relay.offer {
            let cfg = &t.config;
            self.pending.record(
                o.info_hash,
                o.from,
                o.offer_id,
                now_ms,
                cfg.offer_ttl_ms,
                cfg.pending_offers,
            );
        }
    }

    /// Forgets offers past their lifetime (call when idle).
    pub fn expire(&mut self, now_ms: u64) {
        self.pending.expire(now_ms);
    }

    /// Leaves every swarm this connection joined (call once, when it closes).
    pub fn close(&mut self, t: &Tracker<M>) {
        for (h, id) in self.joined.drain(..) {
            t.swarms.remove(&h, &id, self.id);
        }
    }
}
