//! Records of `itc/capture`: one per packet the tile received, sent or
//! dropped, and one for records a reader lost by falling behind
//! (`docs/reference.md`, "itc/capture records").
//!
//! Every record starts with the same 16-byte header; integers are
//! little-endian:
//!
//! ```text
//! 0..2   length of the whole record, header included (u16)
//! 2      kind: 0x01 packet, 0x02 lost
//! 3      dir8 of the neighbour the packet came from or went to
//!        (0xff in a lost record)
//! 4      way: 0x01 in (from the neighbour), 0x02 out (to it), 0 in a
//!        lost record
//! 5      fate: 0 passed (delivered, answered or handed to the PRU),
//!        1..=7 dropped, for the reason with that code ([`DROP_REASONS`])
//! 6..8   0
//! 8..16  time, nanoseconds since the Unix epoch (u64)
//! 16..   packet record: the packet (1..=255 bytes); lost record: the
//!        number of records lost (u64)
//! ```
//!
//! [`CaptureRecord::parse`] never panics, whatever the input.

use crate::{Dir, Error, MAX_PACKET_LEN};

/// Bytes of the header every record starts with.
pub const CAPTURE_HEADER_LEN: usize = 16;
/// The longest record: a header and a whole packet.
pub const MAX_CAPTURE_RECORD_LEN: usize = CAPTURE_HEADER_LEN + MAX_PACKET_LEN;
/// Length of a lost record.
pub const CAPTURE_LOST_LEN: usize = CAPTURE_HEADER_LEN + 8;

/// Kind byte of a packet record.
pub const KIND_PACKET: u8 = 0x01;
/// Kind byte of a lost record.
pub const KIND_LOST: u8 = 0x02;

/// The drop reasons by code: code `n` (1..=7) is `DROP_REASONS[n - 1]`,
/// spelled as in `tile/<D>/status` (`drop_<name>`).
pub const DROP_REASONS: [&str; 7] = [
    "no_reader",
    "queue_full",
    "eror",
    "incompatible",
    "link_down",
    "absent",
    "malformed",
];

/// The name of a drop reason code, if it is one.
pub fn drop_reason_name(code: u8) -> Option<&'static str> {
    DROP_REASONS.get(usize::from(code).checked_sub(1)?).copied()
}

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Way {
    /// From the neighbour.
    In,
    /// To the neighbour.
    Out,
}

impl Way {
    /// Its byte in a record.
    pub const fn code(self) -> u8 {
        match self {
            Way::In => 0x01,
            Way::Out => 0x02,
        }
    }
}

/// A decoded record; the packet is borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureRecord<'a> {
    /// A packet received, sent or dropped.
    Packet {
        /// Nanoseconds since the Unix epoch.
        time_ns: u64,
        /// The neighbour's direction.
        dir: Dir,
        /// Which way it went.
        way: Way,
        /// 0: passed; else the drop reason's code (1..=7).
        fate: u8,
        /// The packet.
        packet: &'a [u8],
    },
    /// The reader fell behind and lost this many records.
    Lost {
        /// Nanoseconds since the Unix epoch.
        time_ns: u64,
        /// Records lost.
        count: u64,
    },
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// Write the header of a packet record for a packet of `len` bytes.
pub fn packet_header(
    time_ns: u64,
    dir: Dir,
    way: Way,
    fate: u8,
    len: usize,
) -> [u8; CAPTURE_HEADER_LEN] {
    let total = (CAPTURE_HEADER_LEN + len.min(MAX_PACKET_LEN)) as u16;
    let mut h = [0u8; CAPTURE_HEADER_LEN];
    h[0..2].copy_from_slice(&total.to_le_bytes());
    h[2] = KIND_PACKET;
    h[3] = dir.dir8();
    h[4] = way.code();
    h[5] = fate;
    h[8..16].copy_from_slice(&time_ns.to_le_bytes());
    h
}

/// A whole lost record.
pub fn lost_record(time_ns: u64, count: u64) -> [u8; CAPTURE_LOST_LEN] {
    let mut r = [0u8; CAPTURE_LOST_LEN];
    r[0..2].copy_from_slice(&(CAPTURE_LOST_LEN as u16).to_le_bytes());
    r[2] = KIND_LOST;
    r[3] = 0xff;
    r[8..16].copy_from_slice(&time_ns.to_le_bytes());
    r[16..24].copy_from_slice(&count.to_le_bytes());
    r
}

impl<'a> CaptureRecord<'a> {
    /// Decode the record at the start of `buf`; returns it and its length.
    pub fn parse(buf: &'a [u8]) -> Result<(CaptureRecord<'a>, usize), Error> {
        if buf.len() < CAPTURE_HEADER_LEN {
            return Err(Error::Truncated {
                len: buf.len(),
                need: CAPTURE_HEADER_LEN,
            });
        }
        let len = usize::from(u16::from_le_bytes([buf[0], buf[1]]));
        if buf.len() < len {
            return Err(Error::Truncated {
                len: buf.len(),
                need: len,
            });
        }
        let time_ns = u64_at(buf, 8);
        let rec = match buf[2] {
            KIND_PACKET => {
                if !(CAPTURE_HEADER_LEN + 1..=MAX_CAPTURE_RECORD_LEN).contains(&len) {
                    return Err(Error::BadRecord {
                        field: "length",
                        value: len,
                    });
                }
                let dir = Dir::from_dir8(buf[3]).map_err(|_| Error::BadRecord {
                    field: "dir",
                    value: usize::from(buf[3]),
                })?;
                let way = match buf[4] {
                    0x01 => Way::In,
                    0x02 => Way::Out,
                    v => {
                        return Err(Error::BadRecord {
                            field: "way",
                            value: usize::from(v),
                        })
                    }
                };
                let fate = buf[5];
                if fate != 0 && drop_reason_name(fate).is_none() {
                    return Err(Error::BadRecord {
                        field: "fate",
                        value: usize::from(fate),
                    });
                }
                CaptureRecord::Packet {
                    time_ns,
                    dir,
                    way,
                    fate,
                    packet: &buf[CAPTURE_HEADER_LEN..len],
                }
            }
            KIND_LOST => {
                if len != CAPTURE_LOST_LEN {
                    return Err(Error::BadRecord {
                        field: "length",
                        value: len,
                    });
                }
                CaptureRecord::Lost {
                    time_ns,
                    count: u64_at(buf, 16),
                }
            }
            v => {
                return Err(Error::BadRecord {
                    field: "kind",
                    value: usize::from(v),
                })
            }
        };
        Ok((rec, len))
    }

    /// The record's time, nanoseconds since the Unix epoch.
    pub fn time_ns(&self) -> u64 {
        match self {
            CaptureRecord::Packet { time_ns, .. } | CaptureRecord::Lost { time_ns, .. } => *time_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_back_to_what_was_written() {
        let pkt = [0xa0 | Dir::SE.dir8(), 1, 2, 3];
        let mut buf = packet_header(123_456_789, Dir::SE, Way::Out, 5, pkt.len()).to_vec();
        buf.extend_from_slice(&pkt);
        buf.extend_from_slice(&lost_record(7, 42));
        let (rec, n) = CaptureRecord::parse(&buf).unwrap();
        assert_eq!(n, 20);
        assert_eq!(
            rec,
            CaptureRecord::Packet {
                time_ns: 123_456_789,
                dir: Dir::SE,
                way: Way::Out,
                fate: 5,
                packet: &pkt
            }
        );
        let (rec, n) = CaptureRecord::parse(&buf[20..]).unwrap();
        assert_eq!(n, CAPTURE_LOST_LEN);
        assert_eq!(
            rec,
            CaptureRecord::Lost {
                time_ns: 7,
                count: 42
            }
        );
        assert_eq!(drop_reason_name(5), Some("link_down"));
        assert_eq!(drop_reason_name(0), None);
        assert_eq!(drop_reason_name(8), None);
    }

    #[test]
    fn bad_records_are_errors() {
        let mut buf = packet_header(1, Dir::ET, Way::In, 0, 1).to_vec();
        buf.push(0xa0);
        assert!(CaptureRecord::parse(&buf[..16]).is_err(), "cut off");
        for (at, v) in [(2, 9u8), (3, 4), (4, 0), (5, 8)] {
            let mut b = buf.clone();
            b[at] = v;
            assert!(CaptureRecord::parse(&b).is_err(), "byte {at} = {v}");
        }
        let mut b = buf.clone();
        b[0] = 16;
        assert!(CaptureRecord::parse(&b).is_err(), "no packet");
    }
}
