//! The batched packet files (`itc/batch/...`, `tile/<D>/batch/...`),
//! exercised through real mounts of real `itcd` processes: framing, the
//! channel they share with their plain twins, reads of many items, stream
//! writes with short counts, blocking, poll and signals.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::hand::HandTile;
use common::*;
use itc_proto::batch::{push_item, Items};
use itc_proto::Dir;

const O_RDWR: i32 = libc::O_RDWR;
const O_NB: i32 = libc::O_RDWR | libc::O_NONBLOCK;

/// Service header byte 0 for direction `d`.
fn svc_hdr(d: Dir) -> u8 {
    0x80 | d.dir8()
}

/// MFM header for direction `d`.
fn mfm_hdr(d: Dir) -> u8 {
    0xa0 | d.dir8()
}

/// The items of a batch, each as a vector.
fn items(batch: &[u8]) -> Vec<Vec<u8>> {
    Items::new(batch)
        .map(|r| r.expect("whole items").to_vec())
        .collect()
}

/// Frame `packets` into one batch.
fn batch(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        assert!(push_item(&mut out, p));
    }
    out
}

/// Read items from `f` until `n` data items (not TEPs) arrived.
fn read_items(f: &std::fs::File, n: usize, g: &Grid) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let end = Instant::now() + DEADLINE;
    while got.len() < n {
        assert!(
            Instant::now() < end,
            "{} of {n} items\n{}",
            got.len(),
            g.dump()
        );
        if poll_fd(f, libc::POLLIN, 100) & libc::POLLIN == 0 {
            continue;
        }
        let b = read_packet(f, 65536).expect("batched read");
        got.extend(items(&b).into_iter().filter(|p| p[0] != 0xc4));
    }
    got
}

#[test]
fn batched_twins_sit_beside_every_packet_file_with_the_same_modes_and_group() {
    let mut spec = GridSpec::pair();
    spec.extra_args[0] = vec!["--group".into(), "12345".into()];
    let g = Grid::start(spec);
    let a = g.tile(0);
    let meta = |rel: &str| std::fs::metadata(a.path(rel)).unwrap();
    for rel in [
        "itc/batch/mfm",
        "itc/batch/svc/02",
        "itc/batch/svc/63",
        "tile/ET/batch/mfm",
        "tile/NW/batch/svc/08",
    ] {
        let m = meta(rel);
        assert!(m.is_file(), "{rel}");
        assert_eq!(m.permissions().mode() & 0o7777, 0o660, "{rel}");
        assert_eq!((m.uid(), m.gid()), (0, 12345), "{rel}");
    }
    assert_eq!(
        std::fs::read_dir(a.path("itc/batch/svc")).unwrap().count(),
        62
    );
    let mut names: Vec<String> = std::fs::read_dir(a.path("tile/SW/batch"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["mfm", "svc"]);
    assert!(!a.path("itc/batch/svc/01").exists(), "hello is itcd's");
    assert!(!a.path("itc/batch/events").exists(), "events have no twin");
}

#[test]
fn a_file_and_its_batched_twin_are_one_channel() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    for (plain, twin) in [
        ("itc/mfm", "itc/batch/mfm"),
        ("itc/svc/20", "itc/batch/svc/20"),
        ("tile/ET/mfm", "tile/ET/batch/mfm"),
        ("tile/SE/svc/63", "tile/SE/batch/svc/63"),
    ] {
        let f = open(&a.path(plain), O_RDWR).unwrap();
        assert_eq!(errno(&open(&a.path(twin), O_RDWR)), libc::EBUSY, "{twin}");
        assert_eq!(
            errno(&open(&a.path(twin), libc::O_RDONLY)),
            libc::EBUSY,
            "{twin}"
        );
        drop(f);
        let t = open(&a.path(twin), O_RDWR).unwrap();
        assert_eq!(errno(&open(&a.path(plain), O_RDWR)), libc::EBUSY, "{plain}");
        assert_eq!(errno(&open(&a.path(twin), O_RDWR)), libc::EBUSY, "{twin}");
        drop(t);
    }
    // Inbound routing treats the twin as its plain file: tile/<D> first.
    let itc = open(&b.path("itc/svc/21"), O_NB).unwrap();
    let tile = open(&b.path("tile/WT/batch/svc/21"), O_NB).unwrap();
    let tx = open(&a.path("tile/ET/svc/21"), O_RDWR).unwrap();
    assert_eq!(next_packet(&itc), [0xc4, 0x01, Dir::WT.dir8()]);
    assert_eq!(next_packet(&tile), [2, 0xc4, 0x01], "the Connect, framed");
    write_packet(&tx, &[0x80, 21, 7]).unwrap();
    assert_eq!(read_items(&tile, 1, &g), [vec![svc_hdr(Dir::WT), 21, 7]]);
    assert_eq!(errno(&read_packet(&itc, 256)), libc::EAGAIN);
}

#[test]
fn batched_reads_return_every_whole_item_that_fits_and_keep_the_rest() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let rx = open(&b.path("itc/batch/svc/22"), O_NB).unwrap();
    assert_eq!(
        read_packet(&rx, 4).unwrap(),
        [3, 0xc4, 0x01, Dir::WT.dir8()],
        "the Connect"
    );
    assert_eq!(errno(&read_packet(&rx, 4096)), libc::EAGAIN, "empty");
    let tx = open(&a.path("tile/ET/svc/22"), O_RDWR).unwrap();
    // Ten packets of 10..=19 bytes: items of 11..=20.
    let sent: Vec<Vec<u8>> = (10..20u8)
        .map(|n| {
            let mut p = vec![0x80, 22];
            p.resize(usize::from(n), n);
            p
        })
        .collect();
    for p in &sent {
        write_packet(&tx, p).unwrap();
    }
    eventually!(
        b.counter(Dir::WT, "rx_svc_packets") >= 10,
        "all ten arrived\n{}",
        g.dump()
    );
    let expect = |p: &Vec<u8>| {
        let mut p = p.clone();
        p[0] = svc_hdr(Dir::WT);
        p
    };
    assert_eq!(errno(&read_packet(&rx, 10)), libc::EMSGSIZE, "item of 11");
    // Exactly two items fit in 11 + 12 bytes.
    let two = read_packet(&rx, 23).unwrap();
    assert_eq!(items(&two), [expect(&sent[0]), expect(&sent[1])]);
    // 13 + 14 and not the 15 of the next: two, and nothing cut.
    let two = read_packet(&rx, 13 + 14 + 14).unwrap();
    assert_eq!(two.len(), 27);
    assert_eq!(items(&two), [expect(&sent[2]), expect(&sent[3])]);
    let rest = read_packet(&rx, 65536).unwrap();
    let want: Vec<_> = sent[4..].iter().map(expect).collect();
    assert_eq!(items(&rest), want);
    assert_eq!(errno(&read_packet(&rx, 4096)), libc::EAGAIN);
    // A blocking reader is woken by the next packet.
    let path = b.path("itc/batch/svc/23");
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    let reader = open(&path, O_RDWR).unwrap();
    assert_eq!(
        read_packet(&reader, 64).unwrap(),
        [3, 0xc4, 1, Dir::WT.dir8()]
    );
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        let _ = got_tx.send(read_packet(&reader, 4096));
    });
    let wchan = format!("/proc/self/task/{}/wchan", tid_rx.recv().unwrap());
    eventually!(
        std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("request_wait_answer")),
        "reader blocked in read()"
    );
    write_packet(
        &open(&a.path("itc/svc/23"), O_RDWR).unwrap(),
        &[svc_hdr(Dir::ET), 23, 0xee],
    )
    .unwrap();
    let got = got_rx
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("the blocked reader got nothing\n{}", g.dump()))
        .unwrap();
    assert_eq!(got, [3, svc_hdr(Dir::WT), 23, 0xee]);
}

#[test]
fn poll_reports_a_batched_file_readable_with_one_item_and_writable() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let rx = open(&g.tile(1).path("tile/WT/batch/mfm"), O_NB).unwrap();
    assert_eq!(read_packet(&rx, 64).unwrap(), [2, 0xc4, 0x01]);
    let ev = poll_fd(&rx, libc::POLLIN | libc::POLLOUT, 0);
    assert_eq!(ev & libc::POLLIN, 0, "nothing queued");
    assert_ne!(ev & libc::POLLOUT, 0, "writable");
    let tx = open(&g.tile(0).path("itc/batch/mfm"), O_RDWR).unwrap();
    write_packet(&tx, &[2, mfm_hdr(Dir::ET), 42]).unwrap();
    assert_ne!(poll_fd(&rx, libc::POLLIN, 10_000) & libc::POLLIN, 0);
    assert_eq!(read_packet(&rx, 64).unwrap(), [2, mfm_hdr(Dir::WT), 42]);
    assert_eq!(poll_fd(&rx, libc::POLLIN, 0) & libc::POLLIN, 0);
}

#[test]
fn a_batched_write_of_4096_bytes_arrives_whole_however_it_lies_in_memory() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let tx = open(&g.tile(0).path("tile/ET/batch/mfm"), O_RDWR).unwrap();
    let rx = open(&g.tile(1).path("itc/batch/mfm"), O_NB).unwrap();
    // 64 items of 64 bytes (63-byte packets with a sequence number).
    let packets = |round: u8| -> Vec<Vec<u8>> {
        (0..64u8)
            .map(|i| {
                let mut p = vec![0xa0, round, i];
                p.resize(63, i ^ round);
                p
            })
            .collect()
    };
    // The buffer starts 96 bytes before a page boundary, so it covers
    // two pages.
    let page = 4096;
    let mut mem = vec![0u8; 3 * page];
    let off = (page - mem.as_ptr() as usize % page) % page + page - 96;
    let mut want = Vec::new();
    for round in 0..4u8 {
        let b = batch(&packets(round));
        assert_eq!(b.len(), 4096);
        mem[off..off + 4096].copy_from_slice(&b);
        assert_eq!(
            write_packet(&tx, &mem[off..off + 4096]).unwrap(),
            4096,
            "round {round}: one write, every item taken"
        );
        want.extend(packets(round).into_iter().map(|mut p| {
            p[0] = mfm_hdr(Dir::WT);
            p
        }));
    }
    assert_eq!(read_items(&rx, want.len(), &g), want);
}

#[test]
fn a_write_larger_than_one_request_is_answered_short_at_a_whole_item() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let tx = open(&g.tile(0).path("tile/ET/batch/svc/40"), O_RDWR).unwrap();
    let rx = open(&g.tile(1).path("tile/WT/batch/svc/40"), O_NB).unwrap();
    // 160 items of 101 bytes: 16160 bytes, more than the kernel puts in
    // one request, and no request boundary falls between two items.
    let sent: Vec<Vec<u8>> = (0..160u16)
        .map(|i| {
            let mut p = vec![0x80, 40, (i >> 8) as u8, i as u8];
            p.resize(100, 0x33);
            p
        })
        .collect();
    let bytes = batch(&sent);
    let n = write_packet(&tx, &bytes).unwrap();
    assert!(
        n >= 4096 && n < bytes.len() && n.is_multiple_of(101),
        "short at a whole item: {n} of {}",
        bytes.len()
    );
    // What a stream writer does next: write the rest.
    std::io::Write::write_all(&mut &tx, &bytes[n..]).unwrap();
    let want: Vec<Vec<u8>> = sent
        .into_iter()
        .map(|mut p| {
            p[0] = svc_hdr(Dir::WT);
            p
        })
        .collect();
    assert_eq!(read_items(&rx, 160, &g), want, "every item once, in order");
}

#[test]
fn batched_writes_take_items_up_to_the_first_that_cannot_go() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let tx = open(&a.path("itc/batch/svc/16"), O_NB).unwrap();
    let rx = open(&b.path("itc/batch/svc/16"), O_NB).unwrap();
    let et = |n: u8| vec![svc_hdr(Dir::ET), 16, n];
    let se = |n: u8| vec![svc_hdr(Dir::SE), 16, n];
    // The first item cannot be taken: the call fails with its errno.
    let einval: &[(&[u8], &str)] = &[
        (&[0], "length byte 0"),
        (&[5, svc_hdr(Dir::ET), 16, 1], "item cut off"),
        (&[9], "a lone length byte"),
        (&[2, 0xc4, 1], "a TEP is no packet to send"),
        (&[2, svc_hdr(Dir::ET), 17], "other service"),
        (&[3, mfm_hdr(Dir::ET), 16, 1], "MFM on a service file"),
        (&[3, 0x80, 16, 1], "DIR NT"),
    ];
    for (bytes, why) in einval {
        assert_eq!(errno(&write_packet(&tx, bytes)), libc::EINVAL, "{why}");
    }
    assert_eq!(
        errno(&write_packet(&tx, &batch(&[se(1)]))),
        libc::EHOSTUNREACH,
        "no neighbour at SE"
    );
    // A good item then a bad one: a short write of the good one.
    let mut bytes = batch(&[et(1)]);
    bytes.extend_from_slice(&[0, 2, 3]);
    assert_eq!(write_packet(&tx, &bytes).unwrap(), 4, "then length 0");
    let mut bytes = batch(&[et(2), et(3)]);
    bytes.extend_from_slice(&[4, svc_hdr(Dir::ET), 16]);
    assert_eq!(write_packet(&tx, &bytes).unwrap(), 8, "then a cut item");
    // Mixed directions, one unreachable: the write stops at its item and
    // the next write, starting there, fails with its errno.
    let mixed = batch(&[et(4), et(5), se(6), et(7)]);
    let n = write_packet(&tx, &mixed).unwrap();
    assert_eq!(n, 8, "two items of four bytes");
    assert_eq!(
        errno(&write_packet(&tx, &mixed[n..])),
        libc::EHOSTUNREACH,
        "the SE item"
    );
    // Only the items taken went out, in order.
    let want: Vec<Vec<u8>> = (1..=5u8).map(|n| vec![svc_hdr(Dir::WT), 16, n]).collect();
    assert_eq!(read_items(&rx, 5, &g), want);
    assert_eq!(errno(&read_packet(&rx, 4096)), libc::EAGAIN, "nothing more");
}

#[test]
fn batched_files_carry_connect_and_disconnect_in_order_with_the_data() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let events = open(&b.path("tile/WT/events"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let rx = open(&b.path("itc/batch/mfm"), O_NB).unwrap();
    let tx = open(&a.path("tile/ET/batch/mfm"), O_RDWR).unwrap();
    write_packet(&tx, &batch(&[vec![0xa0, 1], vec![0xa0, 2]])).unwrap();
    eventually!(
        b.counter(Dir::WT, "rx_mfm_packets") >= 2,
        "both arrived\n{}",
        g.dump()
    );
    // The events file sees the Disconnect and the Connect after the
    // batched file got them: both come from one fan-out.
    assert_eq!(next_packet(&events), [0xc4, 0x01], "the Connect at open");
    flap(&g, 1, Dir::WT, &events);
    let mut got = Vec::new();
    while got.len() < 5 {
        assert_ne!(poll_fd(&rx, libc::POLLIN, 10_000) & libc::POLLIN, 0);
        got.extend(items(&read_packet(&rx, 4096).unwrap()));
    }
    let wt = Dir::WT.dir8();
    assert_eq!(
        got,
        [
            vec![0xc4, 0x01, wt],
            vec![mfm_hdr(Dir::WT), 1],
            vec![mfm_hdr(Dir::WT), 2],
            vec![0xc4, 0x02, wt],
            vec![0xc4, 0x01, wt],
        ]
    );
}

/// Start `cmd`, wait until it blocks inside the tree, send `sig`, and
/// return how long it took to die.
fn time_to_die(mut cmd: Command, sig: i32) -> Duration {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    if !wait_for(DEADLINE, || blocked_in_fuse(pid)) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("process never blocked in the tree");
    }
    let t = Instant::now();
    signal(pid, sig);
    let died = wait_for(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let took = t.elapsed();
    if !died {
        let _ = child.kill();
        panic!("process blocked in the tree survived signal {sig}");
    }
    took
}

#[test]
fn full_queues_make_batched_writes_short_then_eagain_and_blocked_callers_die_on_signals() {
    // The hand-made PRU never reads: the socket fills, then itcd's queue.
    let h = HandTile::quiet(1024);
    h.neighbour_et();
    let f = open(&h.tile.path("tile/ET/batch/svc/20"), O_NB).unwrap();
    let big = {
        let mut p = vec![0x80, 20];
        p.resize(255, 7);
        p
    };
    let eight = batch(&vec![big.clone(); 8]);
    let mut taken = 0usize;
    loop {
        match write_packet(&f, &eight) {
            Ok(n) => {
                assert!(n.is_multiple_of(256), "whole items only: {n}");
                taken += n / 256;
            }
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "full, O_NONBLOCK");
                break;
            }
        }
        assert!(taken < 100_000, "the queue never filled");
    }
    assert_eq!(
        poll_fd(&f, libc::POLLOUT, 0) & libc::POLLOUT,
        0,
        "not writable while full"
    );
    // The lane now holds four 255-byte packets of its 1024 bytes: room
    // for one 4-byte packet, so three of them make a short write.
    let small = batch(&vec![vec![0x80, 20, 1, 2]; 3]);
    assert_eq!(
        write_packet(&f, &small).unwrap(),
        5,
        "one item taken of three"
    );
    assert_eq!(
        errno(&write_packet(&f, &small[5..])),
        libc::EAGAIN,
        "the next write, at the first item not taken"
    );
    drop(f);
    for (svc, sig) in [(21, libc::SIGINT), (22, libc::SIGTERM), (23, libc::SIGKILL)] {
        // A blocked reader of a batched file (no neighbour at SE).
        let mut cat = Command::new("dd");
        cat.arg(format!(
            "if={}",
            h.tile
                .path(&format!("tile/SE/batch/svc/{}", svc + 20))
                .display()
        ))
        .arg("bs=4096")
        .arg("count=1");
        let took = time_to_die(cat, sig);
        assert!(
            took < Duration::from_secs(1),
            "reader: signal {sig} took {took:?}"
        );
        // A blocked writer of a batched file (sh's printf is a builtin).
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "printf '\\004\\200\\{svc:03o}xy' > {}",
            h.tile.path(&format!("tile/ET/batch/svc/{svc}")).display()
        ));
        let took = time_to_die(cmd, sig);
        assert!(
            took < Duration::from_secs(1),
            "writer: signal {sig} took {took:?}"
        );
    }
    // Every packet taken is on its way, none dropped.
    assert_eq!(h.tile.counter(Dir::ET, "drop_queue_full"), 0);
    let _ = h.pru1.take();
    assert!(!h.pru0.take().is_empty(), "the PRU got the packets");
}

#[test]
fn a_batched_mfm_file_goes_stale_with_a_physics_change() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let a = g.tile(0);
    let f = open(&a.path("itc/batch/mfm"), O_NB).unwrap();
    assert_eq!(
        read_packet(&f, 64).unwrap(),
        [3, 0xc4, 0x01, Dir::ET.dir8()]
    );
    std::fs::write(a.path("itc/physics"), "other\n").unwrap();
    assert_eq!(errno(&read_packet(&f, 4096)), libc::ESTALE);
    assert_eq!(
        errno(&write_packet(&f, &[2, mfm_hdr(Dir::ET), 1])),
        libc::ESTALE
    );
    assert_ne!(poll_fd(&f, libc::POLLIN, 0) & libc::POLLERR, 0);
    drop(f);
    // Reopened, it works again (the neighbour now has another physics).
    let f = open(&a.path("itc/batch/mfm"), O_NB).unwrap();
    assert_eq!(
        errno(&write_packet(&f, &[2, mfm_hdr(Dir::ET), 1])),
        libc::EHOSTUNREACH,
        "no neighbour with the same physics"
    );
}

#[test]
fn packets_lost_at_a_full_batched_reader_are_told_in_stream() {
    let mut spec = GridSpec::pair();
    spec.extra_args[1] = vec!["--queue-bytes".into(), "1024".into()];
    let g = Grid::start(spec);
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let rx = open(&b.path("tile/WT/batch/mfm"), O_NB).unwrap();
    assert_eq!(read_packet(&rx, 64).unwrap(), [2, 0xc4, 0x01]);
    let tx = open(&a.path("tile/ET/batch/mfm"), O_RDWR).unwrap();
    let pkt = |i: u8| {
        let mut p = vec![0xa0, i];
        p.resize(100, i);
        p
    };
    // Twenty packets of 100 bytes for a queue of 1024: ten fit.
    let sent: Vec<Vec<u8>> = (0..20).map(pkt).collect();
    assert_eq!(write_packet(&tx, &batch(&sent)).unwrap(), 20 * 101);
    eventually!(
        b.counter(Dir::WT, "drop_queue_full") == 10,
        "ten dropped\n{}",
        g.dump()
    );
    let first = items(&read_packet(&rx, 65536).unwrap());
    assert_eq!(first.len(), 10, "the ten that fit, in one read");
    write_packet(&tx, &batch(&[pkt(99)])).unwrap();
    assert_ne!(poll_fd(&rx, libc::POLLIN, 10_000) & libc::POLLIN, 0);
    // Packets lost (0xc4 0x04 dir8, a count of 32 bits little-endian),
    // queued with the next packet from WT, in the same read.
    let mut arrived = pkt(99);
    arrived[0] = mfm_hdr(Dir::WT);
    assert_eq!(
        items(&read_packet(&rx, 65536).unwrap()),
        [vec![0xc4, 0x04, Dir::WT.dir8(), 10, 0, 0, 0], arrived]
    );
}
