//! Prints the bencode tree of a file (a .torrent, a tracker response) with one value per
//! line; byte strings show as text when they are printable UTF-8, else as their length
//! and first bytes in hex:
//!
//!     cargo run -p shoal-bencode --example tree -- some.torrent
use shoal_bencode::{decode, Value};

fn print(v: &Value<'_>, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Int(n) => println!("{pad}{n}"),
        Value::Bytes(b) => println!("{pad}{}", show(b)),
        Value::List(items) => {
            println!("{pad}list ({} items)", items.len());
            items.iter().for_each(|i| print(i, depth + 1));
        }
        Value::Dict(entries) => {
            println!("{pad}dict ({} keys)", entries.len());
            for (k, v) in entries {
                println!("{pad}  {}:", show(k));
                print(v, depth + 2);
            }
        }
    }
}

fn show(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}"),
        _ => {
            let hex: String = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
            format!(
                "<{} bytes: {hex}{}>",
                b.len(),
                if b.len() > 8 { "…" } else { "" }
            )
        }
    }
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: tree <bencoded file>");
        std::process::exit(2);
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1);
    });
    match decode(&bytes) {
        Ok(v) => print(&v, 0),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
