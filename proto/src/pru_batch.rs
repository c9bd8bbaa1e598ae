//! Batched PRU messages: several packets in one rpmsg message, and the
//! framing offer (local type 0xc6) by which `itcd` and a PRU agree on them
//! at start (`docs/pru-messages.md`, "Batched messages").
//!
//! ```text
//! offer / agreement   0xc6 FLAGS            FLAGS bit 0: batched messages
//! batched message     LEN item LEN item ...  LEN 1..=255, the item's bytes
//! lone (PRU to host)  0x00 message           one message too long for an item
//! ```
//!
//! A batched message is at most [`MAX_RPMSG_MSG`] bytes and holds at least
//! one item. Items are what a message would be without batching (a packet,
//! a link status, a bounce). A bounce of a 254- or 255-byte packet is
//! longer than an item can be: the PRU sends it alone, after a 0x00 byte,
//! which no batch starts with.
//!
//! [`BatchItems`] validates a whole message before it yields anything, so a
//! malformed message is refused whole with a [`BatchError`] saying why;
//! [`BatchWriter`] builds messages that [`BatchItems`] accepts.

use core::fmt;

use super::packet::field;

/// The longest message rpmsg carries: a 512-byte buffer less its 16-byte
/// header.
pub const MAX_RPMSG_MSG: usize = 496;

/// Local type 0xc6: the framing offer (host to PRU) and agreement (PRU to
/// host).
pub const TYPE_FRAMING: u8 = field::TYPE_FRAMING;

/// The length of a framing offer or agreement.
pub const FRAMING_LEN: usize = 2;

/// FLAGS bit 0: batched messages in both directions.
pub const FRAMING_BATCHED: u8 = 0x01;

/// Byte 0 of a lone message in batched mode (PRU to host only).
pub const BATCH_LONE: u8 = 0x00;

/// The longest item of a batch.
pub const MAX_BATCH_ITEM: usize = 255;

/// The offer or agreement message for `flags`.
pub const fn framing_bytes(flags: u8) -> [u8; FRAMING_LEN] {
    [TYPE_FRAMING, flags]
}

/// The FLAGS of a framing offer or agreement, or `None` if `msg` is not
/// one (a different type or length).
pub fn parse_framing(msg: &[u8]) -> Option<u8> {
    match *msg {
        [TYPE_FRAMING, flags] => Some(flags),
        _ => None,
    }
}

/// Why a batched message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchError {
    /// The message has no bytes (an empty message is a start, never a
    /// batch).
    Empty,
    /// The message is longer than rpmsg carries.
    TooLong {
        /// Length of the message.
        len: usize,
    },
    /// An item's length byte is 0.
    ZeroLength {
        /// Offset of the length byte.
        at: usize,
    },
    /// An item runs past the end of the message.
    CutOff {
        /// Offset of the length byte.
        at: usize,
        /// The item's length.
        len: usize,
        /// Bytes left after the length byte.
        left: usize,
    },
    /// A lone message (0x00) with nothing after its marker.
    EmptyLone,
}

impl BatchError {
    /// The names of the reasons, by [`BatchError::index`].
    pub const REASONS: [&'static str; 5] =
        ["empty", "too_long", "zero_length", "cut_off", "empty_lone"];

    /// The reason's place in [`BatchError::REASONS`].
    pub const fn index(&self) -> usize {
        match self {
            BatchError::Empty => 0,
            BatchError::TooLong { .. } => 1,
            BatchError::ZeroLength { .. } => 2,
            BatchError::CutOff { .. } => 3,
            BatchError::EmptyLone => 4,
        }
    }

    /// A short name for counters and logs.
    pub const fn reason(&self) -> &'static str {
        Self::REASONS[self.index()]
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BatchError::Empty => f.write_str("empty batched message"),
            BatchError::TooLong { len } => {
                write!(
                    f,
                    "batched message of {len} bytes is too long (at most {MAX_RPMSG_MSG})"
                )
            }
            BatchError::ZeroLength { at } => write!(f, "item of length 0 at byte {at}"),
            BatchError::CutOff { at, len, left } => {
                write!(
                    f,
                    "item of {len} bytes at byte {at} has only {left} bytes left"
                )
            }
            BatchError::EmptyLone => f.write_str("lone message marker with no message"),
        }
    }
}

impl std::error::Error for BatchError {}

/// The items of one valid batched message, in order.
#[derive(Debug, Clone)]
pub struct BatchItems<'a> {
    rest: &'a [u8],
    lone: bool,
}

impl<'a> BatchItems<'a> {
    /// Validates a batched message from a PRU (`lone_allowed`: a 0x00
    /// marker may carry one unframed message) or from the host (never).
    pub fn parse(msg: &'a [u8], lone_allowed: bool) -> Result<BatchItems<'a>, BatchError> {
        if msg.len() > MAX_RPMSG_MSG {
            return Err(BatchError::TooLong { len: msg.len() });
        }
        match msg.first() {
            None => return Err(BatchError::Empty),
            Some(&BATCH_LONE) if lone_allowed => {
                return if msg.len() > 1 {
                    Ok(BatchItems {
                        rest: &msg[1..],
                        lone: true,
                    })
                } else {
                    Err(BatchError::EmptyLone)
                };
            }
            Some(_) => {}
        }
        let mut at = 0;
        while at < msg.len() {
            let len = usize::from(msg[at]);
            if len == 0 {
                return Err(BatchError::ZeroLength { at });
            }
            let left = msg.len() - at - 1;
            if len > left {
                return Err(BatchError::CutOff { at, len, left });
            }
            at += 1 + len;
        }
        Ok(BatchItems {
            rest: msg,
            lone: false,
        })
    }

    /// The number of items left.
    pub fn count_left(&self) -> usize {
        self.clone().count()
    }
}

impl<'a> Iterator for BatchItems<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.lone {
            self.lone = false;
            return Some(core::mem::take(&mut self.rest));
        }
        let (&len, tail) = self.rest.split_first()?;
        // parse checked every length against what follows it.
        let (item, rest) = tail.split_at(usize::from(len).min(tail.len()));
        self.rest = rest;
        Some(item)
    }
}

/// Builds batched messages of up to [`MAX_RPMSG_MSG`] bytes.
#[derive(Clone)]
pub struct BatchWriter {
    buf: [u8; MAX_RPMSG_MSG],
    len: usize,
    items: usize,
}

impl fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchWriter")
            .field("len", &self.len)
            .field("items", &self.items)
            .finish()
    }
}

impl Default for BatchWriter {
    fn default() -> BatchWriter {
        BatchWriter::new()
    }
}

impl BatchWriter {
    /// An empty message.
    pub const fn new() -> BatchWriter {
        BatchWriter {
            buf: [0; MAX_RPMSG_MSG],
            len: 0,
            items: 0,
        }
    }

    /// True if an item of `len` bytes (1..=255) fits after what is there.
    pub fn fits(&self, len: usize) -> bool {
        (1..=MAX_BATCH_ITEM).contains(&len) && self.len + 1 + len <= MAX_RPMSG_MSG
    }

    /// Appends `item` if it fits; false (nothing changed) if it does not or
    /// is not 1..=255 bytes.
    pub fn push(&mut self, item: &[u8]) -> bool {
        if !self.fits(item.len()) {
            return false;
        }
        // fits bounds the length to 255.
        self.buf[self.len] = item.len() as u8;
        self.buf[self.len + 1..self.len + 1 + item.len()].copy_from_slice(item);
        self.len += 1 + item.len();
        self.items += 1;
        true
    }

    /// The message so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Items in the message.
    pub fn items(&self) -> usize {
        self.items
    }

    /// True if nothing was pushed since the last clear.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Empties the message.
    pub fn clear(&mut self) {
        self.len = 0;
        self.items = 0;
    }
}

/// The lone form of `msg` (a PRU message too long for an item): 0x00 then
/// the message. `None` if `msg` is empty or would not fit in rpmsg.
pub fn lone_bytes(msg: &[u8]) -> Option<Vec<u8>> {
    if msg.is_empty() || msg.len() + 1 > MAX_RPMSG_MSG {
        return None;
    }
    let mut out = Vec::with_capacity(msg.len() + 1);
    out.push(BATCH_LONE);
    out.extend_from_slice(msg);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(msg: &[u8], lone: bool) -> Result<Vec<Vec<u8>>, BatchError> {
        BatchItems::parse(msg, lone).map(|it| it.map(<[u8]>::to_vec).collect())
    }

    #[test]
    fn framing_offer_round_trips_and_nothing_else_is_one() {
        assert_eq!(framing_bytes(FRAMING_BATCHED), [0xc6, 0x01]);
        assert_eq!(parse_framing(&[0xc6, 0x01]), Some(1));
        assert_eq!(parse_framing(&[0xc6, 0x00]), Some(0));
        assert_eq!(parse_framing(&[0xc6]), None);
        assert_eq!(parse_framing(&[0xc6, 1, 0]), None);
        assert_eq!(parse_framing(&[0xc5, 1]), None);
        assert_eq!(parse_framing(&[]), None);
    }

    #[test]
    fn items_come_out_in_order() {
        let msg = [2, 0x82, 9, 1, 0xa3, 3, 0xc3, 0x50, 2];
        assert_eq!(
            items(&msg, false).unwrap(),
            vec![vec![0x82, 9], vec![0xa3], vec![0xc3, 0x50, 2]]
        );
        assert_eq!(BatchItems::parse(&msg, false).unwrap().count_left(), 3);
    }

    #[test]
    fn malformed_batches_are_refused_whole() {
        assert_eq!(items(&[], false), Err(BatchError::Empty));
        assert_eq!(
            items(&[1, 0x82, 0], false),
            Err(BatchError::ZeroLength { at: 2 })
        );
        assert_eq!(
            items(&[1, 0x82, 3, 0x82, 1], false),
            Err(BatchError::CutOff {
                at: 2,
                len: 3,
                left: 2
            })
        );
        assert_eq!(
            items(&[0u8; MAX_RPMSG_MSG + 1], true),
            Err(BatchError::TooLong { len: 497 })
        );
        // From the host there is no lone form: 0x00 is a zero length.
        assert_eq!(
            items(&[0, 0x82], false),
            Err(BatchError::ZeroLength { at: 0 })
        );
        assert_eq!(items(&[0], true), Err(BatchError::EmptyLone));
    }

    #[test]
    fn a_lone_message_is_one_item() {
        let mut bounce = vec![0xc5, 1, 0x82];
        bounce.extend([7u8; 254]);
        let lone = lone_bytes(&bounce).unwrap();
        assert_eq!(lone.len(), 258);
        assert_eq!(items(&lone, true).unwrap(), vec![bounce]);
        assert_eq!(lone_bytes(&[]), None);
        assert_eq!(lone_bytes(&[1; MAX_RPMSG_MSG]), None);
    }

    #[test]
    fn the_writer_fills_up_to_rpmsg_and_parses_back() {
        let mut w = BatchWriter::new();
        assert!(w.is_empty());
        assert!(!w.push(&[]));
        assert!(!w.push(&[0; 256]));
        let packet = [0x82u8; 100];
        let mut n = 0;
        while w.push(&packet) {
            n += 1;
        }
        assert_eq!(n, 4); // 4 * 101 = 404; a fifth would make 505
        assert_eq!(w.items(), 4);
        assert!(w.fits(MAX_RPMSG_MSG - 404 - 1));
        assert!(!w.fits(MAX_RPMSG_MSG - 404));
        assert!(w.push(&[0x83; 91]));
        assert_eq!(w.as_bytes().len(), MAX_RPMSG_MSG);
        let got = items(w.as_bytes(), false).unwrap();
        assert_eq!(got.len(), 5);
        assert!(got[..4].iter().all(|p| p[..] == packet[..]));
        w.clear();
        assert!(w.is_empty());
        assert_eq!(w.as_bytes(), &[] as &[u8]);
    }

    #[test]
    fn no_input_panics_the_parser() {
        // Every message of up to 3 bytes, and long runs of each byte.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for lone in [false, true] {
                    let _ = items(&[a, b], lone);
                    let _ = items(&[a, b, a], lone);
                }
            }
            let _ = items(&[a; MAX_RPMSG_MSG], true);
        }
    }
}
