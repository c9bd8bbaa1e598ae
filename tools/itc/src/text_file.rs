//! The tree's text files (`itc/status`, `itc/self`, `tile/<D>/status`,
//! `itc/physics`): reading them whole and looking up `key: value` lines.
//!
//! Status files are generated when opened, so each read is a fresh
//! snapshot.

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

#[cfg(test)]
mod tests {
    use super::*;

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
