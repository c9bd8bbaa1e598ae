//! How `itc` writes times, events, payloads and ages.
//!
//! Event lines (`itc events`) are `TIME DIR EVENT`; packet lines
//! (`itc recv`) are `TIME DIR KIND LEN DATA`, with `event` as the kind of a
//! tile event. TIME is RFC 3339 UTC with milliseconds. Events lost, which
//! concern the reader rather than a direction, are `TIME -- events lost --`.

use std::time::{Duration, SystemTime};

use itc_proto::Dir;
use itc_proto::TepEvent;

use crate::decode::Item;
use crate::hex;

/// `2026-11-22T01:02:03.456Z`.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// `Connect`, `Disconnect`, `Events-lost`, `Packets-lost`, or the code of
/// an event `itc` does not know.
pub fn event_name(event: TepEvent) -> String {
    match event {
        TepEvent::Connect => "Connect".to_string(),
        TepEvent::Disconnect => "Disconnect".to_string(),
        TepEvent::EventsLost => "Events-lost".to_string(),
        TepEvent::PacketsLost => "Packets-lost".to_string(),
        other => format!("Event-0x{:02x}", other.to_byte()),
    }
}

/// The line for a tile event in `itc events`.
pub fn event_line(time: &str, event: TepEvent, dir: Option<Dir>) -> String {
    match (event, dir) {
        (TepEvent::EventsLost, _) => format!("{time} -- events lost --"),
        (event, Some(dir)) => format!("{time} {dir} {}", event_name(event)),
        (event, None) => format!("{time} -- {}", event_name(event)),
    }
}

/// The line for anything read by `itc recv`; payloads as hex, or as text
/// with `text`.
pub fn packet_line(time: &str, item: &Item<'_>, text: bool) -> String {
    let data = |bytes: &[u8]| {
        if text {
            escape(bytes)
        } else {
            hex::dump(bytes)
        }
    };
    match *item {
        Item::Event {
            event: TepEvent::EventsLost,
            ..
        } => format!("{time} -- events lost --"),
        Item::Event { event, dir } => {
            format!("{time} {} event {}", dir_name(dir), event_name(event))
        }
        Item::Data { dir, kind, payload } => format!(
            "{time} {} {kind} {} {}",
            dir_name(dir),
            payload.len(),
            data(payload)
        )
        .trim_end()
        .to_string(),
        // Unknown packets are shown whole, as hex whatever `text` says.
        Item::Other(bytes) => format!("{time} -- other {} {}", bytes.len(), hex::dump(bytes))
            .trim_end()
            .to_string(),
    }
}

fn dir_name(dir: Option<Dir>) -> &'static str {
    dir.map_or("--", Dir::name)
}

/// Bytes as text: valid UTF-8 stays, control characters, backslashes and
/// invalid bytes become `\xNN` (and `\\`), so one packet is one line.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A physics id for people: `(none)` when it is empty.
pub fn physics_id(id: &str) -> &str {
    if id.is_empty() {
        "(none)"
    } else {
        id
    }
}

/// A short age: `45s`, `3m07s`, `2h05m`, `4d03h`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Kind;

    const T: &str = "2026-11-22T01:02:03.456Z";

    #[test]
    fn timestamps_have_milliseconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(timestamp(t), "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn event_lines() {
        assert_eq!(
            event_line(T, TepEvent::Connect, Some(Dir::ET)),
            "2026-11-22T01:02:03.456Z ET Connect"
        );
        assert_eq!(
            event_line(T, TepEvent::EventsLost, None),
            "2026-11-22T01:02:03.456Z -- events lost --"
        );
        assert_eq!(
            event_line(T, TepEvent::Unknown(7), Some(Dir::SW)),
            "2026-11-22T01:02:03.456Z SW Event-0x07"
        );
    }

    #[test]
    fn packet_lines() {
        let data = Item::Data {
            dir: Some(Dir::WT),
            kind: Kind::Svc(20),
            payload: b"hello",
        };
        assert_eq!(
            packet_line(T, &data, false),
            format!("{T} WT svc20 5 68 65 6c 6c 6f")
        );
        assert_eq!(packet_line(T, &data, true), format!("{T} WT svc20 5 hello"));
        let empty = Item::Data {
            dir: Some(Dir::ET),
            kind: Kind::Mfm,
            payload: &[],
        };
        assert_eq!(packet_line(T, &empty, false), format!("{T} ET mfm 0"));
        let event = Item::Event {
            event: TepEvent::Disconnect,
            dir: Some(Dir::NE),
        };
        assert_eq!(
            packet_line(T, &event, false),
            format!("{T} NE event Disconnect")
        );
        assert_eq!(
            packet_line(T, &Item::Other(&[0xc7, 1]), true),
            format!("{T} -- other 2 c7 01")
        );
    }

    #[test]
    fn escapes_controls_and_bad_bytes() {
        assert_eq!(escape(b"a b\n\\\xff\xc3\xa9"), "a b\\x0a\\\\\\xffé");
    }

    #[test]
    fn ages() {
        assert_eq!(age(Duration::from_secs(45)), "45s");
        assert_eq!(age(Duration::from_secs(187)), "3m07s");
        assert_eq!(age(Duration::from_secs(7500)), "2h05m");
        assert_eq!(age(Duration::from_secs(4 * 86_400 + 3 * 3600)), "4d03h");
    }
}
