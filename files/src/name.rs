//! File names: 1..=64 bytes of `A-Z a-z 0-9 . _ -`, not starting with `.`.
//!
//! A [`Name`] is only ever built through [`Name::new`] (or `parse` /
//! `try_from`), so a value of this type is always valid: it can be joined to
//! a directory path without escaping (no `/`, no `..`, no hidden files) and
//! written in one byte of length on the wire.
#![forbid(unsafe_code)]

use core::fmt;
use core::str::FromStr;

/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Why a name was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name starts with `.`.
    LeadingDot,
    /// A byte outside `A-Z a-z 0-9 . _ -`, at this offset.
    BadByte {
        /// The byte.
        byte: u8,
        /// Its offset in the name.
        at: usize,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameError::Empty => f.write_str("file name is empty"),
            NameError::TooLong { len } => {
                write!(f, "file name of {len} bytes is too long (at most {MAX_NAME_LEN})")
            }
            NameError::LeadingDot => f.write_str("file name starts with '.'"),
            NameError::BadByte { byte, at } => write!(
                f,
                "file name has byte 0x{byte:02x} at offset {at} (only A-Z a-z 0-9 . _ - are allowed)"
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// Whether `b` may appear in a name.
const fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Checks the bytes of a name.
pub fn check(bytes: &[u8]) -> Result<(), NameError> {
    let len = bytes.len();
    if len == 0 {
        return Err(NameError::Empty);
    }
    if len > MAX_NAME_LEN {
        return Err(NameError::TooLong { len });
    }
    if bytes[0] == b'.' {
        return Err(NameError::LeadingDot);
    }
    match bytes.iter().position(|&b| !allowed(b)) {
        Some(at) => Err(NameError::BadByte {
            byte: bytes[at],
            at,
        }),
        None => Ok(()),
    }
}

/// A valid file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Validates `s` as a name.
    pub fn new(s: &str) -> Result<Name, NameError> {
        check(s.as_bytes())?;
        Ok(Name(s.to_owned()))
    }

    /// Validates raw bytes (from the wire or a manifest) as a name.
    pub fn from_bytes(bytes: &[u8]) -> Result<Name, NameError> {
        check(bytes)?;
        // check() admits ASCII only, so this cannot fail.
        let s = core::str::from_utf8(bytes).map_err(|_| NameError::BadByte {
            byte: bytes[0],
            at: 0,
        })?;
        Ok(Name(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as bytes, 1..=64 of them.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes, which fits in a `u8`.
    pub fn len_u8(&self) -> u8 {
        // At most MAX_NAME_LEN (64) by construction.
        self.0.len() as u8
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::new(s)
    }
}

impl TryFrom<&str> for Name {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Name, NameError> {
        Name::new(s)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for Name {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        for ok in ["a", "A.b_c-d", "physics-2024.mfz", "x.", "_", "-", "0"] {
            assert_eq!(Name::new(ok).unwrap().as_str(), ok);
        }
        let max = "z".repeat(MAX_NAME_LEN);
        assert_eq!(Name::new(&max).unwrap().len_u8(), 64);
    }

    #[test]
    fn rejects_each_fault_with_its_numbers() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(
            Name::new(&"z".repeat(65)),
            Err(NameError::TooLong { len: 65 })
        );
        assert_eq!(Name::new(".hidden"), Err(NameError::LeadingDot));
        assert_eq!(Name::new(".."), Err(NameError::LeadingDot));
        assert_eq!(
            Name::new("a/b"),
            Err(NameError::BadByte { byte: b'/', at: 1 })
        );
        assert_eq!(
            Name::new("a b"),
            Err(NameError::BadByte { byte: b' ', at: 1 })
        );
        assert_eq!(
            Name::from_bytes(&[b'a', 0xc3, 0xa9]),
            Err(NameError::BadByte { byte: 0xc3, at: 1 })
        );
        assert_eq!(
            Name::from_bytes(b"ok\0"),
            Err(NameError::BadByte { byte: 0, at: 2 })
        );
    }

    #[test]
    fn display_names_the_fault() {
        assert_eq!(
            NameError::BadByte { byte: b'/', at: 3 }.to_string(),
            "file name has byte 0x2f at offset 3 (only A-Z a-z 0-9 . _ - are allowed)"
        );
    }
}
