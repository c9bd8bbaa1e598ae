//! The file service's messages (service 8, `itc_files::wire`): any bytes
//! through [`Message::parse`] and [`parse_packet`], and messages built
//! from the fuzzer's bytes through [`Message::emit`].

use arbitrary::Unstructured;
use itc_files::id::{RecordId, ShortId};
use itc_files::manifest::{MAX_MANIFEST_LEN, MAX_PIECES, MAX_PIECE_SIZE};
use itc_files::tombstone::{MAX_TOMBSTONE_LEN, MIN_TOMBSTONE_LEN};
use itc_files::wire::{
    emit_packet, parse_packet, AbortReason, Announce, Error, Have, Locator, Message, Object,
    CHUNK_LEN, MAX_BITMAP, MAX_MESSAGE_LEN, MAX_REQUEST_CHUNKS, MIN_MANIFEST_LEN,
    PACKET_HEADER_LEN,
};
use itc_files::Name;

/// Parses `data` as a message. One that parses must emit the very same
/// bytes (the encoding is canonical: no reserved bits, no trailing bytes)
/// and parse back the same; as a packet's payload behind a service-8
/// header it must parse the same through [`parse_packet`], which is also
/// tried on `data` itself as a whole packet.
pub fn check_files_message(data: &[u8]) -> Option<()> {
    let _ = parse_packet(data);
    let msg = Message::parse(data).ok()?;
    assert!(data.len() <= MAX_MESSAGE_LEN, "parsed an over-long message");
    assert_eq!(msg.buffer_len(), data.len(), "buffer_len disagrees");
    let mut buf = vec![0xa5u8; data.len()];
    let n = msg
        .emit(&mut buf)
        .expect("emit refused a message that parsed");
    assert_eq!(&buf[..n], data, "emit spelled the message differently");
    assert_eq!(Message::parse(&buf[..n]), Ok(msg.clone()));
    let mut packet = [0xa5u8; PACKET_HEADER_LEN + MAX_MESSAGE_LEN];
    for dir in itc_proto::Dir::ALL {
        let n = emit_packet(&msg, dir, &mut packet).expect("emit_packet refused it");
        let (d, again) = parse_packet(&packet[..n]).expect("an emitted packet does not parse");
        assert_eq!((d, &again), (dir, &msg), "the packet changed");
    }
    Some(())
}

/// Builds a message from the fuzzer's bytes, with any field values
/// (including ones `emit` must refuse), and emits it into a buffer of
/// 0..=260 bytes. What emit accepts must parse back to the same message
/// (codes compared by their byte); every refusal must name a real fault.
pub fn emit_files_message(data: &[u8]) {
    let _ = try_emit(&mut Unstructured::new(data));
}

fn try_emit(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let name_bytes: Vec<u8> = u.arbitrary()?;
    let record: Vec<u8> = u.arbitrary()?;
    let chunk: Vec<u8> = u.arbitrary()?;
    let bitmap: Vec<u8> = u.arbitrary()?;
    let msg = match u.int_in_range(0u8..=6)? {
        0 => {
            let Ok(name) = Name::from_bytes(&name_bytes) else {
                return Ok(());
            };
            Message::Announce(Announce {
                name,
                version: u.arbitrary()?,
                manifest_id: RecordId(u.arbitrary()?),
                manifest_len: any_len(u, MAX_MANIFEST_LEN as u32)?,
                have: if u.arbitrary()? {
                    Have::Complete
                } else {
                    Have::Partial {
                        base: any_len(u, MAX_PIECES)?,
                        bitmap: &bitmap,
                    }
                },
            })
        }
        1 => Message::Tombstone(&record),
        2 => Message::Request {
            at: any_locator(u)?,
            count: u.arbitrary()?,
        },
        3 => Message::Data {
            at: any_locator(u)?,
            data: &chunk,
        },
        4 => Message::Retry {
            at: any_locator(u)?,
            delay_ms: u.arbitrary()?,
        },
        5 => Message::Abort {
            id: ShortId(u.arbitrary()?),
            reason: if u.arbitrary()? {
                AbortReason::Other(u.arbitrary()?)
            } else {
                AbortReason::from_byte(u.arbitrary()?)
            },
        },
        _ => Message::Solicit,
    };
    let mut buf = vec![0xa5u8; u.int_in_range(0..=260)?];
    match msg.emit(&mut buf) {
        Ok(n) => {
            assert_eq!(n, msg.buffer_len(), "emit and buffer_len disagree");
            let again = Message::parse(&buf[..n]).expect("an emitted message does not parse");
            assert_eq!(
                again,
                normalise(&msg),
                "the message changed across emit and parse"
            );
        }
        Err(Error::BufferTooSmall { len, need }) => {
            assert_eq!((len, need), (buf.len(), msg.buffer_len()));
            assert!(len < need, "BufferTooSmall for a buffer that fits");
        }
        Err(e) => assert!(refusal_is_right(&msg, e), "emit refused {msg:?}: {e}"),
    }
    Ok(())
}

/// A length near the edges of `0..=max` as often as anywhere else.
fn any_len(u: &mut Unstructured<'_>, max: u32) -> arbitrary::Result<u32> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => u.int_in_range(max.saturating_sub(2)..=max.saturating_add(2))?,
        1 => u.int_in_range(0..=4)?,
        2 => u.int_in_range(0..=max)?,
        _ => u.arbitrary()?,
    })
}

fn any_locator(u: &mut Unstructured<'_>) -> arbitrary::Result<Locator> {
    let object = if u.arbitrary()? {
        Object::Unknown(u.arbitrary()?)
    } else {
        Object::from_byte(u.int_in_range(0..=3)?)
    };
    let offset = if u.arbitrary()? {
        any_len(u, MAX_PIECE_SIZE / CHUNK_LEN as u32)?.wrapping_mul(CHUNK_LEN as u32)
    } else {
        u.arbitrary()?
    };
    Ok(Locator {
        id: ShortId(u.arbitrary()?),
        object,
        piece: any_len(u, MAX_PIECES)?,
        offset,
    })
}

/// `msg` with every code as `parse` reads its byte.
fn normalise<'a>(msg: &Message<'a>) -> Message<'a> {
    let locator = |at: &Locator| Locator {
        object: Object::from_byte(at.object.to_byte()),
        ..*at
    };
    match msg {
        Message::Request { at, count } => Message::Request {
            at: locator(at),
            count: *count,
        },
        Message::Data { at, data } => Message::Data {
            at: locator(at),
            data,
        },
        Message::Retry { at, delay_ms } => Message::Retry {
            at: locator(at),
            delay_ms: *delay_ms,
        },
        Message::Abort { id, reason } => Message::Abort {
            id: *id,
            reason: AbortReason::from_byte(reason.to_byte()),
        },
        other => other.clone(),
    }
}

/// Whether `e` is a true fault of `msg`, judged by the bytes it would
/// spell.
fn refusal_is_right(msg: &Message<'_>, e: Error) -> bool {
    let at = match msg {
        Message::Request { at, .. } | Message::Data { at, .. } | Message::Retry { at, .. } => {
            Some(at)
        }
        _ => None,
    };
    match e {
        Error::ManifestLen(l) => {
            matches!(msg, Message::Announce(a) if a.manifest_len == l)
                && !(MIN_MANIFEST_LEN..=MAX_MANIFEST_LEN).contains(&(l as usize))
        }
        Error::BitmapTooLong(b) => b > MAX_BITMAP,
        Error::BitmapRange { base, bytes } => {
            u64::from(base) + 8 * bytes as u64 > u64::from(MAX_PIECES) + 7
        }
        Error::RecordLen(l) => !(MIN_TOMBSTONE_LEN..=MAX_TOMBSTONE_LEN).contains(&l),
        Error::BadCount(c) => c == 0 || c > MAX_REQUEST_CHUNKS,
        Error::EmptyData => matches!(msg, Message::Data { data, .. } if data.is_empty()),
        Error::UnknownObject(o) => {
            at.is_some_and(|a| a.object.to_byte() == o)
                && matches!(Object::from_byte(o), Object::Unknown(_))
        }
        Error::ManifestPiece(p) => {
            at.is_some_and(|a| {
                a.piece == p && Object::from_byte(a.object.to_byte()) == Object::Manifest
            }) && p != 0
        }
        Error::PieceOutOfRange(p) => p >= MAX_PIECES,
        Error::Misaligned(o) => !o.is_multiple_of(CHUNK_LEN as u32),
        Error::OffsetOutOfRange(o) => at.is_some_and(|a| a.offset == o),
        Error::TooLong { len } => len > MAX_MESSAGE_LEN && len == msg.buffer_len(),
        _ => false,
    }
}
