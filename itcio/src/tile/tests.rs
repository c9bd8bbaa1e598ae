//! Tests of the coordinator: the parts working together, driven the way
//! the daemon and the tree drive a tile.

use super::*;
use itc_proto::EchoOp;

/// A tile with queues of `limit` bytes and a present, compatible
/// neighbour named `name` at ET.
fn tile_with_et(limit: usize, name: &[u8]) -> Tile {
    let mut tile = Tile::new(Config {
        name: "T".into(),
        out_queue_limit: limit,
        reader_queue_limit: limit,
        ..Config::default()
    });
    let now = Instant::now();
    tile.set_pru_up(Pru::Pru0, true);
    tile.on_pru_message(Pru::Pru0, &[0xc3, b'P', Dir::ET.dir8()], now);
    // hello: header, svc 1, version 1, name, physics "".
    let mut hello = vec![0x80 | Dir::ET.dir8(), 1, 1, name.len() as u8];
    hello.extend_from_slice(name);
    hello.push(0);
    tile.on_pru_message(Pru::Pru0, &hello, now);
    assert!(tile.neighbour(Dir::ET).present());
    while tile.pop_outbound(Pru::Pru0).is_some() {}
    tile
}

fn mfm(len: usize) -> Vec<u8> {
    let mut p = vec![0xa0 | Dir::ET.dir8()];
    p.resize(len, 0x55);
    p
}

const RDWR: Access = Access::READ.union(Access::WRITE);

fn writable(tile: &Tile, id: FileId) -> bool {
    tile.poll_file(id).contains(Readiness::WRITABLE)
}

#[test]
fn a_packet_longer_than_the_queue_bound_fails_at_once() {
    let mut tile = tile_with_et(100, b"Z");
    for kind in [FileKind::Mfm(None), FileKind::Mfm(Some(Dir::ET))] {
        let id = tile.open_file(kind, RDWR).unwrap();
        assert!(writable(&tile, id), "{kind:?}: an empty queue");
        assert_eq!(
            tile.write_file(id, 0, &mfm(101)),
            Err(Error::TooLong { len: 101, max: 100 })
        );
        assert_eq!(tile.write_file(id, 0, &mfm(100)), Ok(100));
        assert!(!writable(&tile, id), "{kind:?}: full");
        assert_eq!(tile.write_file(id, 0, &mfm(1)), Err(Error::WouldBlock));
        while tile.pop_outbound(Pru::Pru0).is_some() {}
        assert!(writable(&tile, id), "{kind:?}: emptied");
        tile.release_file(id);
    }
}

#[test]
fn a_direction_without_its_neighbour_is_writable_as_its_write_fails_at_once() {
    let mut tile = tile_with_et(100, b"Z");
    let id = tile.open_file(FileKind::Mfm(Some(Dir::ET)), RDWR).unwrap();
    assert_eq!(tile.write_file(id, 0, &mfm(100)), Ok(100));
    assert!(!writable(&tile, id), "full");
    // The hellos stop; the link stays up, the queue full.
    tile.expire(Instant::now() + Duration::from_secs(10));
    assert!(!tile.neighbour(Dir::ET).present());
    assert_eq!(tile.write_file(id, 0, &mfm(1)), Err(Error::Unreachable));
    assert!(writable(&tile, id), "a select-driven writer learns of it");
}

fn itc_status(tile: &Tile) -> String {
    let links = tile.links();
    let rows = Dir::ALL.map(|d| (links.neighbour(d), links.stats(d)));
    String::from_utf8(text::itc_status(rows, links.physics())).unwrap()
}

#[test]
fn the_status_table_stays_aligned_with_a_long_name() {
    let tile = tile_with_et(1024, b"a-name-well-beyond-sixteen-characters");
    let table = itc_status(&tile);
    let at = |line: &str, word: &str| line.find(word);
    let lines: Vec<&str> = table.lines().collect();
    let header = at(lines[0], "physics").unwrap();
    for line in &lines[1..] {
        let col = at(line, "compatible").or_else(|| at(line, "unknown"));
        assert_eq!(col, Some(header), "{table}");
    }
}

#[test]
fn a_neighbours_control_characters_are_escaped_in_status_files() {
    let mut tile = tile_with_et(1024, b"Z\nlink: down\x1b[2J");
    let id = tile.open_file(FileKind::Status(Some(Dir::ET)), Access::READ);
    let mut status = Vec::new();
    tile.read_file(id.unwrap(), 0, 4096, &mut status).unwrap();
    let status = String::from_utf8(status).unwrap();
    assert!(!status.contains('\x1b'), "{status}");
    assert!(
        status.contains("peer_name: Z\\nlink: down\\x1b[2J\n"),
        "{status}"
    );
    assert_eq!(
        status.lines().filter(|l| l.starts_with("link:")).count(),
        1,
        "no forged line: {status}"
    );
    let table = itc_status(&tile);
    assert_eq!(table.lines().count(), 7, "{table}");
    assert!(!table.contains('\x1b'), "{table}");
}

#[test]
fn services_without_a_file_cannot_be_opened() {
    let mut tile = tile_with_et(1024, b"Z");
    for kind in [
        FileKind::Svc(None, 0),
        FileKind::Svc(None, 1),
        FileKind::Svc(Some(Dir::ET), 64),
    ] {
        assert_eq!(tile.open_file(kind, RDWR), Err(Error::NotFound), "{kind:?}");
    }
    // Nothing took the neighbour's hellos or its packets.
    let id = tile.open_file(FileKind::Svc(None, 9), RDWR).unwrap();
    assert!(
        tile.poll_file(id).contains(Readiness::READABLE),
        "the Connect"
    );
}

#[test]
fn only_bounces_of_routed_packets_count_on_a_direction() {
    let mut tile = tile_with_et(1024, b"Z");
    let now = Instant::now();
    // 0xc2 (local) and 0x42 (non-standard) have ET's low bits.
    for original in [0xc2u8, 0x42, 0xc4] {
        tile.on_pru_message(Pru::Pru0, &[0xc5, 0x01, original, 7], now);
    }
    assert_eq!(tile.stats(Dir::ET).total_drops(), 0);
    assert_eq!(tile.tile_stats().pru_malformed[0], 3);
    tile.on_pru_message(Pru::Pru0, &[0xc5, 0x01, 0x80 | Dir::ET.dir8(), 9], now);
    tile.on_pru_message(Pru::Pru0, &[0xc5, 0x02, 0xa0 | Dir::ET.dir8()], now);
    let s = tile.stats(Dir::ET);
    assert_eq!(s.drops(DropReason::QueueFull), 1);
    assert_eq!(s.drops(DropReason::LinkDown), 1);
    assert_eq!(tile.tile_stats().pru_malformed[0], 3);
}

#[test]
fn an_echo_request_is_answered_and_a_reply_goes_to_the_reader() {
    let mut tile = tile_with_et(1024, b"Z");
    let now = Instant::now();
    let id = tile
        .open_file(FileKind::Svc(Some(Dir::ET), 2), RDWR)
        .unwrap();
    let mut out = Vec::new();
    tile.read_file(id, 0, 255, &mut out).unwrap();
    assert_eq!(out, [0xc4, 0x01], "the Connect");
    let echo = |op: EchoOp| {
        let repr = itc_proto::EchoRepr {
            op,
            payload: b"ping",
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf, Dir::ET).unwrap();
        buf.truncate(n);
        buf
    };
    tile.on_pru_message(Pru::Pru0, &echo(EchoOp::Request), now);
    let (dir, lane, reply) = tile.pop_outbound(Pru::Pru0).unwrap();
    assert_eq!((dir, lane), (Dir::ET, Lane::Service));
    assert_eq!(&reply[..], &echo(EchoOp::Reply)[..]);
    assert_eq!(tile.read_file(id, 0, 255, &mut out), Err(Error::WouldBlock));
    tile.on_pru_message(Pru::Pru0, &echo(EchoOp::Reply), now);
    out.clear();
    tile.read_file(id, 0, 255, &mut out).unwrap();
    assert_eq!(out, echo(EchoOp::Reply));
    assert_eq!(
        tile.stats(Dir::ET).rx_svc.packets,
        3,
        "hello, request, reply"
    );
}

#[test]
fn a_silent_neighbour_is_probed_and_then_declared_absent() {
    let mut tile = tile_with_et(1024, b"Z");
    let id = tile
        .open_file(FileKind::Events(None), Access::READ)
        .unwrap();
    let mut out = Vec::new();
    tile.read_file(id, 0, 255, &mut out).unwrap();
    assert_eq!(out, [0xc4, 0x01, Dir::ET.dir8()]);
    let absent_at = tile.next_expiry().unwrap();
    tile.expire(absent_at);
    assert!(!tile.neighbour(Dir::ET).present());
    out.clear();
    tile.read_file(id, 0, 255, &mut out).unwrap();
    assert_eq!(out, [0xc4, 0x02, Dir::ET.dir8()], "the Disconnect");
    assert!(tile.drain_changed().any(|c| c == id));
    // The link is up: a probe asks for a hello soon.
    let probe_at = tile.next_expiry().unwrap();
    assert!(probe_at > absent_at);
    tile.expire(probe_at);
    let (_, lane, hello) = tile.pop_outbound(Pru::Pru0).unwrap();
    assert_eq!(lane, Lane::Hello);
    let hello = itc_proto::HelloRepr::parse(&Packet::new_unchecked(&hello[..])).unwrap();
    assert!(hello.flags.contains(itc_proto::HelloFlags::ASK));
}

/// Every record a capture file holds, decoded: (dir, way, fate, packet).
fn captured(tile: &mut Tile, id: FileId) -> Vec<(Dir, Way, u8, Vec<u8>)> {
    use itc_proto::capture::CaptureRecord;
    let mut out = Vec::new();
    assert_eq!(tile.poll_file(id), Readiness::READABLE);
    tile.read_file(id, 0, 1 << 20, &mut out).unwrap();
    let mut recs = Vec::new();
    let mut at = 0;
    while at < out.len() {
        let (rec, n) = CaptureRecord::parse(&out[at..]).unwrap();
        if let CaptureRecord::Packet {
            dir,
            way,
            fate,
            packet,
            ..
        } = rec
        {
            recs.push((dir, way, fate, packet.to_vec()));
        }
        at += n;
    }
    assert_eq!(tile.poll_file(id), Readiness::empty(), "all read");
    recs
}

#[test]
fn capture_records_every_packet_in_out_and_dropped_with_its_reason() {
    let mut tile = tile_with_et(4096, b"Z");
    let cap = tile.open_file(FileKind::Capture, Access::READ).unwrap();
    assert_eq!(
        tile.open_file(FileKind::Capture, RDWR),
        Err(Error::Denied),
        "read-only"
    );
    assert_eq!(
        tile.read_file(cap, 0, 4096, &mut Vec::new()),
        Err(Error::WouldBlock)
    );
    let now = Instant::now();
    let et = Dir::ET.dir8();
    // In: no reader, then delivered; damaged; service 0; OVRN kept as it came.
    tile.on_pru_message(Pru::Pru0, &[0xa0 | et, 1], now);
    let mfm_file = tile.open_file(FileKind::Mfm(None), RDWR).unwrap();
    tile.on_pru_message(Pru::Pru0, &[0xb0 | et, 2], now);
    tile.on_pru_message(Pru::Pru0, &[0xa8 | et, 3], now);
    tile.on_pru_message(Pru::Pru0, &[0x80 | et, 0], now);
    // An echo request is answered: in, then the reply goes out.
    tile.on_pru_message(Pru::Pru0, &[0x80 | et, 2, 1, 7], now);
    let (dir, lane, reply) = tile.pop_outbound(Pru::Pru0).unwrap();
    tile.sent(dir, lane, &reply);
    // Out: written, then lost with the link.
    assert_eq!(tile.write_file(mfm_file, 0, &mfm(4)), Ok(4));
    tile.on_pru_message(Pru::Pru0, &[0xc3, b'F', et], now);
    let code = |r: DropReason| r.code();
    assert_eq!(
        captured(&mut tile, cap),
        [
            (
                Dir::ET,
                Way::In,
                code(DropReason::NoReader),
                vec![0xa0 | et, 1]
            ),
            (Dir::ET, Way::In, 0, vec![0xb0 | et, 2]),
            (Dir::ET, Way::In, code(DropReason::Eror), vec![0xa8 | et, 3]),
            (
                Dir::ET,
                Way::In,
                code(DropReason::Malformed),
                vec![0x80 | et, 0]
            ),
            (Dir::ET, Way::In, 0, vec![0x80 | et, 2, 1, 7]),
            (Dir::ET, Way::Out, 0, vec![0x80 | et, 2, 2, 7]),
            (Dir::ET, Way::Out, code(DropReason::LinkDown), mfm(4)),
        ]
    );
    let s = tile.stats(Dir::ET);
    assert_eq!(s.total_drops(), 4, "each drop counted once, and captured");
    tile.release_file(cap);
    tile.on_pru_message(Pru::Pru0, &[0xa0 | et, 1], now);
    assert_eq!(tile.files.capture.memory(), 0, "no reader, no record");
}
