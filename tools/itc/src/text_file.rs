//! The tree's text files (`itc/status`, `itc/self`, `tile/<D>/status`,
//! `itc/physics`): reading them whole and looking up `key: value` lines.
//!
//! Status files are generated when opened, so each read is a fresh
//! snapshot. Names and physics ids in them are escaped to one line
//! ([`unescape`] gives them back).

use std::fs;
use std::path::{Path, PathBuf};

use crate::errors::Error;

/// Reads a text file of the tree mounted at `mount`.
pub fn read(path: &Path, mount: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| Error::file(path, mount, e))
}

/// The `key: value` lines of one file, in order.
#[derive(Debug, Clone)]
pub struct KeyValues {
    path: PathBuf,
    pairs: Vec<(String, String)>,
}

impl KeyValues {
    /// Reads and parses `path`; lines without `: ` are ignored.
    pub fn read(path: &Path, mount: &Path) -> Result<KeyValues, Error> {
        Ok(KeyValues::parse(path, &read(path, mount)?))
    }

    /// Parses `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> KeyValues {
        let pairs = text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        KeyValues {
            path: path.to_path_buf(),
            pairs,
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`; a missing key is a malformed file.
    pub fn require(&self, key: &str) -> Result<&str, Error> {
        self.get(key).ok_or_else(|| Error::Malformed {
            path: self.path.clone(),
            what: format!("no `{key}` line: is this an itcd tree of the same version?"),
        })
    }

    /// The number in `key`; missing or not a number is a malformed file.
    pub fn number(&self, key: &str) -> Result<u64, Error> {
        let v = self.require(key)?;
        v.parse().map_err(|_| Error::Malformed {
            path: self.path.clone(),
            what: format!("`{key}: {v}` is not a number"),
        })
    }

    /// The sum of every number whose key starts with `prefix`.
    pub fn sum_prefixed(&self, prefix: &str) -> u64 {
        self.pairs
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, v)| v.parse::<u64>().ok())
            .sum()
    }
}

/// Undoes the escaping `itcd` applies to names and physics ids in status
/// files (`\\`, `\t`, `\n`, `\r`, `\xNN`, `\u{NNNN}`), giving the
/// string itself; anything else is kept as it is.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let (c, used) = match tail.as_bytes().first() {
            Some(b'\\') => (Some('\\'), 1),
            Some(b't') => (Some('\t'), 1),
            Some(b'n') => (Some('\n'), 1),
            Some(b'r') => (Some('\r'), 1),
            Some(b'x') => (hex_char(tail.get(1..3)), 3),
            Some(b'u') => match tail.strip_prefix("u{").and_then(|t| t.split_once('}')) {
                Some((digits, _)) => (hex_char(Some(digits)), digits.len() + 3),
                None => (None, 0),
            },
            _ => (None, 0),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &tail[used..];
            }
            None => {
                out.push('\\');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character with hex code `digits`.
fn hex_char(digits: Option<&str>) -> Option<char> {
    let digits = digits.filter(|d| !d.is_empty() && d.len() <= 6)?;
    u32::from_str_radix(digits, 16)
        .ok()
        .and_then(char::from_u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_what_itcd_escapes() {
        assert_eq!(unescape("plain é"), "plain é");
        assert_eq!(unescape("a\\\\b"), "a\\b");
        assert_eq!(unescape("a\\nb\\tc\\r"), "a\nb\tc\r");
        assert_eq!(unescape("\\x1b[2J\\x7f"), "\x1b[2J\x7f");
        assert_eq!(unescape("\\u{0085}x\\u{2028}"), "\u{85}x\u{2028}");
        // Not an escape: kept.
        assert_eq!(unescape("a\\qb\\"), "a\\qb\\");
        assert_eq!(unescape("\\xz1\\u{zz}"), "\\xz1\\u{zz}");
    }

    #[test]
    fn looks_up_keys_and_numbers() {
        let kv = KeyValues::parse(
            Path::new("/s"),
            "dir: ET\npeer_name: \nsince: 2026-11-22T00:55:58Z\ndrop_a: 2\ndrop_b: 3\nrx: x\n",
        );
        assert_eq!(kv.get("dir"), Some("ET"));
        assert_eq!(kv.get("peer_name"), Some(""));
        assert_eq!(kv.get("since"), Some("2026-11-22T00:55:58Z"));
        assert_eq!(kv.sum_prefixed("drop_"), 5);
        assert!(kv
            .number("rx")
            .unwrap_err()
            .to_string()
            .contains("not a number"));
        assert!(kv
            .require("nope")
            .unwrap_err()
            .to_string()
            .starts_with("/s: no `nope`"));
    }
}
