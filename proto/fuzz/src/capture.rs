//! Capture records (`itc/capture`): [`CaptureRecord::parse`] over any
//! bytes, record after record, each rebuilt with `packet_header` or
//! `lost_record`; and records built from the fuzzer's values, parsed back.

use arbitrary::Unstructured;
use itc_proto::capture::{
    lost_record, packet_header, CaptureRecord, Way, CAPTURE_HEADER_LEN, DROP_REASONS,
};

use crate::any_dir;

/// Parses `data` as a read of `itc/capture` does: records one after
/// another until one does not parse. Each one that parses, rebuilt, must
/// spell the bytes parse read (less the bytes it ignores: 6..8, and 3..8
/// of a lost record) and parse back the same. Returns how many parsed.
pub fn check_capture(data: &[u8]) -> usize {
    let mut at = 0;
    let mut n = 0;
    while let Ok((rec, len)) = CaptureRecord::parse(&data[at..]) {
        assert!(len >= CAPTURE_HEADER_LEN && at + len <= data.len());
        let raw = &data[at..at + len];
        let mut again = match rec {
            CaptureRecord::Packet {
                time_ns,
                dir,
                way,
                fate,
                packet,
            } => {
                assert!(!packet.is_empty() && packet.len() <= 255);
                assert!(fate == 0 || usize::from(fate) <= DROP_REASONS.len());
                let mut r = packet_header(time_ns, dir, way, fate, packet.len()).to_vec();
                r.extend_from_slice(packet);
                assert_eq!(&r[..6], &raw[..6], "the header spelled differently");
                r
            }
            CaptureRecord::Lost { time_ns, count } => {
                let r = lost_record(time_ns, count).to_vec();
                assert_eq!(&r[..3], &raw[..3], "the lost record spelled differently");
                r
            }
        };
        assert_eq!(again.len(), len, "the rebuilt record's length differs");
        assert_eq!(
            &again[8..],
            &raw[8..],
            "time or content spelled differently"
        );
        again[6..8].copy_from_slice(&raw[6..8]);
        if matches!(rec, CaptureRecord::Lost { .. }) {
            again[3..8].copy_from_slice(&raw[3..8]);
        }
        assert_eq!(
            CaptureRecord::parse(&again),
            Ok((rec, len)),
            "record changed across rebuild and parse"
        );
        at += len;
        n += 1;
    }
    n
}

/// Builds a packet record and a lost record from the fuzzer's values and
/// parses them back.
pub fn emit_capture(data: &[u8]) {
    let _ = try_emit_capture(&mut Unstructured::new(data));
}

fn try_emit_capture(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let time_ns: u64 = u.arbitrary()?;
    let dir = any_dir(u)?;
    let way = if u.arbitrary()? { Way::In } else { Way::Out };
    let fate = u.int_in_range(0..=DROP_REASONS.len() as u8)?;
    let len = u.int_in_range(1..=255usize)?;
    let packet = u.bytes(len)?;
    let mut rec = packet_header(time_ns, dir, way, fate, packet.len()).to_vec();
    rec.extend_from_slice(packet);
    let lost: u64 = u.arbitrary()?;
    rec.extend_from_slice(&lost_record(time_ns, lost));
    let (first, n) = CaptureRecord::parse(&rec).expect("a built packet record parses");
    assert_eq!(n, CAPTURE_HEADER_LEN + len);
    assert_eq!(
        first,
        CaptureRecord::Packet {
            time_ns,
            dir,
            way,
            fate,
            packet
        }
    );
    let (second, m) = CaptureRecord::parse(&rec[n..]).expect("a built lost record parses");
    assert_eq!(m, rec.len() - n);
    assert_eq!(
        second,
        CaptureRecord::Lost {
            time_ns,
            count: lost
        }
    );
    assert_eq!(check_capture(&rec), 2);
    Ok(())
}
