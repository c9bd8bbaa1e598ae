//! `itc/capture` (`docs/reference.md`, "The capture file") through real
//! mounts of real `itcd` processes, with the syscalls a user would make.

mod common;

use std::os::fd::AsRawFd;

use common::*;
use itc_proto::capture::{CaptureRecord, Way};
use itc_proto::Dir;

/// A pair whose hellos are rare, so that nothing but the test's own
/// packets is recorded while it runs; `queue_bytes` for B.
fn quiet_pair(queue_bytes: &str) -> Grid {
    let mut spec = GridSpec::pair();
    spec.hello_ms = 60_000;
    spec.absent_ms = 120_000;
    spec.extra_args[1] = vec!["--queue-bytes".into(), queue_bytes.into()];
    let g = Grid::start(spec);
    g.wait_pair();
    g
}

/// Every record in `buf`.
fn records(buf: &[u8]) -> Vec<CaptureRecord<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let (rec, n) = CaptureRecord::parse(&buf[at..]).expect("whole records");
        out.push(rec);
        at += n;
    }
    out
}

/// Reads everything queued for a nonblocking capture reader.
fn drain(f: &std::fs::File) -> Vec<u8> {
    let mut all = Vec::new();
    while let Ok(buf) = read_packet(f, 65536) {
        all.extend(buf);
    }
    all
}

#[test]
fn capture_readers_each_get_every_packet_and_the_file_behaves_as_documented() {
    let g = quiet_pair("16384");
    let a = g.tile(0);
    let path = a.path("itc/capture");
    assert_eq!(errno(&open(&path, libc::O_RDWR)), libc::EACCES);
    assert_eq!(errno(&open(&path, libc::O_WRONLY)), libc::EACCES);
    let c1 = open(&path, libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let c2 = open(&path, libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    drain(&c1);
    drain(&c2);
    assert_eq!(errno(&read_packet(&c1, 65536)), libc::EAGAIN);
    assert_eq!(poll_fd(&c1, libc::POLLIN, 0) & libc::POLLIN, 0);
    // SAFETY: lseek on a valid descriptor.
    let sought = unsafe { libc::lseek(c1.as_raw_fd(), 0, libc::SEEK_SET) };
    assert_eq!(sought, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ESPIPE)
    );

    let b = g.tile(1);
    let unread = b.counter(Dir::WT, "drop_no_reader");
    let tx = open(&a.path("itc/mfm"), libc::O_RDWR).unwrap();
    write_packet(&tx, &[0xa0 | Dir::ET.dir8(), 7, 7, 7]).unwrap();
    for c in [&c1, &c2] {
        assert_ne!(
            poll_fd(c, libc::POLLIN, 10_000) & libc::POLLIN,
            0,
            "readable once a record is queued"
        );
        assert_eq!(errno(&read_packet(c, 19)), libc::EMSGSIZE, "20 bytes");
        let buf = read_packet(c, 65536).unwrap();
        assert_eq!(buf.len(), 20, "the record stayed queued");
        match records(&buf)[..] {
            [CaptureRecord::Packet {
                dir: Dir::ET,
                way: Way::Out,
                fate: 0,
                packet,
                time_ns,
            }] => {
                assert_eq!(packet, [0xa2, 7, 7, 7]);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64;
                assert!(time_ns <= now && now - time_ns < 60_000_000_000, "recent");
            }
            ref other => panic!("{other:?}"),
        }
    }
    // B has no MFM reader: its capture shows the drop, with the reason
    // its status counts. (The first packet is dropped there too: wait for
    // it, so that it is not taken for the second.)
    eventually!(
        b.counter(Dir::WT, "drop_no_reader") == unread + 1,
        "the first packet counted"
    );
    let cb = open(&b.path("itc/capture"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let before = unread + 1;
    write_packet(&tx, &[0xa0 | Dir::ET.dir8(), 8]).unwrap();
    eventually!(
        b.counter(Dir::WT, "drop_no_reader") == before + 1,
        "counted"
    );
    let buf = drain(&cb);
    assert!(
        records(&buf).iter().any(|r| matches!(r,
            CaptureRecord::Packet { dir: Dir::WT, way: Way::In, fate: 1, packet, .. }
                if packet == &[0xa0 | Dir::WT.dir8(), 8])),
        "{:?}",
        records(&buf)
    );
}

#[test]
fn a_capture_reader_that_falls_behind_reads_how_many_records_it_lost() {
    let g = quiet_pair("300");
    let (a, b) = (g.tile(0), g.tile(1));
    let cb = open(&b.path("itc/capture"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    drain(&cb);
    let tx = open(&a.path("tile/ET/mfm"), libc::O_RDWR).unwrap();
    let before = b.counter(Dir::WT, "drop_no_reader");
    let sent = 12u64;
    for i in 0..sent {
        let mut p = vec![0xa0 | Dir::ET.dir8(); 100];
        p[1] = i as u8;
        // Paced by the outbound queue: wait for room.
        assert_ne!(poll_fd(&tx, libc::POLLOUT, 10_000) & libc::POLLOUT, 0);
        write_packet(&tx, &p).unwrap();
    }
    eventually!(
        b.counter(Dir::WT, "drop_no_reader") == before + sent,
        "every packet reached B and was dropped there"
    );
    let buf = drain(&cb);
    let recs = records(&buf);
    let kept = recs
        .iter()
        .filter(|r| matches!(r, CaptureRecord::Packet { .. }))
        .count() as u64;
    let lost: u64 = recs
        .iter()
        .map(|r| match r {
            CaptureRecord::Lost { count, .. } => *count,
            _ => 0,
        })
        .sum();
    assert!(kept >= 1 && kept < sent, "bounded: {kept} of {sent} kept");
    assert_eq!(kept + lost, sent, "each record kept or counted as lost");
    assert!(
        matches!(recs.last(), Some(CaptureRecord::Lost { .. })),
        "the lost record comes in their place: {recs:?}"
    );
}
