//! Passwords: argon2id hashes (PHC strings with a random salt) and the rules for names
//! and new passwords. The site and `shoal user add --password-stdin` share this code.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Fewest characters in a password.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Most characters in a password (argon2 takes any length; this bounds the work a
/// request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The OS gave no randomness for the salt.
    #[error("no OS randomness: {0}")]
    Random(getrandom::Error),
    /// argon2 refused the input.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// An argon2id hash (PHC string: `$argon2id$v=19$m=19456,t=2,p=1$...`) of `password`
/// with a random 16-byte salt, at argon2's default cost (19 MiB, 2 passes): tens of
/// milliseconds, so callers on an async runtime run it on a blocking thread.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(PasswordError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `hash` (a PHC string; anything unparsable never matches).
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends about the time [`verify_password`] takes on a real hash, for a login whose
/// name has no account or no password: the answer's timing must not tell them apart.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| {
        hash_password("not a password anyone has").unwrap_or_else(|_| {
            // Without randomness a fixed salt does as well: nothing matches it anyway.
            let salt = SaltString::encode_b64(&[7; 16]).expect("16 bytes encode");
            Argon2::default()
                .hash_password(b"not a password anyone has", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
    });
    let _ = verify_password(password, hash);
}

/// Whether `name` may be an account's name: 2 to 32 letters (any script), digits, `.`,
/// `_` or `-`.
pub fn valid_name(name: &str) -> bool {
    (2..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether `password` may be a new password.
pub fn valid_password(password: &str) -> bool {
    (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&password.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        assert!(valid_name("alice"));
        assert!(valid_name("Алиса_2"));
        assert!(!valid_name("a"));
        assert!(!valid_name("bad name"));
        assert!(!valid_name("<script>"));
        assert!(!valid_name(&"x".repeat(33)));
    }

    #[test]
    fn passwords_have_bounded_lengths() {
        assert!(!valid_password("short"));
        assert!(valid_password("eight ch"));
        assert!(valid_password(&"é".repeat(1024)));
        assert!(!valid_password(&"x".repeat(1025)));
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        verify_nothing("anything");
    }
}
