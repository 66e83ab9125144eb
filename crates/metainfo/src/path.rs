//! The path policy: display names are lossy and cleaned; filesystem paths are refused
//! unless every component is plainly safe (see the crate docs).

use std::path::PathBuf;

/// Lossy UTF-8 with control characters (C0, DEL, C1) replaced by U+FFFD, for display.
pub(crate) fn display(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The component as text when it is safe to use as one file-name component: valid
/// UTF-8, not empty, not `.` or `..`, and without `/`, `\` or control characters
/// (NUL, escape sequences that would rewrite a terminal).
pub(crate) fn safe_component(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    let bad = s.is_empty()
        || s == "."
        || s == ".."
        || s.contains(['/', '\\'])
        || s.chars().any(char::is_control);
    (!bad).then_some(s)
}

/// A relative path of safe components, or `None` if any is unsafe or there are none.
pub(crate) fn safe_path(components: &[Vec<u8>]) -> Option<PathBuf> {
    if components.is_empty() {
        return None;
    }
    components
        .iter()
        .map(|c| safe_component(c))
        .collect::<Option<PathBuf>>()
}
