//! Echo (service 2): `itcd` answers each request with a reply carrying the
//! same payload; replies go to whoever has `svc/02` open (`itc ping`).
//!
//! ```text
//! byte 0    1 | 0 | 0 | 0 || 0 | DIR2 | DIR1 | DIR0   routed, service traffic
//! byte 1    0x02                                     service 2, reserved bits 0
//! byte 2    OP  0x01 request, 0x02 reply, others reserved
//! byte 3..  payload, 0..=252 bytes, opaque
//! ```
//!
//! [`EchoRepr::parse`] checks the service and that OP is present; reserved
//! ops parse as [`EchoOp::Unknown`]. It ignores DIR, OVRN, EROR and the
//! reserved bits, which `itcd` handles from the header.

use super::packet::{emit_service_header, service_payload};
use super::{check_buffer, Error, Packet, Result, MAX_PACKET_LEN};
use crate::dir::Dir;
use crate::service::SVC_ECHO;

/// Length of the echo header: routed header, service byte, OP.
pub const ECHO_HEADER_LEN: usize = 3;
/// The largest echo payload.
pub const MAX_ECHO_PAYLOAD: usize = MAX_PACKET_LEN - ECHO_HEADER_LEN;

/// Offset of the OP byte in the packet.
const OP: usize = 2;

/// Whether an echo packet asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EchoOp {
    /// 0x01: please send the payload back.
    Request,
    /// 0x02: the payload of a request, sent back.
    Reply,
    /// Any other op, kept as is.
    Unknown(u8),
}

impl EchoOp {
    /// The op for an OP byte.
    pub const fn from_byte(byte: u8) -> EchoOp {
        match byte {
            0x01 => EchoOp::Request,
            0x02 => EchoOp::Reply,
            other => EchoOp::Unknown(other),
        }
    }

    /// The OP byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            EchoOp::Request => 0x01,
            EchoOp::Reply => 0x02,
            EchoOp::Unknown(other) => other,
        }
    }
}

/// A decoded echo packet, borrowing the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoRepr<'a> {
    /// Request or reply.
    pub op: EchoOp,
    /// The opaque payload.
    pub payload: &'a [u8],
}

impl<'a> EchoRepr<'a> {
    /// Decodes an echo packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<EchoRepr<'a>> {
        let bytes: &'a [u8] = packet.into_inner().as_ref();
        service_payload(bytes, SVC_ECHO)?;
        let Some(&op) = bytes.get(OP) else {
            return Err(Error::Truncated {
                len: bytes.len(),
                need: ECHO_HEADER_LEN,
            });
        };
        Ok(EchoRepr {
            op: EchoOp::from_byte(op),
            payload: &bytes[ECHO_HEADER_LEN..],
        })
    }

    /// The reply to this packet: same payload, op [`EchoOp::Reply`].
    pub const fn reply(&self) -> EchoRepr<'a> {
        EchoRepr {
            op: EchoOp::Reply,
            payload: self.payload,
        }
    }

    /// Length of the encoded packet, header included.
    pub const fn buffer_len(&self) -> usize {
        ECHO_HEADER_LEN + self.payload.len()
    }

    /// Writes the whole packet, routed to `dir`, to the start of `buf` and
    /// returns its length. Fails if the packet would be over 255 bytes or
    /// `buf` is too small.
    pub fn emit(&self, buf: &mut [u8], dir: Dir) -> Result<usize> {
        let len = self.buffer_len();
        if len > MAX_PACKET_LEN {
            return Err(Error::TooLong { len });
        }
        check_buffer(buf, len)?;
        emit_service_header(buf, dir, SVC_ECHO);
        buf[OP] = self.op.to_byte();
        buf[ECHO_HEADER_LEN..len].copy_from_slice(self.payload);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static REQUEST: [u8; 5] = [
        0x83, // STND=1 LOCL=0 MFMT=0 OVRN=0 EROR=0 DIR=3 (SE)
        0x02, // RSV=0 SVC=2 (echo)
        0x01, // OP: request
        0x12, // payload
        0x34, // payload
    ];

    fn parse(bytes: &[u8]) -> Result<EchoRepr<'_>> {
        EchoRepr::parse(&Packet::new_unchecked(bytes))
    }

    #[test]
    fn parses_request_and_empty_reply() {
        let r = parse(&REQUEST).unwrap();
        assert_eq!(
            r,
            EchoRepr {
                op: EchoOp::Request,
                payload: &[0x12, 0x34]
            }
        );
        assert_eq!(r.buffer_len(), 5);
        let bytes = [
            0x87, // routed service from NW
            0x02, // service 2
            0x02, // OP: reply, no payload
        ];
        assert_eq!(
            parse(&bytes),
            Ok(EchoRepr {
                op: EchoOp::Reply,
                payload: &[]
            })
        );
        assert_eq!(
            parse(&[0x87, 0x02, 0x07]), // reserved op 7
            Ok(EchoRepr {
                op: EchoOp::Unknown(7),
                payload: &[]
            })
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse(&[]), Err(Error::Empty));
        assert_eq!(parse(&[0x83]), Err(Error::Truncated { len: 1, need: 2 }));
        assert_eq!(
            parse(&[0x83, 0x02]), // no OP
            Err(Error::Truncated { len: 2, need: 3 })
        );
        assert_eq!(parse(&[0x03, 0x02, 0x01]), Err(Error::NotRouted(0x03)));
        assert_eq!(parse(&[0xa3, 0x02, 0x01]), Err(Error::WrongKind(0xa3)));
        assert_eq!(
            parse(&[0x83, 0x01, 0x01]), // hello
            Err(Error::WrongService { want: 2, got: 1 })
        );
        let long = [0x83u8; MAX_PACKET_LEN + 1];
        assert_eq!(parse(&long), Err(Error::TooLong { len: 256 }));
    }

    #[test]
    fn emits_reply_on_ff_buffer() {
        let mut buf = [0xffu8; 6];
        let reply = parse(&REQUEST).unwrap().reply();
        assert_eq!(reply.emit(&mut buf, Dir::SE), Ok(5));
        assert_eq!(
            buf,
            [
                0x83, // routed service to SE
                0x02, // service 2
                0x02, // OP: reply
                0x12, // payload
                0x34, // payload
                0xff, // untouched
            ]
        );
    }

    #[test]
    fn emit_rejects_impossible_lengths() {
        let payload = [0u8; MAX_ECHO_PAYLOAD + 1];
        let mut buf = [0u8; 300];
        let r = EchoRepr {
            op: EchoOp::Request,
            payload: &payload,
        };
        assert_eq!(r.emit(&mut buf, Dir::ET), Err(Error::TooLong { len: 256 }));
        let r = EchoRepr {
            op: EchoOp::Request,
            payload: &payload[..MAX_ECHO_PAYLOAD],
        };
        assert_eq!(r.emit(&mut buf, Dir::ET), Ok(MAX_PACKET_LEN));
        assert_eq!(
            r.emit(&mut buf[..10], Dir::ET),
            Err(Error::BufferTooSmall { len: 10, need: 255 })
        );
    }
}
