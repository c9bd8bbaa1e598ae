//! A bounds-checked reader over a byte slice, shared by the manifest,
//! tombstone and wire parsers. Every read either returns the bytes or a
//! [`Short`] carrying the slice length and the length the read needed, so a
//! parser built on it never indexes out of bounds. Numbers are big-endian.
#![forbid(unsafe_code)]

/// A read ran past the end: the input is `len` bytes, the read needed
/// `need`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    /// Length of the input.
    pub len: usize,
    /// Length the read needed.
    pub need: usize,
}

/// A cursor over `bytes`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// The offset of the next read.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Bytes left after the cursor.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        let need = self.at.saturating_add(n);
        let out = self.bytes.get(self.at..need).ok_or(Short {
            len: self.bytes.len(),
            need,
        })?;
        self.at = need;
        Ok(out)
    }

    /// Everything after the cursor.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.at..];
        self.at = self.bytes.len();
        out
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.array::<1>()?[0])
    }

    /// The next big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, Short> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// The next big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, Short> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// The next big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, Short> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_order_and_reports_shortfall() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3, 9]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.position(), 7);
        assert_eq!(r.u16(), Err(Short { len: 8, need: 9 }));
        assert_eq!(r.remaining(), 1, "a failed read does not move the cursor");
        assert_eq!(
            r.take(usize::MAX),
            Err(Short {
                len: 8,
                need: usize::MAX
            })
        );
        assert_eq!(r.rest(), &[9]);
        assert_eq!(r.remaining(), 0);
    }
}
