//! Session tokens, cookies and CSRF tokens.
//!
//! A session is 32 random bytes, sent to the browser once as 64 hex digits in the
//! `shoal_session` cookie (`HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the
//! request came over HTTPS) and stored only as its SHA-256: a copy of the database does
//! not let anyone log in. Every form carries a CSRF token that a cross-site page cannot
//! read: a logged-in session's own secret (kept beside its hash), or, on the login and
//! register forms, the value of a `shoal_csrf` cookie (double submit). Tokens are
//! compared in constant time.

use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "shoal_session";

/// The cookie that holds the CSRF token of forms shown before login.
pub const CSRF_COOKIE: &str = "shoal_csrf";

/// 32 random bytes: a session token or a CSRF secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Token(pub [u8; 32]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token in a log would be a login.
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A new token from the OS's randomness.
    pub fn generate() -> Result<Token, getrandom::Error> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b)?;
        Ok(Token(b))
    }

    /// The token as a cookie or form value: 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A token from 64 hex digits (`None` for anything else).
    pub fn from_hex(s: &str) -> Option<Token> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).ok()?;
        Some(Token(b))
    }

    /// What the store keeps: SHA-256 of the token's bytes.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }
}

/// The SHA-256 of an invite code as typed (trimmed, lowercase: codes are hex), the
/// form `shoal invite create` stores.
pub fn invite_hash(code: &str) -> [u8; 32] {
    Sha256::digest(code.trim().to_ascii_lowercase().as_bytes()).into()
}

/// Whether a form's CSRF token matches the expected secret, in time that does not
/// depend on where they differ.
pub fn csrf_matches(expected: &Token, given: Option<&str>) -> bool {
    let Some(given) = given.and_then(Token::from_hex) else {
        return false;
    };
    constant_time_eq(&expected.0, &given.0)
}

/// Compares without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// A cookie's value in a `Cookie` header (the first of that name).
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value for a cookie scripts cannot read, sent on top-level
/// navigations and same-site requests only. `max_age` in seconds; `None` for a
/// browser-session cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", Some(0), secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_stored_hashed() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
        let hex = a.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(Token::from_hex(&hex), Some(a));
        assert_eq!(Token::from_hex("00"), None);
        assert_eq!(Token::from_hex(&"g".repeat(64)), None);
        assert_ne!(a.hash(), a.0, "the store never sees the token");
        assert_eq!(a.hash(), a.hash());
        assert_eq!(format!("{a:?}"), "Token(..)", "never logged");
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let t = Token([5; 32]);
        assert!(csrf_matches(&t, Some(&t.to_hex())));
        assert!(csrf_matches(&t, Some(&t.to_hex().to_uppercase())));
        assert!(!csrf_matches(&t, None), "missing");
        assert!(!csrf_matches(&t, Some("")), "empty");
        assert!(!csrf_matches(&t, Some(&Token([6; 32]).to_hex())), "wrong");
        assert!(!csrf_matches(&t, Some(&t.to_hex()[..62])), "short");
        assert!(constant_time_eq(b"ab", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }

    #[test]
    fn cookies_are_http_only_same_site_and_secure_on_https() {
        let c = set_cookie(SESSION_COOKIE, "ff", Some(60), false);
        assert_eq!(
            c,
            "shoal_session=ff; HttpOnly; SameSite=Lax; Path=/; Max-Age=60"
        );
        assert!(set_cookie(SESSION_COOKIE, "ff", None, true).ends_with("; Secure"));
        assert!(clear_cookie(SESSION_COOKIE, false).contains("Max-Age=0"));
        let header = "lang=ru; shoal_session=abc ; shoal_csrf=def";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, CSRF_COOKIE), Some("def"));
        assert_eq!(cookie(header, "x"), None);
    }

    #[test]
    fn invite_codes_hash_as_the_cli_stores_them() {
        let code = "0123456789abcdef0123456789abcdef";
        let stored: [u8; 32] = Sha256::digest(code.as_bytes()).into();
        assert_eq!(invite_hash(code), stored);
        assert_eq!(invite_hash(&format!(" {} ", code.to_uppercase())), stored);
    }
}
