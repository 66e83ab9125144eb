//! One definition per configuration key.
//!
//! [`section!`] declares a section's struct from a list of keys, each written once with
//! its documentation, type, default and (optionally) its allowed range. From that one
//! list come the struct (serde, unknown keys refused), its `Default`, the range checks
//! with error messages naming the key and value, and the key's part of the commented
//! default file ([`super::default_toml`]): the doc comment *is* the comment above the
//! key there. Checks that relate several keys are written by hand in the section's
//! file, beside it.

use std::fmt::Write as _;

use super::ConfigError;

/// One key, as the default file documents it.
pub struct Key {
    /// The key's name in its section.
    pub name: &'static str,
    /// The doc comment's lines.
    pub doc: &'static [&'static str],
}

/// What every section provides.
pub trait Section: Default + serde::Serialize {
    /// The table's name (`udp` for `[udp]`; empty for top-level keys).
    const NAME: &'static str;
    /// The keys in order.
    const KEYS: &'static [Key];
    /// Checks each key against its declared range.
    fn check_ranges(&self) -> Result<(), ConfigError>;
}

/// `Err` naming `key`, its value and what is wrong.
pub fn bad(key: &str, value: impl std::fmt::Display, why: &str) -> Result<(), ConfigError> {
    Err(ConfigError(format!("config key `{key}` = {value}: {why}")))
}

/// Checks a value against a declared range.
pub fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: &T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<(), ConfigError> {
    if range.contains(value) {
        return Ok(());
    }
    let (lo, hi) = (range.start(), range.end());
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    bad(key, value, &format!("must be {lo}..={hi}{unit}"))
}

/// Writes a section's keys with their comments and default values.
pub fn write_keys<S: Section>(out: &mut String) {
    let value = toml::Value::try_from(S::default()).expect("sections serialize to tables");
    let table = value.as_table().expect("sections serialize to tables");
    if !S::NAME.is_empty() {
        let _ = writeln!(out, "\n[{}]", S::NAME);
    }
    for key in S::KEYS {
        let Some(v) = table.get(key.name) else {
            continue;
        };
        if v.is_table() {
            continue;
        }
        for line in key.doc {
            let line = line.strip_prefix(' ').unwrap_or(line);
            if line.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {line}");
            }
        }
        let _ = writeln!(out, "{} = {v}", key.name);
        if S::NAME.is_empty() {
            out.push('\n');
        }
    }
}

/// Declares a configuration section: see the module documentation.
///
/// ```ignore
/// section! {
///     /// `[udp]`
///     "udp", pub struct UdpSection {
///         /// Datagrams per system call.
///         batch_size: usize = 32, in 1..=1024;
///         /// Seconds a connection id is accepted.
///         connection_id_max_age: u64 = 120, in 120..=3600 => "seconds";
///     }
/// }
/// ```
macro_rules! section {
    (
        $(#[doc = $sdoc:literal])*
        $name:literal, $vis:vis struct $S:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[serde($($serde:tt)*)])?
                $field:ident : $ty:ty = $default:expr
                    $(, in $range:expr $(=> $unit:literal)?)? ;
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        $vis struct $S {
            $(
                $(#[doc = $doc])*
                $(#[serde($($serde)*)])?
                pub $field: $ty,
            )*
        }

        impl Default for $S {
            fn default() -> Self {
                $S { $( $field: $default, )* }
            }
        }

        impl $crate::config::section::Section for $S {
            const NAME: &'static str = $name;
            const KEYS: &'static [$crate::config::section::Key] = &[
                $( $crate::config::section::Key {
                    name: stringify!($field),
                    doc: &[$($doc),*],
                }, )*
            ];

            fn check_ranges(&self) -> Result<(), $crate::config::ConfigError> {
                $($(
                    let key = if $name.is_empty() {
                        stringify!($field).to_owned()
                    } else {
                        format!("{}.{}", $name, stringify!($field))
                    };
                    let unit = $crate::config::section::unit!($($unit)?);
                    $crate::config::section::in_range(&key, &self.$field, $range, unit)?;
                )?)*
                Ok(())
            }
        }
    };
}

/// A range's unit in messages: the one given, or none.
macro_rules! unit {
    () => {
        ""
    };
    ($unit:literal) => {
        $unit
    };
}

pub(crate) use {section, unit};
