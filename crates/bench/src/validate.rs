//! Checking answers: a load generator that counts a wrong answer as a success measures
//! nothing, so every reply is checked against the request it answers.

use shoal_bencode::{decode, Value};
use shoal_protocol::udp::{Response, TransactionId};

/// What a reply was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A connect reply with its connection id.
    Connected([u8; 8]),
    /// A well-formed announce reply with this many peers.
    Announced(usize),
    /// A well-formed scrape reply.
    Scraped,
    /// The tracker answered with an error or failure reason.
    TrackerError,
    /// Anything else: wrong action, transaction, length or content.
    Invalid,
}

/// What a UDP request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpAsk {
    Connect,
    /// An announce over IPv4 (6-byte peers) or IPv6 (18-byte), wanting at most `numwant`.
    Announce {
        v6: bool,
        numwant: usize,
    },
    /// A scrape of this many info-hashes.
    Scrape {
        hashes: usize,
    },
}

/// Checks a UDP reply to a request with transaction `tid`.
pub fn udp(reply: &[u8], tid: TransactionId, ask: UdpAsk) -> Verdict {
    let Ok(r) = Response::parse(reply) else {
        return Verdict::Invalid;
    };
    match (r, ask) {
        (Response::Error { transaction_id, .. }, _) if transaction_id == tid => {
            Verdict::TrackerError
        }
        (
            Response::Connect {
                transaction_id,
                connection_id,
            },
            UdpAsk::Connect,
        ) if transaction_id == tid => Verdict::Connected(connection_id.0),
        (Response::Announce(a), UdpAsk::Announce { v6, numwant }) if a.transaction_id == tid => {
            let each = if v6 { 18 } else { 6 };
            let n = a.peers.len() / each;
            if a.peers.len() % each != 0 || n > numwant || a.interval == 0 {
                Verdict::Invalid
            } else {
                Verdict::Announced(n)
            }
        }
        (
            r @ Response::Scrape {
                transaction_id,
                stats,
            },
            UdpAsk::Scrape { hashes },
        ) if transaction_id == tid => {
            let _ = r;
            if stats.len() == 12 * hashes && reply.len() == 8 + 12 * hashes {
                Verdict::Scraped
            } else {
                Verdict::Invalid
            }
        }
        _ => Verdict::Invalid,
    }
}

/// Checks an HTTP tracker reply body (status already 200) to an announce (`Some(numwant)`)
/// or a scrape (`None`) for compact IPv4 peers.
pub fn http(body: &[u8], announce_numwant: Option<usize>) -> Verdict {
    // Some trackers (aquatic_http 0.9) end the body with CRLF after the bencoded value;
    // clients ignore it, so the comparison does too.
    let Ok(v) = decode(body.trim_ascii_end()) else {
        return Verdict::Invalid;
    };
    if v.get(b"failure reason").is_some() {
        return Verdict::TrackerError;
    }
    match announce_numwant {
        Some(numwant) => {
            let interval_ok = v
                .get(b"interval")
                .and_then(Value::as_int)
                .is_some_and(|i| i > 0);
            match v.get(b"peers").and_then(Value::as_bytes) {
                Some(p) if interval_ok && p.len() % 6 == 0 && p.len() / 6 <= numwant => {
                    Verdict::Announced(p.len() / 6)
                }
                _ => Verdict::Invalid,
            }
        }
        None => match v.get(b"files").and_then(Value::as_dict) {
            Some(_) => Verdict::Scraped,
            None => Verdict::Invalid,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_protocol::udp::{
        push_scrape_stats, write_announce_header, write_connect_response, write_error_response,
        write_scrape_header, ConnectionId, ScrapeStats,
    };

    const T: TransactionId = TransactionId([1, 2, 3, 4]);
    const OTHER: TransactionId = TransactionId([9, 9, 9, 9]);

    #[test]
    fn good_udp_answers_pass() {
        let mut b = Vec::new();
        write_connect_response(&mut b, T, ConnectionId([7; 8]));
        assert_eq!(udp(&b, T, UdpAsk::Connect), Verdict::Connected([7; 8]));
        write_announce_header(&mut b, T, 1800, 1, 2);
        b.extend_from_slice(&[1; 12]);
        assert_eq!(
            udp(
                &b,
                T,
                UdpAsk::Announce {
                    v6: false,
                    numwant: 30
                }
            ),
            Verdict::Announced(2)
        );
        write_scrape_header(&mut b, T);
        push_scrape_stats(&mut b, ScrapeStats::default());
        assert_eq!(udp(&b, T, UdpAsk::Scrape { hashes: 1 }), Verdict::Scraped);
        write_error_response(&mut b, T, "nope");
        assert_eq!(udp(&b, T, UdpAsk::Connect), Verdict::TrackerError);
    }

    #[test]
    fn wrong_udp_answers_are_errors() {
        let mut b = Vec::new();
        write_connect_response(&mut b, OTHER, ConnectionId([7; 8]));
        assert_eq!(
            udp(&b, T, UdpAsk::Connect),
            Verdict::Invalid,
            "transaction mismatch"
        );
        write_connect_response(&mut b, T, ConnectionId([7; 8]));
        assert_eq!(
            udp(
                &b,
                T,
                UdpAsk::Announce {
                    v6: false,
                    numwant: 5
                }
            ),
            Verdict::Invalid,
            "wrong action"
        );
        write_announce_header(&mut b, T, 1800, 1, 2);
        b.extend_from_slice(&[1; 7]);
        assert_eq!(
            udp(
                &b,
                T,
                UdpAsk::Announce {
                    v6: false,
                    numwant: 30
                }
            ),
            Verdict::Invalid,
            "partial peer"
        );
        write_announce_header(&mut b, T, 1800, 1, 2);
        b.extend_from_slice(&[1; 36]);
        assert_eq!(
            udp(
                &b,
                T,
                UdpAsk::Announce {
                    v6: false,
                    numwant: 5
                }
            ),
            Verdict::Invalid,
            "over numwant"
        );
        assert_eq!(
            udp(
                &b,
                T,
                UdpAsk::Announce {
                    v6: true,
                    numwant: 50
                }
            ),
            Verdict::Announced(2)
        );
        write_announce_header(&mut b, T, 0, 1, 2);
        assert_eq!(
            udp(
                &b,
                T,
                UdpAsk::Announce {
                    v6: false,
                    numwant: 5
                }
            ),
            Verdict::Invalid,
            "zero interval"
        );
        write_scrape_header(&mut b, T);
        push_scrape_stats(&mut b, ScrapeStats::default());
        assert_eq!(
            udp(&b, T, UdpAsk::Scrape { hashes: 2 }),
            Verdict::Invalid,
            "missing entry"
        );
        assert_eq!(udp(&[0; 3], T, UdpAsk::Connect), Verdict::Invalid);
    }

    #[test]
    fn http_answers() {
        assert_eq!(
            http(b"d8:intervali1800e5:peers6:abcdefe", Some(30)),
            Verdict::Announced(1)
        );
        assert_eq!(
            http(b"d8:intervali1800e5:peers5:abcdee", Some(30)),
            Verdict::Invalid
        );
        assert_eq!(
            http(b"d5:peers0:e", Some(30)),
            Verdict::Invalid,
            "no interval"
        );
        assert_eq!(
            http(b"d14:failure reason4:nope", Some(30)),
            Verdict::Invalid,
            "truncated"
        );
        assert_eq!(
            http(b"d14:failure reason4:nope8:intervali1ee", Some(30)),
            Verdict::TrackerError
        );
        assert_eq!(http(b"d5:filesdee", None), Verdict::Scraped);
        assert_eq!(http(b"<html>", None), Verdict::Invalid);
        assert_eq!(
            http(b"d5:filesdee\r\n", None),
            Verdict::Scraped,
            "trailing CRLF tolerated"
        );
        assert_eq!(
            http(b"d5:filesdeex", None),
            Verdict::Invalid,
            "other trailing bytes are not"
        );
    }
}
