//! The admission gate: the one place that decides whether a tracker request is served.
//!
//! Every front end (UDP, HTTP, WebTorrent) asks [`Gate::check`] before it lets a
//! request touch the swarms, with what it knows of the request: the action, the
//! source address, the info-hash (for an announce) and the passkey (from an HTTP path,
//! or a UDP announce's BEP 41 URLData). The gate answers [`Verdict::Admit`],
//! [`Verdict::Refuse`] with a reason the front end writes back, or
//! [`Verdict::RateLimited`]. The front ends only render the verdict (a bencoded failure,
//! a UDP error or a silent drop, a JSON failure frame); none of them holds a rule.
//!
//! The checks, in order:
//! 1. the source's rate limit for the action ([`SourceLimits`]), if limits are on;
//! 2. the tracker mode: [`Mode::Open`] asks nothing more; [`Mode::Private`] requires a
//!    passkey its [`Passkeys`] table knows on every announce and scrape (the table is
//!    the private mode's to fill);
//! 3. for an announce, the access list ([`Engine::allows`]).
//!
//! A listed mode (only torrents in the catalog) goes in [`Mode`] beside these.

use std::net::IpAddr;
use std::sync::Arc;

use crate::ratelimit::{Action, SourceLimits};
use crate::{Engine, InfoHash, Secs};

/// The passkeys a private tracker accepts.
pub trait Passkeys: Send + Sync {
    /// Whether `key` belongs to an account allowed to use the tracker now.
    fn admits(&self, key: &[u8]) -> bool;
    /// Whether `key` belongs to a banned account (asked only when not admitted, for
    /// the reason given).
    fn banned(&self, key: &[u8]) -> bool {
        let _ = key;
        false
    }
    /// The account `key` belongs to (for accounting), if the table knows.
    fn user(&self, key: &[u8]) -> Option<u64> {
        let _ = key;
        None
    }
    /// Whether `key`'s account may start downloads (its ratio meets the minimum).
    fn may_leech(&self, key: &[u8]) -> bool {
        let _ = key;
        true
    }
    /// Everything the gate needs of `key` at once (a table answers it with one lookup;
    /// by default it asks the methods above).
    fn state(&self, key: &[u8]) -> KeyState {
        if self.admits(key) {
            KeyState::Admitted {
                user: self.user(key),
                may_leech: self.may_leech(key),
            }
        } else if self.banned(key) {
            KeyState::Banned
        } else {
            KeyState::Unknown
        }
    }
}

/// What a passkey table says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// No account has it.
    Unknown,
    /// Its account is banned.
    Banned,
    /// Its account may use the tracker.
    Admitted {
        /// The account, when the table knows it (for accounting).
        user: Option<u64>,
        /// Whether it may start downloads.
        may_leech: bool,
    },
}

/// Who may use the tracker.
#[derive(Clone, Default)]
pub enum Mode {
    /// Anyone (subject to the access list and rate limits).
    #[default]
    Open,
    /// Only requests carrying a passkey the table knows.
    Private(Arc<dyn Passkeys>),
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Open => "Open",
            Mode::Private(_) => "Private",
        })
    }
}

/// One request, as the gate sees it.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// What the request does.
    pub action: Action,
    /// The client's address (after trusted-proxy headers).
    pub source: IpAddr,
    /// The torrent, for an announce.
    pub info_hash: Option<&'a InfoHash>,
    /// The passkey the request carried, if any.
    pub passkey: Option<&'a [u8]>,
    /// Milliseconds on the front end's monotonic clock (for rate limits).
    pub now_ms: u64,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The access list does not serve this torrent.
    TorrentNotAllowed,
    /// A private tracker got no passkey.
    PasskeyRequired,
    /// A private tracker got a passkey it does not know.
    UnknownPasskey,
    /// The passkey's account is banned.
    Banned,
}

impl Refusal {
    /// The reason sent to the client.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TorrentNotAllowed => "torrent not allowed on this tracker",
            Refusal::PasskeyRequired => "this tracker needs a passkey in the announce URL",
            Refusal::UnknownPasskey => "unknown passkey",
            Refusal::Banned => "this account is banned",
        }
    }
}

/// The gate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve the request.
    Admit,
    /// Answer with this reason and do nothing else.
    Refuse(Refusal),
    /// The source is over its rate for this action: a short failure, or a silent drop
    /// where answering could amplify traffic (UDP).
    RateLimited,
}

impl Verdict {
    /// The failure text for a refused or rate-limited request of `action`.
    pub fn reason(self, action: Action) -> &'static str {
        match self {
            Verdict::Admit => "",
            Verdict::Refuse(r) => r.as_str(),
            Verdict::RateLimited => match action {
                Action::Connect => "rate limited: connect less often",
                Action::Announce => "rate limited: announce less often",
                Action::Scrape => "rate limited: scrape less often",
            },
        }
    }
}

/// The admission rules every front end shares.
pub struct Gate {
    engine: Arc<Engine>,
    limits: Option<SourceLimits>,
    mode: Mode,
    full_scrapes: FullScrapeLimiter,
}

impl Gate {
    /// A gate in front of `engine`, with per-source rate limits when given.
    pub fn new(engine: Arc<Engine>, limits: Option<SourceLimits>, mode: Mode) -> Self {
        Gate {
            engine,
            limits,
            mode,
            full_scrapes: FullScrapeLimiter::default(),
        }
    }

    /// An open gate without rate limits.
    pub fn open(engine: Arc<Engine>) -> Self {
        Gate::new(engine, None, Mode::Open)
    }

    /// The engine behind the gate.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The rate limiter, if limits are on.
    pub fn limits(&self) -> Option<&SourceLimits> {
        self.limits.as_ref()
    }

    /// Whether requests must carry a passkey (front ends that find it at some cost,
    /// like UDP's URLData, look for it only then).
    pub fn wants_passkey(&self) -> bool {
        matches!(self.mode, Mode::Private(_))
    }

    /// Whether `ip` may have a full scrape at `now`, at most one per `interval`
    /// seconds (recorded if so). Asked after [`Gate::check`] admitted the scrape.
    pub fn full_scrape(&self, ip: IpAddr, now: Secs, interval: u32) -> bool {
        self.full_scrapes.allow(ip, now, interval)
    }

    /// Decides one request.
    #[inline]
    pub fn check(&self, ask: &Ask<'_>) -> Verdict {
        self.admit(ask).0
    }

    /// Decides one request and, in private mode, names the admitted passkey's account
    /// and whether it may start downloads (one passkey lookup for both).
    #[inline]
    pub fn admit(&self, ask: &Ask<'_>) -> (Verdict, Option<(u32, bool)>) {
        if let Some(l) = &self.limits {
            if !l.allow(ask.action, ask.source, ask.now_ms) {
                return (Verdict::RateLimited, None);
            }
        }
        let mut account = None;
        if let Mode::Private(keys) = &self.mode {
            if ask.action != Action::Connect {
                let Some(k) = ask.passkey else {
                    return (Verdict::Refuse(Refusal::PasskeyRequired), None);
                };
                match keys.state(k) {
                    KeyState::Unknown => return (Verdict::Refuse(Refusal::UnknownPasskey), None),
                    KeyState::Banned => return (Verdict::Refuse(Refusal::Banned), None),
                    KeyState::Admitted { user, may_leech } => {
                        account = user
                            .and_then(|u| u32::try_from(u).ok())
                            .map(|u| (u, may_leech));
                    }
                }
            }
        }
        if let Some(h) = ask.info_hash {
            if !self.engine.allows(h) {
                return (Verdict::Refuse(Refusal::TorrentNotAllowed), None);
            }
        }
        (Verdict::Admit, account)
    }
}

/// Remembers when each client address last got a full scrape (shared by every front
/// end, so HTTP and WebTorrent full scrapes count against one interval).
#[derive(Default)]
pub struct FullScrapeLimiter {
    last: std::sync::Mutex<std::collections::HashMap<IpAddr, Secs>>,
}

/// Most client addresses remembered; when full, old entries are swept and, if none
/// is old enough, new clients are refused until one is.
const MAX_FULL_SCRAPE_CLIENTS: usize = 16_384;

impl FullScrapeLimiter {
    /// Whether `ip` may have a full scrape at `now`; records it if so.
    pub fn allow(&self, ip: IpAddr, now: Secs, interval: u32) -> bool {
        // An IPv6 client has a /64 to choose addresses from: it is one client.
        let ip = match ip {
            IpAddr::V6(a) => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(a) & !((1u128 << 64) - 1),
            )),
            v4 => v4,
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = |t: &Secs| now.0.saturating_sub(t.0) < interval;
        if let Some(t) = last.get(&ip) {
            if fresh(t) {
                return false;
            }
        }
        if last.len() >= MAX_FULL_SCRAPE_CLIENTS {
            last.retain(|_, t| fresh(t));
            if last.len() >= MAX_FULL_SCRAPE_CLIENTS {
                return false;
            }
        }
        last.insert(ip, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::access::{AccessList, AccessMode};
    use crate::EngineConfig;

    struct Keys(HashSet<Vec<u8>>);

    impl Passkeys for Keys {
        fn admits(&self, key: &[u8]) -> bool {
            self.0.contains(key)
        }
    }

    fn ask<'a>(
        action: Action,
        info_hash: Option<&'a InfoHash>,
        passkey: Option<&'static [u8]>,
    ) -> Ask<'a> {
        Ask {
            action,
            source: "192.0.2.1".parse().unwrap(),
            info_hash,
            passkey,
            now_ms: 0,
        }
    }

    #[test]
    fn open_gate_admits_what_the_access_list_serves() {
        let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
        let gate = Gate::open(engine.clone());
        let listed = InfoHash([1; 20]);
        let other = InfoHash([2; 20]);
        assert_eq!(
            gate.check(&ask(Action::Announce, Some(&other), None)),
            Verdict::Admit
        );
        engine.update_access_list(|l| {
            *l = AccessList {
                mode: AccessMode::Allow,
                file: [listed].into(),
                api: HashSet::new(),
            }
        });
        assert_eq!(
            gate.check(&ask(Action::Announce, Some(&listed), None)),
            Verdict::Admit
        );
        let refused = gate.check(&ask(Action::Announce, Some(&other), None));
        assert_eq!(refused, Verdict::Refuse(Refusal::TorrentNotAllowed));
        assert_eq!(
            refused.reason(Action::Announce),
            "torrent not allowed on this tracker"
        );
        // Scrapes and connects name no single torrent.
        assert_eq!(gate.check(&ask(Action::Scrape, None, None)), Verdict::Admit);
        assert_eq!(
            gate.check(&ask(Action::Connect, None, None)),
            Verdict::Admit
        );
        assert!(!gate.wants_passkey());
    }

    #[test]
    fn private_gate_needs_a_known_passkey_for_announces_and_scrapes() {
        let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
        let keys = Keys([b"good".to_vec()].into());
        let gate = Gate::new(engine, None, Mode::Private(Arc::new(keys)));
        let h = InfoHash([1; 20]);
        assert!(gate.wants_passkey());
        for action in [Action::Announce, Action::Scrape] {
            let hash = (action == Action::Announce).then_some(&h);
            assert_eq!(
                gate.check(&ask(action, hash, Some(b"good"))),
                Verdict::Admit
            );
            assert_eq!(
                gate.check(&ask(action, hash, None)),
                Verdict::Refuse(Refusal::PasskeyRequired)
            );
            assert_eq!(
                gate.check(&ask(action, hash, Some(b"bad"))),
                Verdict::Refuse(Refusal::UnknownPasskey)
            );
        }
        // A UDP connect carries no passkey; the announce that follows does.
        assert_eq!(
            gate.check(&ask(Action::Connect, None, None)),
            Verdict::Admit
        );
    }

    #[test]
    fn rate_limits_come_first() {
        let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
        let limits = SourceLimits::new((1, 1), (1, 1), (1, 1), 64, 7);
        let gate = Gate::new(engine, Some(limits), Mode::Open);
        let h = InfoHash([1; 20]);
        assert_eq!(
            gate.check(&ask(Action::Announce, Some(&h), None)),
            Verdict::Admit
        );
        let limited = gate.check(&ask(Action::Announce, Some(&h), None));
        assert_eq!(limited, Verdict::RateLimited);
        assert_eq!(
            limited.reason(Action::Announce),
            "rate limited: announce less often"
        );
        // Each action has its own bucket.
        assert_eq!(gate.check(&ask(Action::Scrape, None, None)), Verdict::Admit);
    }
}
