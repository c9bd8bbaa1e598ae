//! The packet header: the zero-copy [`Packet`] view, the decoded
//! [`HeaderRepr`], and [`check_user_write`] for packets written to packet
//! files.
//!
//! Byte 0 of every packet:
//!
//! ```text
//!                           7   6    5      4      3      2      1      0
//! Standard routed          1 | 0 | MFMT | OVRN || EROR | DIR2 | DIR1 | DIR0
//! Standard local           1 | 1 |  0   | TYP4 || TYP3 | TYP2 | TYP1 | TYP0
//! Non-standard (PRU only)  0 | seven-bit ASCII command byte
//! ```
//!
//! Byte 1 of a routed packet with MFMT = 0 (service traffic):
//!
//! ```text
//!   7      6      5      4      3      2      1      0
//! RSV1 | RSV0 | SVC5 | SVC4 | SVC3 | SVC2 | SVC1 | SVC0
//! ```
//!
//! A routed MFM packet is the header byte and opaque payload; a routed
//! service packet is the header byte, the service byte and the service's
//! payload; a local packet (0xc0..=0xdf) is the header byte and a body whose
//! format depends on the local type. Header bytes 0xe0..=0xff are neither
//! routed nor local and are rejected by [`HeaderRepr::parse`].
//!
//! [`Packet::new_checked`] accepts 1..=[`MAX_PACKET_LEN`] bytes (up to
//! [`MAX_BOUNCE_LEN`] for a 0xc5 bounce, which wraps a whole packet), with at
//! least two bytes for a routed service packet. Its getters then never panic.

use super::{check_buffer, Error, Result, MAX_BOUNCE_LEN, MAX_PACKET_LEN};
use crate::dir::Dir;
use crate::service::MAX_SERVICE;

/// Byte indices, bit masks and local type bytes of the header.
pub mod field {
    /// Index of the header byte.
    pub const HEADER: usize = 0;
    /// Index of the service byte in a routed service packet.
    pub const SERVICE: usize = 1;

    /// Byte 0 bit 7: standard packet (1) or non-standard PRU command (0).
    pub const STND: u8 = 0b1000_0000;
    /// Byte 0 bit 6: local packet (1, never crosses a link) or routed (0).
    pub const LOCL: u8 = 0b0100_0000;
    /// Byte 0 bit 5 of a routed packet: MFM traffic (1) or service (0).
    pub const MFMT: u8 = 0b0010_0000;
    /// Byte 0 bit 4 of a routed packet: packets were lost before this one.
    pub const OVRN: u8 = 0b0001_0000;
    /// Byte 0 bit 3 of a routed packet: this packet arrived damaged.
    pub const EROR: u8 = 0b0000_1000;
    /// Byte 0 bits 2..0 of a routed packet: the dir8 direction.
    pub const DIR: u8 = 0b0000_0111;
    /// Byte 0 bits 4..0 of a local packet: the local type.
    pub const LOCAL_TYPE: u8 = 0b0001_1111;
    /// Byte 0 bits that tell routed from local from non-standard.
    pub const KIND: u8 = STND | LOCL;
    /// Byte 0 bits 7..5, which are [`LOCAL`] in every local packet.
    pub const LOCAL_KIND: u8 = STND | LOCL | MFMT;
    /// Byte 0 bits 7..5 of a local packet: 110.
    pub const LOCAL: u8 = STND | LOCL;

    /// Byte 1 bits 7..6 of a routed service packet: reserved, 0 on write.
    pub const RSV: u8 = 0b1100_0000;
    /// Shift of the reserved bits in byte 1.
    pub const RSV_SHIFT: u32 = 6;
    /// Byte 1 bits 5..0 of a routed service packet: the service number.
    pub const SVC: u8 = 0b0011_1111;

    /// Local type 0xc0: illegal.
    pub const TYPE_ILLEGAL: u8 = 0xc0;
    /// Local type 0xc1: labelled value (firmware debug).
    pub const TYPE_LABELLED_VALUE: u8 = 0xc1;
    /// Local type 0xc2: thread debug.
    pub const TYPE_THREAD_DEBUG: u8 = 0xc2;
    /// Local type 0xc3: link status from the firmware.
    pub const TYPE_LINK_STATUS: u8 = 0xc3;
    /// Local type 0xc4: Tile Event Packet.
    pub const TYPE_TEP: u8 = 0xc4;
    /// Local type 0xc5: a packet the PRU could not queue, sent back.
    pub const TYPE_BOUNCE: u8 = 0xc5;
    /// Local type 0xc6: the framing offer and agreement between the host
    /// and a PRU.
    pub const TYPE_FRAMING: u8 = 0xc6;
    /// The last local type byte.
    pub const TYPE_LAST: u8 = 0xdf;
}

/// Header length implied by the header byte: 2 for a routed service
/// packet, 1 otherwise.
const fn header_len_of(b0: u8) -> usize {
    if b0 & field::KIND == field::STND && b0 & field::MFMT == 0 {
        2
    } else {
        1
    }
}

/// A zero-copy view of a packet in a byte buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; getters may panic on a buffer
    /// that [`Packet::check_len`] would reject.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer is 1..=255 bytes (1..=257 for a bounce) and
    /// holds the whole header, so no getter panics.
    pub fn check_len(&self) -> Result<()> {
        let bytes = self.buffer.as_ref();
        let len = bytes.len();
        let Some(&b0) = bytes.first() else {
            return Err(Error::Empty);
        };
        let max = if b0 == field::TYPE_BOUNCE {
            MAX_BOUNCE_LEN
        } else {
            MAX_PACKET_LEN
        };
        if len > max {
            return Err(Error::TooLong { len });
        }
        let need = header_len_of(b0);
        if len < need {
            return Err(Error::Truncated { len, need });
        }
        Ok(())
    }

    /// Returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Byte 0, the header byte.
    ///
    /// # Panics
    /// On an empty buffer.
    pub fn header(&self) -> u8 {
        self.buffer.as_ref()[field::HEADER]
    }

    /// STND is set: a standard (routed or local) packet.
    pub fn is_standard(&self) -> bool {
        self.header() & field::STND != 0
    }

    /// STND set and LOCL clear: a packet that crosses a link.
    pub fn is_routed(&self) -> bool {
        self.header() & field::KIND == field::STND
    }

    /// A local packet, 0xc0..=0xdf.
    pub fn is_local(&self) -> bool {
        self.header() & field::LOCAL_KIND == field::LOCAL
    }

    /// A routed packet with MFMT set.
    pub fn is_mfm(&self) -> bool {
        self.is_routed() && self.header() & field::MFMT != 0
    }

    /// A routed packet with OVRN set.
    pub fn ovrn(&self) -> bool {
        self.is_routed() && self.header() & field::OVRN != 0
    }

    /// A routed packet with EROR set.
    pub fn eror(&self) -> bool {
        self.is_routed() && self.header() & field::EROR != 0
    }

    /// The raw DIR bits (0..=7), meaningful for routed packets.
    pub fn dir8(&self) -> u8 {
        self.header() & field::DIR
    }

    /// The DIR bits as a T2 direction; NT and ST fail with
    /// [`Error::BadDir`].
    pub fn dir(&self) -> Result<Dir> {
        let d = self.dir8();
        Dir::from_dir8(d).map_err(|_| Error::BadDir(d))
    }

    /// The local type bits (byte 0 & 0x1f), meaningful for local packets.
    pub fn local_type(&self) -> u8 {
        self.header() & field::LOCAL_TYPE
    }

    /// The service number (byte 1 & 0x3f) of a routed service packet.
    ///
    /// # Panics
    /// On a buffer shorter than two bytes.
    pub fn service(&self) -> u8 {
        self.buffer.as_ref()[field::SERVICE] & field::SVC
    }

    /// The two reserved bits (byte 1 >> 6) of a routed service packet.
    ///
    /// # Panics
    /// On a buffer shorter than two bytes.
    pub fn reserved(&self) -> u8 {
        (self.buffer.as_ref()[field::SERVICE] & field::RSV) >> field::RSV_SHIFT
    }

    /// Length of the header: 2 for a routed service packet, 1 otherwise.
    ///
    /// # Panics
    /// On an empty buffer.
    pub fn header_len(&self) -> usize {
        header_len_of(self.header())
    }

    /// The bytes after the header.
    ///
    /// # Panics
    /// On a buffer shorter than its header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn header_mut(&mut self) -> &mut u8 {
        &mut self.buffer.as_mut()[field::HEADER]
    }

    fn service_byte_mut(&mut self) -> &mut u8 {
        &mut self.buffer.as_mut()[field::SERVICE]
    }

    /// Writes the whole header byte.
    ///
    /// # Panics
    /// On an empty buffer.
    pub fn set_header(&mut self, value: u8) {
        *self.header_mut() = value;
    }

    /// Writes the DIR bits (the low three bits of `dir8`).
    ///
    /// # Panics
    /// On an empty buffer.
    pub fn set_dir8(&mut self, dir8: u8) {
        let b = self.header_mut();
        *b = (*b & !field::DIR) | (dir8 & field::DIR);
    }

    /// Writes the OVRN bit.
    ///
    /// # Panics
    /// On an empty buffer.
    pub fn set_ovrn(&mut self, value: bool) {
        set_flag(self.header_mut(), field::OVRN, value);
    }

    /// Writes the EROR bit.
    ///
    /// # Panics
    /// On an empty buffer.
    pub fn set_eror(&mut self, value: bool) {
        set_flag(self.header_mut(), field::EROR, value);
    }

    /// Writes the MFMT bit.
    ///
    /// # Panics
    /// On an empty buffer.
    pub fn set_mfm(&mut self, value: bool) {
        set_flag(self.header_mut(), field::MFMT, value);
    }

    /// Writes the service bits (the low six bits of `service`).
    ///
    /// # Panics
    /// On a buffer shorter than two bytes.
    pub fn set_service(&mut self, service: u8) {
        let b = self.service_byte_mut();
        *b = (*b & !field::SVC) | (service & field::SVC);
    }

    /// Writes the two reserved bits (the low two bits of `value`).
    ///
    /// # Panics
    /// On a buffer shorter than two bytes.
    pub fn set_reserved(&mut self, value: u8) {
        let b = self.service_byte_mut();
        *b = (*b & !field::RSV) | ((value << field::RSV_SHIFT) & field::RSV);
    }

    /// The bytes after the header, for writing.
    ///
    /// # Panics
    /// On a buffer shorter than its header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

fn set_flag(byte: &mut u8, mask: u8, value: bool) {
    if value {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// A local packet type (header bytes 0xc0..=0xdf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalType {
    /// 0xc0, never valid.
    Illegal,
    /// 0xc1, a labelled value (firmware debug).
    LabelledValue,
    /// 0xc2, thread debug.
    ThreadDebug,
    /// 0xc3, link status from the firmware.
    LinkStatus,
    /// 0xc4, Tile Event Packet.
    Tep,
    /// 0xc5, a packet the PRU could not queue.
    Bounce,
    /// Any other header byte, kept as is.
    Unknown(u8),
}

impl LocalType {
    /// The type for a whole header byte.
    pub const fn from_byte(byte: u8) -> LocalType {
        match byte {
            field::TYPE_ILLEGAL => LocalType::Illegal,
            field::TYPE_LABELLED_VALUE => LocalType::LabelledValue,
            field::TYPE_THREAD_DEBUG => LocalType::ThreadDebug,
            field::TYPE_LINK_STATUS => LocalType::LinkStatus,
            field::TYPE_TEP => LocalType::Tep,
            field::TYPE_BOUNCE => LocalType::Bounce,
            other => LocalType::Unknown(other),
        }
    }

    /// The whole header byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            LocalType::Illegal => field::TYPE_ILLEGAL,
            LocalType::LabelledValue => field::TYPE_LABELLED_VALUE,
            LocalType::ThreadDebug => field::TYPE_THREAD_DEBUG,
            LocalType::LinkStatus => field::TYPE_LINK_STATUS,
            LocalType::Tep => field::TYPE_TEP,
            LocalType::Bounce => field::TYPE_BOUNCE,
            LocalType::Unknown(other) => other,
        }
    }
}

/// The decoded header of a routed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoutedHeader {
    /// MFMT: MFM traffic rather than service traffic.
    pub mfm: bool,
    /// OVRN: packets were lost before this one.
    pub ovrn: bool,
    /// EROR: this packet arrived damaged.
    pub eror: bool,
    /// The raw dir8 value, 0..=7.
    pub dir: u8,
    /// The service number, `Some(1..=63)` exactly when `mfm` is false.
    pub service: Option<u8>,
}

impl RoutedHeader {
    /// The direction, if `dir` is one of the six.
    pub fn direction(&self) -> Result<Dir> {
        Dir::from_dir8(self.dir).map_err(|_| Error::BadDir(self.dir))
    }
}

/// The decoded header of any packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderRepr {
    /// A packet that crosses a link.
    Routed(RoutedHeader),
    /// A local packet, 0xc0..=0xdf.
    Local(LocalType),
    /// A non-standard PRU command; the header byte, 0x00..=0x7f.
    NonStandard(u8),
}

impl HeaderRepr {
    /// Decodes the header. Fails on a bad length, a header byte in
    /// 0xe0..=0xff, or service 0; reserved bits are ignored.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<HeaderRepr> {
        packet.check_len()?;
        let b0 = packet.header();
        if b0 & field::STND == 0 {
            return Ok(HeaderRepr::NonStandard(b0));
        }
        if b0 & field::LOCL != 0 {
            if !packet.is_local() {
                return Err(Error::BadHeader(b0));
            }
            return Ok(HeaderRepr::Local(LocalType::from_byte(b0)));
        }
        let mfm = b0 & field::MFMT != 0;
        let service = if mfm {
            None
        } else {
            match packet.service() {
                0 => return Err(Error::BadService(0)),
                s => Some(s),
            }
        };
        Ok(HeaderRepr::Routed(RoutedHeader {
            mfm,
            ovrn: b0 & field::OVRN != 0,
            eror: b0 & field::EROR != 0,
            dir: packet.dir8(),
            service,
        }))
    }

    /// Length of the header in bytes.
    pub fn header_len(&self) -> usize {
        match self {
            HeaderRepr::Routed(RoutedHeader { mfm: false, .. }) => 2,
            _ => 1,
        }
    }

    /// Writes the header (reserved bits as 0), leaving the payload alone.
    /// Fails on a buffer shorter than the header, a `dir` above 7, a service
    /// missing or out of range for service traffic or present for MFM, or a
    /// header byte outside its kind's range.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<()> {
        check_buffer(packet.as_bytes(), self.header_len())?;
        match *self {
            HeaderRepr::Routed(h) => {
                if h.dir > field::DIR {
                    return Err(Error::BadDir(h.dir));
                }
                let mut b0 = field::STND | h.dir;
                set_flag(&mut b0, field::MFMT, h.mfm);
                set_flag(&mut b0, field::OVRN, h.ovrn);
                set_flag(&mut b0, field::EROR, h.eror);
                match (h.mfm, h.service) {
                    (true, None) => packet.set_header(b0),
                    (true, Some(_)) => return Err(Error::WrongKind(b0)),
                    (false, None) => return Err(Error::BadService(0)),
                    (false, Some(s)) => {
                        if s == 0 || s > MAX_SERVICE {
                            return Err(Error::BadService(s));
                        }
                        packet.set_header(b0);
                        packet.set_service(s);
                        packet.set_reserved(0);
                    }
                }
            }
            HeaderRepr::Local(t) => {
                let b0 = t.to_byte();
                if b0 & field::LOCAL_KIND != field::LOCAL {
                    return Err(Error::BadHeader(b0));
                }
                packet.set_header(b0);
            }
            HeaderRepr::NonStandard(b0) => {
                if b0 & field::STND != 0 {
                    return Err(Error::BadHeader(b0));
                }
                packet.set_header(b0);
            }
        }
        Ok(())
    }
}

/// The payload of a routed service packet for service `want`; used by the
/// service message parsers, which ignore OVRN, EROR, DIR and reserved bits.
pub(super) fn service_payload(bytes: &[u8], want: u8) -> Result<&[u8]> {
    let packet = Packet::new_checked(bytes)?;
    let b0 = packet.header();
    if !packet.is_routed() {
        return Err(Error::NotRouted(b0));
    }
    if packet.is_mfm() {
        return Err(Error::WrongKind(b0));
    }
    let got = packet.service();
    if got != want {
        return Err(Error::WrongService { want, got });
    }
    Ok(&bytes[field::SERVICE + 1..])
}

/// Writes the two-byte header of a routed service packet to `dir` with
/// flags and reserved bits clear. `buf` must hold at least two bytes.
pub(super) fn emit_service_header(buf: &mut [u8], dir: Dir, service: u8) {
    buf[field::HEADER] = field::STND | dir.dir8();
    buf[field::SERVICE] = service & field::SVC;
}

/// Validates a packet that a user wrote to a packet file
/// (`docs/reference.md`, "Packet files") and returns its destination.
///
/// `want_mfm` is true for `mfm` files. For service files (`want_mfm`
/// false), `want_service` is the file's service, or `None` to accept any
/// valid service; it is ignored for `mfm` files. Checks, in order:
/// non-empty ([`Error::Empty`]); at most 255 bytes ([`Error::TooLong`]);
/// routed ([`Error::NotRouted`]); MFMT equal to `want_mfm`
/// ([`Error::WrongKind`]); OVRN and EROR clear ([`Error::FlagsSet`]); for
/// service files, byte 1 present ([`Error::Truncated`]), reserved bits clear
/// ([`Error::ReservedBits`]), service not 0 ([`Error::BadService`]) and equal
/// to `want_service` ([`Error::WrongService`]); DIR one of the six
/// ([`Error::BadDir`]). For `tile/<D>/` files, where `itcd` fills in DIR,
/// set DIR to D before calling.
pub fn check_user_write(bytes: &[u8], want_mfm: bool, want_service: Option<u8>) -> Result<Dir> {
    let len = bytes.len();
    let Some(&b0) = bytes.first() else {
        return Err(Error::Empty);
    };
    if len > MAX_PACKET_LEN {
        return Err(Error::TooLong { len });
    }
    let packet = Packet::new_unchecked(bytes);
    if !packet.is_routed() {
        return Err(Error::NotRouted(b0));
    }
    if packet.is_mfm() != want_mfm {
        return Err(Error::WrongKind(b0));
    }
    if b0 & (field::OVRN | field::EROR) != 0 {
        return Err(Error::FlagsSet(b0));
    }
    if !want_mfm {
        if let Some(want) = want_service {
            if want == 0 || want > MAX_SERVICE {
                return Err(Error::BadService(want));
            }
        }
        let Some(&b1) = bytes.get(field::SERVICE) else {
            return Err(Error::Truncated { len, need: 2 });
        };
        if packet.reserved() != 0 {
            return Err(Error::ReservedBits(b1));
        }
        let got = packet.service();
        if got == 0 {
            return Err(Error::BadService(0));
        }
        if let Some(want) = want_service {
            if got != want {
                return Err(Error::WrongService { want, got });
            }
        }
    }
    packet.dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Routed service packet to ET, service 2, two payload bytes.
    static SVC_PACKET: [u8; 4] = [
        0x82, // STND=1 LOCL=0 MFMT=0 OVRN=0 EROR=0 DIR=2 (ET)
        0x02, // RSV=0 SVC=2
        0xaa, // payload
        0xbb, // payload
    ];

    // Routed MFM packet from NW with OVRN and EROR set.
    static MFM_PACKET: [u8; 3] = [
        0xbf, // STND=1 LOCL=0 MFMT=1 OVRN=1 EROR=1 DIR=7 (NW)
        0x01, // payload
        0x02, // payload
    ];

    #[test]
    fn routed_service_getters() {
        let p = Packet::new_checked(&SVC_PACKET[..]).unwrap();
        assert!(p.is_standard());
        assert!(p.is_routed());
        assert!(!p.is_local());
        assert!(!p.is_mfm());
        assert!(!p.ovrn());
        assert!(!p.eror());
        assert_eq!(p.dir8(), 2);
        assert_eq!(p.dir(), Ok(Dir::ET));
        assert_eq!(p.service(), 2);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.header_len(), 2);
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
        assert_eq!(p.as_bytes(), &SVC_PACKET);
    }

    #[test]
    fn routed_mfm_getters() {
        let p = Packet::new_checked(&MFM_PACKET[..]).unwrap();
        assert!(p.is_routed());
        assert!(p.is_mfm());
        assert!(p.ovrn());
        assert!(p.eror());
        assert_eq!(p.dir(), Ok(Dir::NW));
        assert_eq!(p.header_len(), 1);
        assert_eq!(p.payload(), &[0x01, 0x02]);
    }

    #[test]
    fn local_and_non_standard_getters() {
        let p = Packet::new_checked(&[0xc4u8, 0x01][..]).unwrap(); // TEP, Connect
        assert!(p.is_standard());
        assert!(p.is_local());
        assert!(!p.is_routed());
        assert!(!p.is_mfm());
        assert_eq!(p.local_type(), 0x04);
        assert_eq!(p.payload(), &[0x01]);

        let p = Packet::new_checked(&[b'?', b'x'][..]).unwrap(); // non-standard "?x"
        assert!(!p.is_standard());
        assert!(!p.is_local());
        assert!(!p.is_routed());
        assert_eq!(p.payload(), b"x");

        let p = Packet::new_checked(&[0xe5u8][..]).unwrap(); // STND LOCL MFMT: invalid
        assert!(p.is_standard());
        assert!(!p.is_local());
        assert!(!p.is_routed());
    }

    #[test]
    fn check_len_rejects_impossible_lengths() {
        assert_eq!(Packet::new_checked(&[][..]), Err(Error::Empty));
        // A routed service header without its service byte.
        assert_eq!(
            Packet::new_checked(&[0x82u8][..]),
            Err(Error::Truncated { len: 1, need: 2 })
        );
        // One-byte MFM, local and non-standard packets are complete.
        assert!(Packet::new_checked(&[0xa2u8][..]).is_ok());
        assert!(Packet::new_checked(&[0xc0u8][..]).is_ok());
        assert!(Packet::new_checked(&[0x00u8][..]).is_ok());

        let mut big = [0u8; MAX_BOUNCE_LEN + 1];
        big[0] = 0xa2; // MFM to ET
        assert!(Packet::new_checked(&big[..MAX_PACKET_LEN]).is_ok());
        assert_eq!(
            Packet::new_checked(&big[..MAX_PACKET_LEN + 1]),
            Err(Error::TooLong { len: 256 })
        );
        big[0] = 0xc5; // a bounce wraps a whole packet
        assert!(Packet::new_checked(&big[..MAX_BOUNCE_LEN]).is_ok());
        assert_eq!(
            Packet::new_checked(&big[..]),
            Err(Error::TooLong { len: 258 })
        );
    }

    #[test]
    fn setters_clear_before_setting() {
        let mut buf = [0xffu8; 3];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_dir8(2);
        assert_eq!(p.header(), 0xfa);
        p.set_dir8(0xff); // only three bits are written
        assert_eq!(p.header(), 0xff);
        p.set_ovrn(false);
        assert_eq!(p.header(), 0xef);
        p.set_eror(false);
        assert_eq!(p.header(), 0xe7);
        p.set_mfm(false);
        assert_eq!(p.header(), 0xc7);
        p.set_mfm(true);
        p.set_ovrn(true);
        p.set_eror(true);
        assert_eq!(p.header(), 0xff);
        p.set_service(5);
        assert_eq!(p.as_bytes()[1], 0xc5);
        p.set_service(0xff); // only six bits are written
        assert_eq!(p.as_bytes()[1], 0xff);
        p.set_reserved(0);
        assert_eq!(p.as_bytes()[1], 0x3f);
        p.set_reserved(2);
        assert_eq!(p.as_bytes()[1], 0xbf);
        assert_eq!(p.reserved(), 2);
        p.set_header(0x82);
        p.payload_mut()[0] = 0x11;
        assert_eq!(buf, [0x82, 0xbf, 0x11]);
    }

    #[test]
    fn header_parse_routed() {
        let p = Packet::new_checked(&SVC_PACKET[..]).unwrap();
        let h = HeaderRepr::parse(&p).unwrap();
        assert_eq!(
            h,
            HeaderRepr::Routed(RoutedHeader {
                mfm: false,
                ovrn: false,
                eror: false,
                dir: 2,
                service: Some(2),
            })
        );
        assert_eq!(h.header_len(), 2);

        let p = Packet::new_checked(&MFM_PACKET[..]).unwrap();
        let h = HeaderRepr::parse(&p).unwrap();
        assert_eq!(
            h,
            HeaderRepr::Routed(RoutedHeader {
                mfm: true,
                ovrn: true,
                eror: true,
                dir: 7,
                service: None,
            })
        );
        assert_eq!(h.header_len(), 1);
    }

    #[test]
    fn header_parse_ignores_reserved_and_rejects_null_service() {
        let bytes = [
            0x80, // routed service, DIR=0 (NT: raw value kept)
            0xc9, // RSV=3 (ignored) SVC=9
        ];
        let h = HeaderRepr::parse(&Packet::new_unchecked(&bytes[..])).unwrap();
        assert_eq!(
            h,
            HeaderRepr::Routed(RoutedHeader {
                mfm: false,
                ovrn: false,
                eror: false,
                dir: 0,
                service: Some(9),
            })
        );
        let bytes = [
            0x83, // routed service to SE
            0xc0, // RSV=3 SVC=0: null service
        ];
        assert_eq!(
            HeaderRepr::parse(&Packet::new_unchecked(&bytes[..])),
            Err(Error::BadService(0))
        );
    }

    #[test]
    fn header_parse_local_non_standard_and_bad() {
        let parse = |b: &[u8]| HeaderRepr::parse(&Packet::new_unchecked(b));
        assert_eq!(parse(&[0xc3]), Ok(HeaderRepr::Local(LocalType::LinkStatus)));
        assert_eq!(
            parse(&[0xdf]),
            Ok(HeaderRepr::Local(LocalType::Unknown(0xdf)))
        );
        assert_eq!(parse(&[0x41]), Ok(HeaderRepr::NonStandard(0x41)));
        assert_eq!(parse(&[0xe0]), Err(Error::BadHeader(0xe0)));
        assert_eq!(parse(&[]), Err(Error::Empty));
        assert_eq!(parse(&[0x82]), Err(Error::Truncated { len: 1, need: 2 }));
    }

    #[test]
    fn header_emit_routed_on_ff_buffer() {
        let mut buf = [0xffu8; 3];
        let h = HeaderRepr::Routed(RoutedHeader {
            mfm: false,
            ovrn: false,
            eror: false,
            dir: 5,
            service: Some(8),
        });
        h.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(
            buf,
            [
                0x85, // STND=1 MFMT=0 OVRN=0 EROR=0 DIR=5 (SW)
                0x08, // RSV=0 SVC=8
                0xff, // payload untouched
            ]
        );

        let mut buf = [0xffu8; 2];
        let h = HeaderRepr::Routed(RoutedHeader {
            mfm: true,
            ovrn: false,
            eror: true,
            dir: 1,
            service: None,
        });
        h.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(
            buf,
            [
                0xa9, // STND=1 MFMT=1 OVRN=0 EROR=1 DIR=1 (NE)
                0xff, // payload untouched
            ]
        );
    }

    #[test]
    fn header_emit_rejects_impossible_reprs() {
        let routed = |mfm, dir, service| {
            HeaderRepr::Routed(RoutedHeader {
                mfm,
                ovrn: false,
                eror: false,
                dir,
                service,
            })
        };
        let emit = |h: HeaderRepr, len: usize| {
            let mut buf = [0u8; 4];
            h.emit(&mut Packet::new_unchecked(&mut buf[..len]))
        };
        assert_eq!(emit(routed(false, 8, Some(2)), 2), Err(Error::BadDir(8)));
        assert_eq!(emit(routed(false, 2, None), 2), Err(Error::BadService(0)));
        assert_eq!(
            emit(routed(false, 2, Some(64)), 2),
            Err(Error::BadService(64))
        );
        assert_eq!(
            emit(routed(true, 2, Some(3)), 2),
            Err(Error::WrongKind(0xa2))
        );
        assert_eq!(
            emit(routed(false, 2, Some(2)), 1),
            Err(Error::BufferTooSmall { len: 1, need: 2 })
        );
        assert_eq!(
            emit(HeaderRepr::Local(LocalType::Tep), 0),
            Err(Error::BufferTooSmall { len: 0, need: 1 })
        );
        assert_eq!(
            emit(HeaderRepr::Local(LocalType::Unknown(0x12)), 1),
            Err(Error::BadHeader(0x12))
        );
        assert_eq!(
            emit(HeaderRepr::NonStandard(0x80), 1),
            Err(Error::BadHeader(0x80))
        );
        assert_eq!(emit(HeaderRepr::NonStandard(0x7f), 1), Ok(()));
    }

    #[test]
    fn local_type_bytes_round_trip() {
        for b in 0xc0..=0xdf {
            assert_eq!(LocalType::from_byte(b).to_byte(), b);
        }
        assert_eq!(LocalType::from_byte(0xc5), LocalType::Bounce);
        assert_eq!(LocalType::from_byte(0xc6), LocalType::Unknown(0xc6));
    }

    #[test]
    fn user_write_accepts_valid_packets() {
        assert_eq!(check_user_write(&SVC_PACKET, false, Some(2)), Ok(Dir::ET));
        assert_eq!(check_user_write(&SVC_PACKET, false, None), Ok(Dir::ET));
        let mfm = [
            0xa6, // STND=1 MFMT=1 DIR=6 (WT)
        ];
        assert_eq!(check_user_write(&mfm, true, None), Ok(Dir::WT));
        // want_service is ignored for mfm files
        assert_eq!(check_user_write(&mfm, true, Some(9)), Ok(Dir::WT));
    }

    #[test]
    fn user_write_rejects_each_fault() {
        assert_eq!(check_user_write(&[], true, None), Err(Error::Empty));
        let long = [0xa2u8; MAX_PACKET_LEN + 1];
        assert_eq!(
            check_user_write(&long, true, None),
            Err(Error::TooLong { len: 256 })
        );
        assert_eq!(
            check_user_write(&[0xc4, 0x01], true, None), // a TEP
            Err(Error::NotRouted(0xc4))
        );
        assert_eq!(
            check_user_write(&[0x02], true, None), // non-standard
            Err(Error::NotRouted(0x02))
        );
        assert_eq!(
            check_user_write(&[0xa2, 0x00], false, Some(2)), // MFM to a svc file
            Err(Error::WrongKind(0xa2))
        );
        assert_eq!(
            check_user_write(&SVC_PACKET, true, None), // service to the mfm file
            Err(Error::WrongKind(0x82))
        );
        assert_eq!(
            check_user_write(&[0xb2], true, None), // MFM, OVRN set
            Err(Error::FlagsSet(0xb2))
        );
        assert_eq!(
            check_user_write(&[0x8a, 0x02], false, Some(2)), // EROR set
            Err(Error::FlagsSet(0x8a))
        );
        assert_eq!(
            check_user_write(&[0x82], false, Some(2)), // no service byte
            Err(Error::Truncated { len: 1, need: 2 })
        );
        assert_eq!(
            check_user_write(&[0x82, 0x42], false, Some(2)), // RSV=1
            Err(Error::ReservedBits(0x42))
        );
        assert_eq!(
            check_user_write(&[0x82, 0x00], false, None), // null service
            Err(Error::BadService(0))
        );
        assert_eq!(
            check_user_write(&[0x82, 0x03], false, Some(2)), // svc 3 to svc/02
            Err(Error::WrongService { want: 2, got: 3 })
        );
        assert_eq!(
            check_user_write(&SVC_PACKET, false, Some(64)), // bad file service
            Err(Error::BadService(64))
        );
        assert_eq!(
            check_user_write(&[0x84, 0x02], false, Some(2)), // DIR=4 (ST)
            Err(Error::BadDir(4))
        );
        assert_eq!(
            check_user_write(&[0xa0], true, None), // DIR=0 (NT)
            Err(Error::BadDir(0))
        );
    }
}
