//! The line `itc capture` prints for a capture record, like tcpdump:
//!
//! ```text
//! TIME DIR WAY [DROP REASON] SUMMARY len LEN
//! 2026-12-05T18:40:01.123456Z ET in mfm len 12
//! 2026-12-05T18:40:01.123502Z ET out hello "tile-b" physics "demo" len 19
//! 2026-12-05T18:40:01.200000Z SW in DROP no_reader svc20 len 5
//! 2026-12-05T18:40:02.000000Z -- lost 17 records --
//! ```
//!
//! TIME is RFC 3339 UTC with microseconds; DIR the neighbour the packet
//! came from or went to; WAY `in` or `out`; LEN the whole packet's length,
//! header included. The summary decodes the header: `mfm`, a service as
//! `svcNN` (hello with its name and physics id, echo request or reply
//! with its payload length, the file service's message type), a TEP by
//! its name, and `ovrn` or `eror` when those bits are set.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use itc_proto::capture::{drop_reason_name, CaptureRecord, Way};
use itc_proto::{
    EchoOp, EchoRepr, HeaderRepr, HelloRepr, LocalType, Packet, TepRepr, SVC_ECHO, SVC_FILE_UPDATE,
    SVC_HELLO,
};

use crate::show;

/// The record's time.
pub fn time(time_ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(time_ns)
}

/// The line for a record.
pub fn line(rec: &CaptureRecord<'_>) -> String {
    let when = humantime::format_rfc3339_micros(time(rec.time_ns()));
    match *rec {
        CaptureRecord::Lost { count, .. } => format!("{when} -- lost {count} records --"),
        CaptureRecord::Packet {
            dir,
            way,
            fate,
            packet,
            ..
        } => {
            let way = match way {
                Way::In => "in",
                Way::Out => "out",
            };
            let drop = drop_reason_name(fate)
                .map(|r| format!(" DROP {r}"))
                .unwrap_or_default();
            let len = packet.len();
            format!("{when} {dir} {way}{drop} {} len {len}", summary(packet))
        }
    }
}

/// What the packet is, in a few words.
pub fn summary(bytes: &[u8]) -> String {
    let Ok(packet) = Packet::new_checked(bytes) else {
        return "empty".to_string();
    };
    match HeaderRepr::parse(&packet) {
        Ok(HeaderRepr::Routed(h)) => {
            let mut s = match h.service {
                None => "mfm".to_string(),
                Some(SVC_HELLO) => match HelloRepr::parse(&packet) {
                    Ok(hello) => format!(
                        "hello \"{}\" physics \"{}\"",
                        show::escape(hello.name.as_bytes()),
                        show::escape(hello.physics.as_bytes())
                    ),
                    Err(_) => "hello (malformed)".to_string(),
                },
                Some(SVC_ECHO) => match EchoRepr::parse(&packet) {
                    Ok(e) if e.op == EchoOp::Request => {
                        format!("echo request {} bytes", e.payload.len())
                    }
                    Ok(e) if e.op == EchoOp::Reply => {
                        format!("echo reply {} bytes", e.payload.len())
                    }
                    _ => "echo (malformed)".to_string(),
                },
                Some(SVC_FILE_UPDATE) => files_summary(&bytes[2..]),
                Some(n) => format!("svc{n:02}"),
            };
            if h.ovrn {
                s.push_str(" ovrn");
            }
            if h.eror {
                s.push_str(" eror");
            }
            s
        }
        Ok(HeaderRepr::Local(LocalType::Tep)) => match TepRepr::parse(&packet) {
            Ok(tep) => format!("tep {}", show::event_name(tep.event)),
            Err(_) => "tep (malformed)".to_string(),
        },
        Ok(HeaderRepr::Local(_)) => format!("local 0x{:02x}", bytes[0]),
        _ => format!("header 0x{:02x}", bytes[0]),
    }
}

/// The managed file service's message types (`docs/file-protocol.md`),
/// by type byte from 1.
const FILE_MESSAGES: [&str; 7] = [
    "ANNOUNCE",
    "TOMBSTONE",
    "REQUEST",
    "DATA",
    "RETRY",
    "ABORT",
    "SOLICIT",
];

/// `svc08 files TYPE` for a message of the file service's version 1,
/// else `svc08`.
fn files_summary(message: &[u8]) -> String {
    match message {
        [1, t, ..] if (1..=FILE_MESSAGES.len()).contains(&usize::from(*t)) => {
            format!("svc08 files {}", FILE_MESSAGES[usize::from(*t) - 1])
        }
        _ => "svc08".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_proto::Dir;

    #[test]
    fn lines_name_way_drop_and_kind() {
        let t = 1_764_960_001_123_456_000;
        let pkt = [0xa2, 1, 2, 3];
        let rec = CaptureRecord::Packet {
            time_ns: t,
            dir: Dir::ET,
            way: Way::In,
            fate: 0,
            packet: &pkt,
        };
        assert_eq!(line(&rec), "2025-12-05T18:40:01.123456Z ET in mfm len 4");
        let svc = [0x85, 20, b'h'];
        let rec = CaptureRecord::Packet {
            time_ns: t,
            dir: Dir::SW,
            way: Way::Out,
            fate: 2,
            packet: &svc,
        };
        assert_eq!(
            line(&rec),
            "2025-12-05T18:40:01.123456Z SW out DROP queue_full svc20 len 3"
        );
        let lost = CaptureRecord::Lost {
            time_ns: t,
            count: 5,
        };
        assert_eq!(
            line(&lost),
            "2025-12-05T18:40:01.123456Z -- lost 5 records --"
        );
        assert_eq!(summary(&[0xb2, 1]), "mfm ovrn");
        assert_eq!(summary(&[0x82, 8, 1, 7]), "svc08 files SOLICIT");
        assert_eq!(summary(&[0x82, 8, 2, 7]), "svc08", "another version");
        assert_eq!(summary(&[0x82, 2, 1, 0xaa]), "echo request 1 bytes");
        assert_eq!(summary(&[0xaa, 1]), "mfm eror");
    }
}
