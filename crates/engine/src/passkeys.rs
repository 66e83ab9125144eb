//! The passkey table of a private tracker: which passkeys the gate admits, read on every
//! announce and scrape without a lock, replaced as accounts change (the node reloads the
//! changed accounts from the store and hands them to [`PasskeyTable::apply`]).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::gate::{KeyState, Passkeys};

/// One account as the table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRow {
    /// The account's number.
    pub user: u64,
    /// Its passkey.
    pub passkey: [u8; 16],
    /// Whether the tracker admits it (not banned).
    pub admitted: bool,
    /// Whether it may start downloads (its ratio meets the minimum).
    pub may_leech: bool,
}

/// Passkeys are random bytes of our own making, so a fast keyed hash is safe here
/// (lookups of unknown keys insert nothing).
type Fast = foldhash::fast::RandomState;

#[derive(Default, Clone)]
struct Table {
    /// Passkey → (account, admitted, may start downloads).
    by_key: HashMap<[u8; 16], (u64, bool, bool), Fast>,
    by_user: HashMap<u64, [u8; 16], Fast>,
}

impl Table {
    fn put(&mut self, r: &KeyRow) {
        // A new passkey replaces the account's old one.
        if let Some(old) = self.by_user.insert(r.user, r.passkey) {
            if old != r.passkey {
                self.by_key.remove(&old);
            }
        }
        self.by_key
            .insert(r.passkey, (r.user, r.admitted, r.may_leech));
    }
}

/// Passkeys by account, swapped whole on change (changes are rare, reads constant).
#[derive(Default)]
pub struct PasskeyTable {
    table: ArcSwap<Table>,
}

/// A passkey as clients send it: 32 hex digits (either case).
pub fn parse_passkey(text: &[u8]) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

impl PasskeyTable {
    /// An empty table (nobody admitted).
    pub fn new() -> PasskeyTable {
        PasskeyTable::default()
    }

    /// Replaces the whole table.
    pub fn replace(&self, rows: &[KeyRow]) {
        let mut t = Table::default();
        for r in rows {
            t.put(r);
        }
        self.table.store(Arc::new(t));
    }

    /// Applies changed accounts (a new passkey replaces the old; a ban stops admitting).
    pub fn apply(&self, rows: &[KeyRow]) {
        if rows.is_empty() {
            return;
        }
        let mut t = Table::clone(&self.table.load());
        for r in rows {
            t.put(r);
        }
        self.table.store(Arc::new(t));
    }

    /// Accounts in the table.
    pub fn len(&self) -> usize {
        self.table.load().by_user.len()
    }

    /// Whether no account is in the table.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The account a passkey belongs to, whether it is admitted and whether it may
    /// start downloads.
    pub fn lookup(&self, text: &[u8]) -> Option<(u64, bool, bool)> {
        let key = parse_passkey(text)?;
        self.table.load().by_key.get(&key).copied()
    }

    /// Sets whether an account may start downloads (after its totals changed).
    pub fn set_may_leech(&self, user: u64, may: bool) {
        let t = self.table.load();
        let Some(key) = t.by_user.get(&user) else {
            return;
        };
        if t.by_key.get(key).is_some_and(|e| e.2 == may) {
            return;
        }
        let mut t = Table::clone(&t);
        if let Some(e) = t.by_key.get_mut(&t.by_user[&user]) {
            e.2 = may;
        }
        self.table.store(Arc::new(t));
    }
}

impl Passkeys for PasskeyTable {
    fn admits(&self, key: &[u8]) -> bool {
        self.lookup(key).is_some_and(|(_, ok, _)| ok)
    }

    fn banned(&self, key: &[u8]) -> bool {
        self.lookup(key).is_some_and(|(_, ok, _)| !ok)
    }

    fn user(&self, key: &[u8]) -> Option<u64> {
        self.lookup(key).map(|(user, _, _)| user)
    }

    fn may_leech(&self, key: &[u8]) -> bool {
        self.lookup(key).is_none_or(|(_, _, may)| may)
    }

    fn state(&self, key: &[u8]) -> KeyState {
        match self.lookup(key) {
            None => KeyState::Unknown,
            Some((_, false, _)) => KeyState::Banned,
            Some((user, true, may_leech)) => KeyState::Admitted {
                user: Some(user),
                may_leech,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: u64, key: u8, admitted: bool) -> KeyRow {
        KeyRow {
            user,
            passkey: [key; 16],
            admitted,
            may_leech: true,
        }
    }

    #[test]
    fn passkeys_are_32_hex_digits() {
        assert_eq!(
            parse_passkey(b"0102030405060708090a0b0c0d0e0f10").unwrap()[15],
            0x10
        );
        assert_eq!(
            parse_passkey(b"0102030405060708090A0B0C0D0E0F10").unwrap()[9],
            0x0a
        );
        assert!(parse_passkey(b"0102").is_none());
        assert!(parse_passkey(b"zz02030405060708090a0b0c0d0e0f10").is_none());
        assert!(parse_passkey(&[0xff; 32]).is_none());
    }

    #[test]
    fn changes_replace_keys_and_bans_stop_admitting() {
        let t = PasskeyTable::new();
        let hex = |k: u8| format!("{k:02x}").repeat(16);
        assert!(!t.admits(hex(1).as_bytes()));
        t.replace(&[row(1, 1, true), row(2, 2, true)]);
        assert!(t.admits(hex(1).as_bytes()) && t.admits(hex(2).as_bytes()));
        // A reset passkey: the old one stops working.
        t.apply(&[row(1, 3, true)]);
        assert!(!t.admits(hex(1).as_bytes()));
        assert!(t.admits(hex(3).as_bytes()));
        assert!(
            !t.banned(hex(1).as_bytes()),
            "an old key is unknown, not banned"
        );
        // A ban: known, not admitted.
        t.apply(&[row(2, 2, false)]);
        assert!(!t.admits(hex(2).as_bytes()));
        assert!(t.banned(hex(2).as_bytes()));
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.lookup(hex(3).to_uppercase().as_bytes()),
            Some((1, true, true))
        );
        // The ratio rule: known and admitted, but no new downloads.
        t.set_may_leech(1, false);
        assert!(t.admits(hex(3).as_bytes()) && !t.may_leech(hex(3).as_bytes()));
        t.set_may_leech(1, true);
        assert!(t.may_leech(hex(3).as_bytes()));
    }
}
