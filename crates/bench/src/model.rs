//! The simulated population: torrents chosen by Zipf popularity, peers with a
//! started → regular → completed → stopped lifecycle and a seeder share.

/// xorshift64*: fast, seedable, good enough to shape load.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Zipf(s) over ranks 0..n: rank k has weight 1/(k+1)^s.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for k in 0..n.max(1) {
            acc += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// What a peer sends next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Started,
    None,
    Completed,
    Stopped,
}

#[derive(Debug, Clone, Copy)]
struct Peer {
    torrent: u32,
    seeder: bool,
    active: bool,
}

/// One request to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Announce {
        peer: usize,
        torrent: usize,
        event: Event,
        left: u64,
    },
    Scrape {
        torrent: usize,
    },
}

/// The peer population.
pub struct Population {
    peers: Vec<Peer>,
    zipf: Zipf,
    seeder_share: f64,
    scrape_share: f64,
    /// Fill mode: announce each peer once, in order, spread evenly over torrents
    /// (`torrent = (offset + i * stride) % torrents`).
    fill: Option<Fill>,
    /// Added to every torrent number, so consecutive runs can use disjoint torrent sets.
    first_torrent: usize,
}

#[derive(Debug, Clone, Copy)]
struct Fill {
    next: usize,
    offset: usize,
    stride: usize,
    torrents: usize,
}

impl Population {
    pub fn new(
        torrents: usize,
        peers: usize,
        zipf_s: f64,
        seeder_share: f64,
        scrape_share: f64,
        rng: &mut Rng,
    ) -> Self {
        let zipf = Zipf::new(torrents, zipf_s);
        let peers = (0..peers.max(1))
            .map(|_| Peer {
                torrent: zipf.sample(rng) as u32,
                seeder: rng.unit() < seeder_share,
                active: false,
            })
            .collect();
        Population {
            peers,
            zipf,
            seeder_share,
            scrape_share,
            fill: None,
            first_torrent: 0,
        }
    }

    /// Numbers torrents from `first` (torrent `t` of the population is `first + t`).
    pub fn first_torrent(mut self, first: usize) -> Self {
        self.first_torrent = first;
        self
    }

    /// Switches to fill mode: each peer announces `started` once, in order; torrent of
    /// peer `i` is `(offset + i * stride) % torrents`. [`Population::next`] returns `None`
    /// once every peer has announced.
    pub fn fill(&mut self, offset: usize, stride: usize, torrents: usize) {
        self.fill = Some(Fill {
            next: 0,
            offset,
            stride: stride.max(1),
            torrents: torrents.max(1),
        });
    }

    /// The next request: mostly regular announces from a random peer, its first one
    /// `started`; leechers sometimes complete; peers sometimes stop (and later rejoin a
    /// freshly drawn torrent); a share of scrapes of popular torrents.
    pub fn next(&mut self, rng: &mut Rng) -> Option<Action> {
        let base = self.first_torrent;
        self.next_from_zero(rng).map(|a| match a {
            Action::Announce {
                peer,
                torrent,
                event,
                left,
            } => Action::Announce {
                peer,
                torrent: torrent + base,
                event,
                left,
            },
            Action::Scrape { torrent } => Action::Scrape {
                torrent: torrent + base,
            },
        })
    }

    fn next_from_zero(&mut self, rng: &mut Rng) -> Option<Action> {
        if let Some(f) = &mut self.fill {
            if f.next >= self.peers.len() {
                return None;
            }
            let i = f.next;
            f.next += 1;
            return Some(Action::Announce {
                peer: i,
                torrent: (f.offset + i * f.stride) % f.torrents,
                event: Event::Started,
                left: if self.peers[i].seeder { 0 } else { 1 << 20 },
            });
        }
        if rng.unit() < self.scrape_share {
            return Some(Action::Scrape {
                torrent: self.zipf.sample(rng),
            });
        }
        let i = rng.below(self.peers.len());
        let p = &mut self.peers[i];
        let event = if !p.active {
            p.active = true;
            Event::Started
        } else {
            let r = rng.unit();
            if !p.seeder && r < 0.05 {
                p.seeder = true;
                Event::Completed
            } else if r > 0.98 {
                p.active = false;
                Event::Stopped
            } else {
                Event::None
            }
        };
        let action = Action::Announce {
            peer: i,
            torrent: p.torrent as usize,
            event,
            left: if p.seeder { 0 } else { 1 << 20 },
        };
        if event == Event::Stopped {
            // Rejoin elsewhere later, as a new download.
            p.torrent = self.zipf.sample(rng) as u32;
            p.seeder = rng.unit() < self.seeder_share;
        }
        Some(action)
    }
}

/// The info-hash of torrent `t`: deterministic, so runs against different trackers
/// use the same hashes (and opentracker's whitelist can list them).
pub fn info_hash(t: usize) -> [u8; 20] {
    let mut h = [0u8; 20];
    let mut x = (t as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    for chunk in h.chunks_mut(8) {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_favours_low_ranks_in_proportion() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = Rng::new(7);
        let mut counts = vec![0u32; 1000];
        for _ in 0..200_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        // Rank 1 about twice rank 2, about ten times rank 10 (s = 1).
        let r12 = f64::from(counts[0]) / f64::from(counts[1]);
        let r110 = f64::from(counts[0]) / f64::from(counts[9]);
        assert!((1.8..2.2).contains(&r12), "{r12}");
        assert!((8.5..11.5).contains(&r110), "{r110}");
        assert!(counts.iter().all(|&c| c < 200_000));
    }

    #[test]
    fn uniform_when_s_is_zero() {
        let z = Zipf::new(10, 0.0);
        let mut rng = Rng::new(3);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn lifecycle_starts_first_and_keeps_seeder_share() {
        let mut rng = Rng::new(11);
        let mut pop = Population::new(100, 1000, 1.0, 0.75, 0.1, &mut rng);
        let mut seen_started = vec![false; 1000];
        let (mut scrapes, mut completed, mut seeders, mut announces) = (0, 0, 0, 0);
        for _ in 0..50_000 {
            match pop.next(&mut rng).unwrap() {
                Action::Scrape { torrent } => {
                    assert!(torrent < 100);
                    scrapes += 1;
                }
                Action::Announce {
                    peer,
                    torrent,
                    event,
                    left,
                } => {
                    assert!(torrent < 100);
                    if !seen_started[peer] {
                        assert_eq!(event, Event::Started, "a peer's first announce is started");
                        seen_started[peer] = true;
                    }
                    if event == Event::Stopped {
                        seen_started[peer] = false;
                    }
                    completed += u32::from(event == Event::Completed);
                    seeders += u32::from(left == 0);
                    announces += 1;
                }
            }
        }
        let scrape_share = f64::from(scrapes) / 50_000.0;
        assert!((0.08..0.12).contains(&scrape_share), "{scrape_share}");
        assert!(completed > 0);
        let seeder_share = f64::from(seeders) / f64::from(announces);
        assert!(seeder_share > 0.7, "{seeder_share}");
    }

    #[test]
    fn fill_mode_announces_each_peer_once_spread_over_torrents() {
        let mut rng = Rng::new(5);
        let mut pop = Population::new(10, 25, 1.0, 0.5, 0.5, &mut rng);
        pop.fill(3, 4, 10);
        let mut seen = Vec::new();
        while let Some(a) = pop.next(&mut rng) {
            let Action::Announce {
                peer,
                torrent,
                event,
                ..
            } = a
            else {
                panic!("fill mode does not scrape")
            };
            assert_eq!(event, Event::Started);
            assert_eq!(torrent, (3 + peer * 4) % 10);
            seen.push(peer);
        }
        assert_eq!(seen, (0..25).collect::<Vec<_>>());
    }

    #[test]
    fn info_hashes_are_stable_and_distinct() {
        assert_eq!(info_hash(5), info_hash(5));
        let all: std::collections::HashSet<_> = (0..10_000).map(info_hash).collect();
        assert_eq!(all.len(), 10_000);
    }

    #[test]
    fn first_torrent_shifts_every_torrent_number() {
        let mut rng = Rng::new(3);
        let mut pop = Population::new(10, 25, 1.0, 0.5, 0.5, &mut rng).first_torrent(1000);
        for _ in 0..500 {
            let t = match pop.next(&mut rng).unwrap() {
                Action::Announce { torrent, .. } | Action::Scrape { torrent } => torrent,
            };
            assert!((1000..1010).contains(&t), "{t}");
        }
    }
}
