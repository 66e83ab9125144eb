//! Access lists: which info-hashes the tracker serves.
//!
//! In `allow` mode only listed torrents are served (a private or curated tracker); in
//! `deny` mode listed torrents are refused. The list is the union of the operator's file
//! (reloaded when it changes) and entries added through the admin API. Front ends ask
//! [`crate::Engine::allows`] before an announce or scrape, so a refused torrent never gets
//! a swarm.

use std::collections::HashSet;

use crate::InfoHash;

/// How the access list is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessMode {
    /// Every torrent is served.
    #[default]
    Off,
    /// Only listed torrents are served.
    Allow,
    /// Listed torrents are refused.
    Deny,
}

/// The current list.
#[derive(Debug, Clone, Default)]
pub struct AccessList {
    /// The mode.
    pub mode: AccessMode,
    /// Entries from the operator's file.
    pub file: HashSet<InfoHash>,
    /// Entries added through the admin API.
    pub api: HashSet<InfoHash>,
}

impl AccessList {
    /// Whether announces and scrapes for `h` are served.
    pub fn allows(&self, h: &InfoHash) -> bool {
        match self.mode {
            AccessMode::Off => true,
            AccessMode::Allow => self.file.contains(h) || self.api.contains(h),
            AccessMode::Deny => !(self.file.contains(h) || self.api.contains(h)),
        }
    }
}

/// A line of an access-list file that is not an info-hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// The line, trimmed and cut to 80 characters.
    pub text: String,
}

/// Parses an access-list file: one 40-digit hex info-hash per line; blank lines and
/// `#` comments (whole-line or trailing) are ignored. Returns the hashes and the lines
/// that could not be read, so the caller can report them with their numbers.
pub fn parse_access_file(text: &str) -> (HashSet<InfoHash>, Vec<BadLine>) {
    let mut hashes = HashSet::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match InfoHash::from_hex(line) {
            Ok(h) => {
                hashes.insert(h);
            }
            Err(_) => bad.push(BadLine {
                line: i + 1,
                text: line.chars().take(80).collect(),
            }),
        }
    }
    (hashes, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hashes_comments_and_reports_bad_lines() {
        let text = "# allowed torrents\n\
                    0123456789abcdef0123456789abcdef01234567\n\
                    \n\
                    ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD  # trailing comment\n\
                    not-a-hash\n\
                    0123456789abcdef0123456789abcdef0123456\n";
        let (hashes, bad) = parse_access_file(text);
        assert_eq!(hashes.len(), 2);
        assert_eq!(
            bad.iter().map(|b| b.line).collect::<Vec<_>>(),
            vec![5, 6],
            "{bad:?}"
        );
        assert_eq!(bad[0].text, "not-a-hash");
    }

    #[test]
    fn modes() {
        let a = InfoHash([1; 20]);
        let b = InfoHash([2; 20]);
        let mut l = AccessList::default();
        assert!(l.allows(&a));
        l.file.insert(a);
        l.mode = AccessMode::Allow;
        assert!(l.allows(&a) && !l.allows(&b));
        l.api.insert(b);
        assert!(l.allows(&b));
        l.mode = AccessMode::Deny;
        assert!(!l.allows(&a) && !l.allows(&b) && l.allows(&InfoHash([3; 20])));
    }
}
