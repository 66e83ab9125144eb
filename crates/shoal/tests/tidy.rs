//! Tidy: the invariants of ARCHITECTURE.md that a machine can check, checked.
//!
//! Each rule is a function over text held in memory (tested below on small examples, so
//! each one is shown able to fail), then applied to the source tree, read from
//! `CARGO_MANIFEST_DIR/../..`. A failure names the file and line.
//!
//! 1. **`unsafe` only where listed.** The keyword `unsafe` as code (`unsafe {`,
//!    `unsafe fn`, `unsafe impl`, …; not in comments, doc text or string literals) may
//!    appear only in the files of [`UNSAFE_ALLOWED`], every `.rs` file of the tree
//!    counted (tests and examples too; `target/`, `node_modules/` and hidden directories
//!    skipped). That list and the one in ARCHITECTURE.md's "Unsafe code" section must
//!    name the same files, and each listed file must still contain `unsafe`.
//! 2. **No clock and no I/O below the front ends.** In [`SANS_IO_CRATES`], non-test code
//!    must not name [`FORBIDDEN`]'s clock reads, sockets, runtimes, file system, sleeps or
//!    thread spawns, and the crate's `[dependencies]` must not list tokio, mio or socket2.
//!    Non-test code is every file under the crate's `src/` except files named
//!    `tests.rs`, with every item marked `#[cfg(test)]` removed (the item after the
//!    attribute, up to its `;`, its closing brace, or for a field or statement its
//!    `,`/`;`) and files opening with `#![cfg(test)]` skipped. Examples, benches and
//!    `tests/` are outside `src/` and may time themselves. Names are matched as tokens
//!    outside comments and strings, so `use std::{fs, …}` is caught at `fs::`, and a
//!    grouped `use std::net::{UdpSocket, …}` at `UdpSocket`.
//! 3. **The code map is complete.** Every directory under `crates/` with a `Cargo.toml`
//!    has an entry in ARCHITECTURE.md's code map (``**`crates/NAME`**``), appears in
//!    its diagram (the first fenced block), and has a row in README.md's layout table;
//!    and none of the three names a crate that does not exist.
//! 4. **Every configuration key is documented.** In the output of `shoal config
//!    default`, the line above every `key = value` line is a `#` comment.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files allowed `unsafe`, and why. ARCHITECTURE.md's "Unsafe code" section lists the
/// same files; keep the two in step.
const UNSAFE_ALLOWED: &[(&str, &str)] = &[
    (
        "crates/shoal/src/main.rs",
        "SIGPIPE's default for the command-line tools",
    ),
    (
        "crates/udp/src/batch.rs",
        "recvmmsg/sendmmsg and IP_PKTINFO/IPV6_PKTINFO control messages",
    ),
    (
        "crates/http/src/lib.rs",
        "accept4, TCP_DEFER_ACCEPT, tokio AsyncFd on our listener",
    ),
    (
        "crates/protocol/src/common.rs",
        "byte views of the repr(C) compact peer addresses",
    ),
    (
        "crates/node/src/node.rs",
        "privilege drop, raising the descriptor limit",
    ),
    ("crates/bench/src/main.rs", "raising the descriptor limit"),
    ("crates/bench/tests/smoke.rs", "kill(2) on its child"),
    (
        "crates/shoal/tests/common/mod.rs",
        "kill(2) on its child, geteuid",
    ),
    (
        "crates/shoal/tests/http.rs",
        "raising the test's descriptor limit",
    ),
    ("crates/shoal/tests/robustness.rs", "kill(2) on its child"),
];

/// Crates that do no I/O and read no clock: time and bytes are arguments.
const SANS_IO_CRATES: &[&str] = &[
    "bencode",
    "metainfo",
    "protocol",
    "engine",
    "webtorrent",
    "search",
    "preview",
];

/// Token sequences that read a clock or do I/O, with what they do.
const FORBIDDEN: &[(&[&str], &str)] = &[
    (&["Instant", "::", "now"], "reads the monotonic clock"),
    (&["SystemTime", "::", "now"], "reads the wall clock"),
    (&["UNIX_EPOCH"], "reads the wall clock"),
    (&["UdpSocket"], "uses a socket"),
    (&["TcpStream"], "uses a socket"),
    (&["TcpListener"], "uses a socket"),
    (&["UnixStream"], "uses a socket"),
    (&["UnixListener"], "uses a socket"),
    (&["UnixDatagram"], "uses a socket"),
    (&["tokio"], "uses an async runtime"),
    (&["mio"], "uses an event loop"),
    (&["std", "::", "fs"], "touches the file system"),
    (&["fs", "::"], "touches the file system"),
    (&["thread", "::", "sleep"], "sleeps"),
    (&["thread", "::", "spawn"], "spawns a thread"),
];

/// Dependencies a sans-I/O crate must not have.
const FORBIDDEN_DEPS: &[&str] = &["tokio", "mio", "socket2"];

// ---------------------------------------------------------------------------------
// A Rust lexer just good enough to tell code from comments and literals.

/// One token of code: an identifier, `::`, or one punctuation character.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    line: usize,
}

/// The code tokens of `src`: comments, string, byte-string, raw-string and character
/// literals, lifetimes and numbers are left out.
fn tokens(src: &str) -> Vec<Tok<'_>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let ident = |c: u8| c == b'_' || c.is_ascii_alphanumeric() || c >= 0x80;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(b[i] == b'\n');
                    i += 1;
                }
            }
        } else if c == b'"' {
            i = skip_string(b, i + 1, &mut line);
        } else if c == b'\'' {
            i = skip_char_or_lifetime(src, i);
        } else if c.is_ascii_digit() {
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
        } else if ident(c) {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            let word = &src[start..i];
            let after = b.get(i).copied();
            match (word, after) {
                ("b" | "c", Some(b'"')) => i = skip_string(b, i + 1, &mut line),
                ("b", Some(b'\'')) => i = skip_char_or_lifetime(src, i),
                ("r" | "br" | "cr", Some(b'"' | b'#')) => {
                    let hashes = b[i..].iter().take_while(|&&h| h == b'#').count();
                    if b.get(i + hashes) == Some(&b'"') {
                        i = skip_raw_string(b, i + hashes + 1, hashes, &mut line);
                    } else if word == "r" && hashes == 1 {
                        // A raw identifier (`r#unsafe` is a name, not the keyword).
                        let start = i - 1;
                        i += 1;
                        while i < b.len() && ident(b[i]) {
                            i += 1;
                        }
                        out.push(Tok {
                            text: &src[start..i],
                            line,
                        });
                    } else {
                        out.push(Tok { text: word, line });
                    }
                }
                _ => out.push(Tok { text: word, line }),
            }
        } else if c == b':' && next == Some(b':') {
            out.push(Tok {
                text: &src[i..i + 2],
                line,
            });
            i += 2;
        } else {
            out.push(Tok {
                text: &src[i..i + 1],
                line,
            });
            i += 1;
        }
    }
    out
}

/// Skips a string literal's body from just after its opening quote.
fn skip_string(b: &[u8], mut i: usize, line: &mut usize) -> usize {
    while i < b.len() && b[i] != b'"' {
        if b[i] == b'\\' {
            i += 1;
        }
        if b.get(i) == Some(&b'\n') {
            *line += 1;
        }
        i += 1;
    }
    i + 1
}

/// Skips a raw string's body from just after its opening quote.
fn skip_raw_string(b: &[u8], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < b.len() {
        if b[i] == b'"'
            && b[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == b'#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        *line += usize::from(b[i] == b'\n');
        i += 1;
    }
    i
}

/// Skips a character literal (`'a'`, `'\''`, `'é'`) or a lifetime or label (`'a`)
/// starting at the quote.
fn skip_char_or_lifetime(src: &str, i: usize) -> usize {
    let b = src.as_bytes();
    if b.get(i + 1) == Some(&b'\\') {
        let mut j = i + 3;
        while j < b.len() && b[j] != b'\'' {
            j += 1;
        }
        return j + 1;
    }
    let Some(ch) = src.get(i + 1..).and_then(|s| s.chars().next()) else {
        return i + 1;
    };
    let end = i + 1 + ch.len_utf8();
    if b.get(end) == Some(&b'\'') {
        return end + 1;
    }
    let mut j = i + 1;
    while j < b.len() && (b[j] == b'_' || b[j].is_ascii_alphanumeric()) {
        j += 1;
    }
    j
}

/// The tokens of `toks` outside `#[cfg(test)]` items; none for a `#![cfg(test)]` file.
fn non_test<'a>(toks: &[Tok<'a>]) -> Vec<Tok<'a>> {
    let is = |i: usize, seq: &[&str]| {
        toks.len() >= i + seq.len() && seq.iter().zip(&toks[i..]).all(|(s, t)| *s == t.text)
    };
    if is(0, &["#", "!", "[", "cfg", "(", "test", ")", "]"]) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if is(i, &["#", "[", "cfg", "(", "test", ")", "]"]) {
            i = skip_item(toks, i + 7);
        } else {
            out.push(toks[i]);
            i += 1;
        }
    }
    out
}

/// The index just past the item (or field, or statement) starting at `i`.
fn skip_item(toks: &[Tok<'_>], mut i: usize) -> usize {
    // Other attributes on the same item.
    while toks.get(i).is_some_and(|t| t.text == "#")
        && toks.get(i + 1).is_some_and(|t| t.text == "[")
    {
        i = skip_balanced(toks, i + 1, "[", "]");
    }
    let mut depth = 0i32;
    let mut item = false;
    while i < toks.len() {
        match toks[i].text {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            "fn" | "mod" | "impl" | "struct" | "enum" | "trait" | "union" if depth == 0 => {
                item = true
            }
            "," if depth == 0 && !item => return i + 1,
            ";" if depth == 0 => return i + 1,
            "{" if depth == 0 => return skip_balanced(toks, i, "{", "}"),
            // The end of the enclosing block: the attribute was on its last element.
            "}" if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The index just past the `close` matching the `open` at `i`.
fn skip_balanced(toks: &[Tok<'_>], mut i: usize, open: &str, close: &str) -> usize {
    let mut depth = 0;
    while i < toks.len() {
        if toks[i].text == open {
            depth += 1;
        } else if toks[i].text == close {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------
// Rule 1: unsafe only where listed.

/// Lines of `src` where `unsafe` is code.
fn unsafe_lines(src: &str) -> Vec<usize> {
    let mut lines: Vec<usize> = tokens(src)
        .iter()
        .filter(|t| t.text == "unsafe")
        .map(|t| t.line)
        .collect();
    lines.dedup();
    lines
}

/// Errors for `unsafe` in files not in `allowed`, and for allowed files without any.
/// `files` are (path relative to the root, contents).
fn check_unsafe(files: &[(String, String)], allowed: &[&str]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut used = BTreeSet::new();
    for (path, src) in files {
        let lines = unsafe_lines(src);
        if lines.is_empty() {
            continue;
        }
        if allowed.contains(&path.as_str()) {
            used.insert(path.as_str());
            continue;
        }
        for line in lines {
            errors.push(format!(
                "{path}:{line}: `unsafe` in a file not allowed it (add the file, with why, \
                 to UNSAFE_ALLOWED in crates/shoal/tests/tidy.rs and to ARCHITECTURE.md's \
                 \"Unsafe code\" section, or do without)"
            ));
        }
    }
    for path in allowed {
        if !used.contains(path) {
            errors.push(format!(
                "{path}: allowed `unsafe` but has none (or is gone): take it off both lists"
            ));
        }
    }
    errors
}

/// The files ARCHITECTURE.md's "Unsafe code" section lists, with their lines: the
/// first backquoted text of each `- ` item.
fn architecture_unsafe_list(arch: &str) -> Vec<(String, usize)> {
    section(arch, "## Unsafe code")
        .filter_map(|(n, l)| {
            let rest = l.strip_prefix("- `")?;
            Some((rest[..rest.find('`')?].to_string(), n))
        })
        .collect()
}

/// Errors where ARCHITECTURE.md's list and `allowed` differ.
fn check_unsafe_lists_agree(arch: &str, allowed: &[&str]) -> Vec<String> {
    let listed = architecture_unsafe_list(arch);
    let mut errors = Vec::new();
    if listed.is_empty() {
        errors.push(
            "ARCHITECTURE.md: no \"## Unsafe code\" section listing files as \"- `path` — why\""
                .to_string(),
        );
    }
    for (path, n) in &listed {
        if !allowed.contains(&path.as_str()) {
            errors.push(format!(
                "ARCHITECTURE.md:{n}: `{path}` is listed as allowed `unsafe` but not in \
                 UNSAFE_ALLOWED (crates/shoal/tests/tidy.rs)"
            ));
        }
    }
    for path in allowed {
        if !listed.iter().any(|(p, _)| p == path) {
            errors.push(format!(
                "ARCHITECTURE.md: \"Unsafe code\" does not list `{path}`, which \
                 UNSAFE_ALLOWED (crates/shoal/tests/tidy.rs) allows"
            ));
        }
    }
    errors
}

// ---------------------------------------------------------------------------------
// Rule 2: no clock and no I/O below the front ends.

/// Errors for clock reads and I/O in the non-test code of one source file.
fn check_sans_io(path: &str, src: &str) -> Vec<String> {
    if Path::new(path).file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    let toks = non_test(&tokens(src));
    let mut found = BTreeSet::new();
    for i in 0..toks.len() {
        for (seq, what) in FORBIDDEN {
            let hit = toks.len() >= i + seq.len()
                && seq.iter().zip(&toks[i..]).all(|(s, t)| *s == t.text);
            if hit {
                let name = if seq.contains(&"fs") {
                    "std::fs"
                } else {
                    seq[0]
                };
                found.insert((toks[i].line, name, *what));
            }
        }
    }
    found
        .into_iter()
        .map(|(line, name, what)| {
            format!(
                "{path}:{line}: `{name}` {what}, in a crate that does no I/O and reads no \
                 clock (take it as an argument; see ARCHITECTURE.md, \"No I/O below the \
                 front ends\")"
            )
        })
        .collect()
}

/// Errors for I/O crates among a Cargo.toml's `[dependencies]`.
fn check_sans_io_deps(path: &str, manifest: &str) -> Vec<String> {
    section(manifest, "[dependencies]")
        .filter_map(|(n, l)| {
            let name = l.split(['=', '.', ' ']).next()?;
            FORBIDDEN_DEPS.contains(&name).then(|| {
                format!("{path}:{n}: `{name}` in [dependencies] of a crate that does no I/O")
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Rule 3: the code map is complete.

/// Crate names found after `prefix` in `text` (`crates/NAME`), with their lines.
fn crate_mentions(text: &str, prefix: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            if !name.is_empty() {
                out.push((name, n + 1));
            }
        }
    }
    out
}

/// The first fenced block of a Markdown text, with its first line's number.
fn first_fenced_block(md: &str) -> (String, usize) {
    let lines: Vec<&str> = md.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("```")) else {
        return (String::new(), 0);
    };
    let body: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("```"))
        .copied()
        .collect();
    (body.join("\n"), start + 2)
}

/// The lines (numbered from 1) of the section headed by the line `heading`, up to the
/// next heading of the same kind (a line starting with `#`, or `[` for TOML).
fn section<'a>(text: &'a str, heading: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let mark = &heading[..1];
    text.lines()
        .enumerate()
        .skip_while(move |(_, l)| l.trim_end() != heading)
        .skip(1)
        .take_while(move |(_, l)| !l.starts_with(mark))
        .map(|(n, l)| (n + 1, l))
}

/// Errors where ARCHITECTURE.md's code map and diagram or README.md's layout table
/// disagree with the crate directories `crates`.
fn check_crate_map(crates: &[String], arch: &str, readme: &str) -> Vec<String> {
    let (diagram, diagram_line) = first_fenced_block(arch);
    let places = [
        (
            "ARCHITECTURE.md",
            "code map (entries **`crates/NAME`**)",
            crate_mentions(arch, "**`crates/"),
            0,
        ),
        (
            "ARCHITECTURE.md",
            "diagram",
            crate_mentions(&diagram, "crates/"),
            diagram_line.saturating_sub(1),
        ),
        (
            "README.md",
            "layout table (rows | `crates/NAME` |)",
            section(readme, "## Layout")
                .filter_map(|(n, l)| {
                    let rest = l.strip_prefix("| `crates/")?;
                    Some((rest[..rest.find('`')?].to_string(), n))
                })
                .collect(),
            0,
        ),
    ];
    let mut errors = Vec::new();
    for (file, what, found, offset) in places {
        for (name, n) in &found {
            if !crates.contains(name) {
                errors.push(format!(
                    "{file}:{}: {what} names crates/{name}, which does not exist",
                    n + offset
                ));
            }
        }
        for name in crates {
            if !found.iter().any(|(f, _)| f == name) {
                errors.push(format!("{file}: the {what} has nothing for crates/{name}"));
            }
        }
    }
    errors
}

// ---------------------------------------------------------------------------------
// Rule 4: every configuration key is documented.

/// Errors for key lines of a TOML text whose previous line is not a comment.
fn check_config_comments(toml: &str) -> Vec<String> {
    let lines: Vec<&str> = toml.lines().collect();
    let mut errors = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let is_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let commented = i > 0 && lines[i - 1].trim_start().starts_with('#');
        if is_key && !line.starts_with('#') && !commented {
            errors.push(format!(
                "shoal config default:{}: key `{key}` has no comment on the line above \
                 (give it a doc comment in its section! in crates/node/src/config/)",
                i + 1
            ));
        }
    }
    errors
}

// ---------------------------------------------------------------------------------
// The tree.

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, as (path relative to the root, contents), skipping
/// `target`, `node_modules` and hidden directories.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let root = root().canonicalize().unwrap();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                let rel = path.canonicalize().unwrap();
                let rel = rel
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, read(&path)));
            }
        }
    }
    out.sort();
    out
}

fn crate_dirs() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn assert_none(errors: Vec<String>) {
    assert!(errors.is_empty(), "\n{}\n", errors.join("\n"));
}

fn allowed() -> Vec<&'static str> {
    UNSAFE_ALLOWED.iter().map(|(path, _)| *path).collect()
}

#[test]
fn unsafe_code_is_only_in_listed_files() {
    assert_none(check_unsafe(&rust_files(&root()), &allowed()));
}

#[test]
fn architecture_lists_the_files_allowed_unsafe() {
    let arch = read(&root().join("ARCHITECTURE.md"));
    assert_none(check_unsafe_lists_agree(&arch, &allowed()));
}

#[test]
fn sans_io_crates_read_no_clock_and_do_no_io() {
    let mut errors = Vec::new();
    for name in SANS_IO_CRATES {
        let dir = root().join("crates").join(name);
        let files = rust_files(&dir.join("src"));
        assert!(!files.is_empty(), "crates/{name}/src has no .rs files");
        for (path, src) in files {
            errors.extend(check_sans_io(&path, &src));
        }
        let manifest = format!("crates/{name}/Cargo.toml");
        errors.extend(check_sans_io_deps(
            &manifest,
            &read(&dir.join("Cargo.toml")),
        ));
    }
    assert_none(errors);
}

#[test]
fn every_crate_is_in_the_code_map_the_diagram_and_the_readme() {
    let arch = read(&root().join("ARCHITECTURE.md"));
    let readme = read(&root().join("README.md"));
    assert_none(check_crate_map(&crate_dirs(), &arch, &readme));
}

#[test]
fn every_config_key_has_a_comment() {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["config", "default"])
        .output()
        .unwrap();
    assert!(out.status.success(), "shoal config default: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().filter(|l| l.contains(" = ")).count() > 20);
    assert_none(check_config_comments(&text));
}

// ---------------------------------------------------------------------------------
// The checkers fail when they should.

mod checkers {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect()
    }

    #[test]
    fn unsafe_in_an_unlisted_file_is_an_error_naming_file_and_line() {
        let src = "fn f() {\n    let x = unsafe { g() };\n}\n";
        let errors = check_unsafe(&files(&[("crates/a/src/lib.rs", src)]), &[]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("crates/a/src/lib.rs:2: "),
            "{errors:?}"
        );
        for src in [
            "unsafe fn f() {}",
            "unsafe impl Send for X {}",
            "unsafe extern \"C\" {}",
        ] {
            assert_eq!(unsafe_lines(src), [1], "{src}");
        }
    }

    #[test]
    fn unsafe_in_a_listed_file_is_fine_and_a_listed_file_without_it_is_not() {
        let list = files(&[("a.rs", "unsafe { f() }"), ("b.rs", "fn f() {}")]);
        assert_eq!(check_unsafe(&list, &["a.rs"]), Vec::<String>::new());
        let errors = check_unsafe(&list, &["a.rs", "b.rs"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("b.rs: allowed `unsafe` but has none"));
    }

    #[test]
    fn unsafe_in_comments_strings_and_names_is_not_code() {
        let src = r####"
            // unsafe { in a line comment }
            /* unsafe { /* nested */ unsafe fn } */
            /// Doc text: unsafe impl.
            #![forbid(unsafe_code)]
            const A: &str = "unsafe { \" still a string unsafe fn }";
            const B: &[u8] = b"unsafe {";
            const C: &str = r#"unsafe { " unsafe fn"#;
            const D: &str = r##"unsafe "# fn"##;
            const E: char = '"'; const F: u8 = b'\''; let r#unsafe = 1;
            fn g<'a>(x: &'a str) -> &'a str { 'outer: loop { break 'outer x; } }
        "####;
        assert_eq!(unsafe_lines(src), Vec::<usize>::new());
        // What follows a literal is code again, on the right line.
        assert_eq!(unsafe_lines("let s = \"a\nb\"; 'c'; unsafe { }"), [2]);
        assert_eq!(unsafe_lines("let s = r#\"\n\"#;\nunsafe fn f() {}"), [3]);
    }

    #[test]
    fn the_architecture_list_must_match_the_allow_list() {
        let arch = "# A\n## Unsafe code\n\n- `a.rs` — why\n- `b.rs` — why\n## Next\n- `c.rs`\n";
        assert_eq!(
            architecture_unsafe_list(arch),
            [("a.rs".into(), 4), ("b.rs".into(), 5)]
        );
        assert!(check_unsafe_lists_agree(arch, &["a.rs", "b.rs"]).is_empty());
        let errors = check_unsafe_lists_agree(arch, &["a.rs"]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("ARCHITECTURE.md:5: `b.rs`"),
            "{errors:?}"
        );
        let errors = check_unsafe_lists_agree(arch, &["a.rs", "b.rs", "c.rs"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("does not list `c.rs`"), "{errors:?}");
        assert_eq!(check_unsafe_lists_agree("# A\n", &[]).len(), 1);
    }

    #[test]
    fn clock_reads_and_io_in_a_sans_io_crate_are_errors() {
        let cases = [
            ("let t = std::time::Instant::now();", "Instant"),
            ("let t = SystemTime::now();", "SystemTime"),
            ("let d = t.duration_since(UNIX_EPOCH);", "UNIX_EPOCH"),
            ("use std::net::{IpAddr, UdpSocket};", "UdpSocket"),
            ("let s = TcpStream::connect(a);", "TcpStream"),
            ("let l: TcpListener = x;", "TcpListener"),
            ("tokio::spawn(f);", "tokio"),
            ("use mio::Poll;", "mio"),
            ("let d = std::fs::read(p);", "std::fs"),
            ("use std::{fs, io};\nfn f() { fs::read(p); }", "std::fs"),
            ("std::thread::sleep(d);", "thread"),
            ("std::thread::spawn(f);", "thread"),
        ];
        for (src, name) in cases {
            let errors = check_sans_io("crates/engine/src/x.rs", src);
            assert_eq!(errors.len(), 1, "{src}: {errors:?}");
            let line = src.lines().count();
            assert!(
                errors[0].starts_with(&format!("crates/engine/src/x.rs:{line}: `{name}`")),
                "{src}: {errors:?}"
            );
        }
    }

    #[test]
    fn test_code_comments_and_plain_names_may_mention_the_clock() {
        let src = r#"
            use std::net::IpAddr;
            use std::io::Write;
            /// Callers pass `Instant::now()`; we never call SystemTime::now.
            pub fn f(now: u64, ip: IpAddr) -> u64 { let s = "UdpSocket"; now }
            pub struct S {
                a: u32,
                #[cfg(test)]
                probed: std::time::Instant,
                b: u32,
            }
            fn g() {
                #[cfg(test)]
                let t = std::time::Instant::now();
                let after = 1;
            }
            #[cfg(test)]
            mod tests {
                #[test]
                fn t() { let t = std::time::Instant::now(); std::thread::sleep(d); }
            }
            #[cfg(test)]
            #[allow(unused)]
            fn helper() -> std::fs::File { todo!() }
            #[cfg(test)]
            mod more;
        "#;
        assert_eq!(
            check_sans_io("crates/engine/src/x.rs", src),
            Vec::<String>::new()
        );
        let clock = "fn t() { std::thread::sleep(d) }";
        assert!(check_sans_io("crates/engine/src/tests.rs", clock).is_empty());
        let test_file = format!("#![cfg(test)]\n{clock}");
        assert!(check_sans_io("crates/engine/src/x.rs", &test_file).is_empty());
        // What follows a test item is checked again.
        let after = "#[cfg(test)]\nmod tests { }\nfn f() { Instant::now(); }";
        assert_eq!(check_sans_io("x.rs", after).len(), 1);
        let after_field = "struct S {\n #[cfg(test)]\n a: u8,\n b: TcpStream }";
        assert_eq!(check_sans_io("x.rs", after_field).len(), 1);
    }

    #[test]
    fn an_io_dependency_of_a_sans_io_crate_is_an_error() {
        let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nthiserror.workspace = true\n\
                        tokio = { version = \"1\" }\n\n[dev-dependencies]\nmio = \"1\"\n";
        let errors = check_sans_io_deps("crates/x/Cargo.toml", manifest);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("crates/x/Cargo.toml:6: `tokio`"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_crate_missing_from_the_map_the_diagram_or_the_readme_is_an_error() {
        let arch = "# A\n\n```\ncrates/a ──► crates/b\n```\n\n## Code map\n\n\
                    **`crates/a` (`x-a`)** — A.\n\n**`crates/b`** — B.\n";
        let readme = "# R\n## Layout\n\n| path | what |\n|---|---|\n| `crates/a` | A |\n\
                      | `crates/b` | B |\n| `tests/e2e` | E |\n";
        let crates = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_crate_map(&crates(&["a", "b"]), arch, readme),
            Vec::<String>::new()
        );

        // A new crate appears nowhere: three errors, one per place.
        let errors = check_crate_map(&crates(&["a", "b", "c"]), arch, readme);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors
            .iter()
            .all(|e| e.contains(" has nothing for crates/c")));

        // A crate that is gone is still named everywhere, with lines.
        let errors = check_crate_map(&crates(&["a"]), arch, readme);
        assert_eq!(
            errors,
            [
                "ARCHITECTURE.md:11: code map (entries **`crates/NAME`**) names crates/b, \
                 which does not exist",
                "ARCHITECTURE.md:4: diagram names crates/b, which does not exist",
                "README.md:7: layout table (rows | `crates/NAME` |) names crates/b, which \
                 does not exist",
            ]
        );
    }

    #[test]
    fn a_config_key_without_a_comment_is_an_error() {
        let good = "# Top.\n\n# A.\na = 1\n\n[s]\n# B, over\n# two lines.\nb = \"x = y\"\n";
        assert_eq!(check_config_comments(good), Vec::<String>::new());
        let bad = "# A.\na = 1\nb = [\n  \"x\",\n]\n\n[s]\nc = 2\n";
        let errors = check_config_comments(bad);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("shoal config default:3: key `b`"));
        assert!(errors[1].starts_with("shoal config default:8: key `c`"));
    }
}
