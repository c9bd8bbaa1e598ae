//! The FUSE tree (`docs/reference.md`), exercised through real mounts of real `itcd`
//! processes with the syscalls a user would make.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;

use common::*;
use itc_proto::Dir;

const O_RDWR: i32 = libc::O_RDWR;
const O_NB: i32 = libc::O_RDWR | libc::O_NONBLOCK;

/// MFM header from direction `d` (MFMT set).
fn mfm_hdr(d: Dir) -> u8 {
    0xa0 | d.dir8()
}

/// Service header byte 0 for direction `d`.
fn svc_hdr(d: Dir) -> u8 {
    0x80 | d.dir8()
}

#[test]
fn neighbours_appear_in_status_files() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let a = g.tile(0);
    assert_eq!(a.dir_status(Dir::ET, "dir"), "ET");
    assert_eq!(a.dir_status(Dir::ET, "link"), "up");
    assert_eq!(a.dir_status(Dir::ET, "peer_name"), "B");
    assert_eq!(a.dir_status(Dir::ET, "physics"), "compatible");
    assert!(
        a.dir_status(Dir::ET, "since").contains('T'),
        "RFC 3339 time"
    );
    assert_eq!(a.dir_status(Dir::SE, "link"), "down");
    assert_eq!(a.dir_status(Dir::SE, "peer"), "absent");
    // Every counter `docs/reference.md` lists: traffic split mfm/svc and
    // one per drop reason.
    for key in [
        "rx_mfm_packets",
        "rx_mfm_bytes",
        "rx_svc_packets",
        "rx_svc_bytes",
        "tx_mfm_packets",
        "tx_mfm_bytes",
        "tx_svc_packets",
        "tx_svc_bytes",
        "drop_no_reader",
        "drop_queue_full",
        "drop_eror",
        "drop_incompatible",
        "drop_link_down",
        "drop_malformed",
    ] {
        let value = a.dir_status(Dir::ET, key);
        assert!(value.parse::<u64>().is_ok(), "{key}: {value:?}");
    }
    let table = a.read_to_string("itc/status");
    let et_row = table
        .lines()
        .find(|l| l.starts_with("ET "))
        .expect("ET row");
    assert!(
        et_row.contains("up") && et_row.contains("present") && et_row.contains(" B "),
        "{et_row}"
    );
    assert_eq!(table.lines().count(), 7, "header and six rows:\n{table}");
    assert_eq!(a.status_value("itc/self", "name"), "A");
    assert!(!a.status_value("itc/self", "version").is_empty());
}

#[test]
fn mfm_packets_cross_one_per_read_with_direction_rewritten() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let tx = open(&g.tile(0).path("tile/ET/mfm"), O_RDWR).unwrap();
    let rx = open(&g.tile(1).path("itc/mfm"), O_RDWR).unwrap();
    // DIR bits in tile/<D> files are filled in by itcd.
    let payloads: Vec<Vec<u8>> = (1..=20u8)
        .map(|i| (0..i * 7).map(|b| b ^ i).collect())
        .collect();
    for p in &payloads {
        let mut pkt = vec![0xa0];
        pkt.extend_from_slice(p);
        assert_eq!(write_packet(&tx, &pkt).unwrap(), pkt.len());
    }
    let mut teps = Vec::new();
    for p in &payloads {
        let got = read_data_or(&rx, &mut teps, || g.dump());
        assert_eq!(got[0], mfm_hdr(Dir::WT), "arrived from WT");
        assert_eq!(&got[1..], &p[..]);
    }
    assert_eq!(
        teps,
        vec![vec![0xc4, 0x01, Dir::WT.dir8()]],
        "snapshot Connect first"
    );
    let b = g.tile(1);
    eventually!(b.counter(Dir::WT, "rx_mfm_packets") == 20, "rx counted");
    assert!(g.tile(0).counter(Dir::ET, "tx_mfm_packets") >= 20);
}

#[test]
fn service_packets_route_to_tile_file_before_itc_file() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let tx = open(&g.tile(0).path("itc/svc/20"), O_RDWR).unwrap();
    let itc = open(&g.tile(1).path("itc/svc/20"), O_NB).unwrap();
    let tile = open(&g.tile(1).path("tile/WT/svc/20"), O_NB).unwrap();
    assert_eq!(
        next_packet(&tile),
        vec![0xc4, 0x01],
        "tile files carry TEPs without dir"
    );
    assert_eq!(next_packet(&itc), vec![0xc4, 0x01, Dir::WT.dir8()]);
    write_packet(&tx, &[svc_hdr(Dir::ET), 20, b'h', b'i']).unwrap();
    assert_eq!(next_packet(&tile), vec![svc_hdr(Dir::WT), 20, b'h', b'i']);
    assert_eq!(
        errno(&read_packet(&itc, 256)),
        libc::EAGAIN,
        "itc file gets nothing"
    );
    // With no tile file open for a service, the itc file takes it.
    let tx21 = open(&g.tile(0).path("itc/svc/21"), O_RDWR).unwrap();
    let itc21 = open(&g.tile(1).path("itc/svc/21"), O_NB).unwrap();
    assert_eq!(next_packet(&itc21), vec![0xc4, 0x01, Dir::WT.dir8()]);
    write_packet(&tx21, &[svc_hdr(Dir::ET), 21, b'2']).unwrap();
    assert_eq!(next_packet(&itc21), vec![svc_hdr(Dir::WT), 21, b'2']);
}

#[test]
fn write_only_holders_keep_the_file_but_do_not_take_inbound_packets() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    // B's sender holds tile/WT/svc/44 for writing only (as `itc send` does).
    let sender = open(&b.path("tile/WT/svc/44"), libc::O_WRONLY).unwrap();
    assert_eq!(
        errno(&open(&b.path("tile/WT/svc/44"), O_RDWR)),
        libc::EBUSY,
        "still exclusive"
    );
    let rx = open(&b.path("itc/svc/44"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    assert_eq!(next_packet(&rx), vec![0xc4, 0x01, Dir::WT.dir8()]);
    let peer = open(&a.path("itc/svc/44"), O_RDWR).unwrap();
    assert_eq!(next_packet(&peer), vec![0xc4, 0x01, Dir::ET.dir8()]);
    write_packet(&peer, &[svc_hdr(Dir::ET), 44, 1]).unwrap();
    assert_eq!(
        next_packet(&rx),
        vec![svc_hdr(Dir::WT), 44, 1],
        "the reader gets it, not the write-only tile file"
    );
    write_packet(&sender, &[0x80, 44, 2]).unwrap();
    assert_eq!(next_packet(&peer), vec![svc_hdr(Dir::ET), 44, 2]);
    // With only a write-only holder, a packet is a counted drop.
    let _sender45 = open(&b.path("tile/WT/svc/45"), libc::O_WRONLY).unwrap();
    let before = b.counter(Dir::WT, "drop_no_reader");
    write_packet(
        &open(&a.path("itc/svc/45"), libc::O_WRONLY).unwrap(),
        &[svc_hdr(Dir::ET), 45, 3],
    )
    .unwrap();
    eventually!(
        b.counter(Dir::WT, "drop_no_reader") == before + 1,
        "no reader counted\n{}",
        g.dump()
    );
}

#[test]
fn write_errors_follow_the_spec() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let a = g.tile(0);
    let mfm = open(&a.path("itc/mfm"), O_NB).unwrap();
    let svc = open(&a.path("itc/svc/16"), O_NB).unwrap();
    let et_svc = open(&a.path("tile/ET/svc/16"), O_NB).unwrap();
    let se_mfm = open(&a.path("tile/SE/mfm"), O_NB).unwrap();
    let einval: &[(&std::fs::File, &[u8], &str)] = &[
        (&mfm, &[0xc4, 1], "local header"),
        (&mfm, &[0x41], "non-standard header"),
        (&mfm, &[svc_hdr(Dir::ET), 16], "MFMT clear on mfm"),
        (&svc, &[mfm_hdr(Dir::ET), 16], "MFMT set on svc"),
        (&svc, &[svc_hdr(Dir::ET), 17], "other service"),
        (&svc, &[svc_hdr(Dir::ET), 0], "service 0"),
        (&svc, &[svc_hdr(Dir::ET), 0x40 | 16], "reserved bit"),
        (&svc, &[svc_hdr(Dir::ET)], "no service byte"),
        (&svc, &[0x80, 16], "DIR NT"),
        (&svc, &[0x84, 16], "DIR ST"),
        (&mfm, &[0xa0 | 0x10 | 2, 1], "OVRN set"),
        (&mfm, &[0xa0 | 0x08 | 2, 1], "EROR set"),
        (&mfm, &[0xa0, 1], "mfm DIR NT"),
        (&svc, &[svc_hdr(Dir::ET), 0x80 | 16], "other reserved bit"),
        (&se_mfm, &[0x82, 1], "tile file, MFMT clear"),
        (&et_svc, &[svc_hdr(Dir::ET), 9], "tile file, other service"),
    ];
    for (f, pkt, why) in einval {
        assert_eq!(errno(&write_packet(f, pkt)), libc::EINVAL, "{why}");
    }
    assert_eq!(
        errno(&write_packet(&mfm, &[mfm_hdr(Dir::ET); 256])),
        libc::EMSGSIZE
    );
    assert_eq!(errno(&write_packet(&et_svc, &[0x80; 256])), libc::EMSGSIZE);
    assert_eq!(
        errno(&write_packet(&mfm, &[mfm_hdr(Dir::SE), 1])),
        libc::EHOSTUNREACH
    );
    assert_eq!(
        errno(&write_packet(&se_mfm, &[0xa0, 1])),
        libc::EHOSTUNREACH
    );
    // Any DIR in a tile file is replaced by the file's direction.
    assert_eq!(write_packet(&et_svc, &[0x80 | 5, 16, 1]).unwrap(), 3);
    assert_eq!(write_packet(&mfm, &[mfm_hdr(Dir::ET); 255]).unwrap(), 255);
}

#[test]
fn reads_block_or_fail_eagain_and_small_buffers_keep_the_packet() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let tx = open(&g.tile(0).path("tile/ET/svc/30"), O_RDWR).unwrap();
    let rx = open(&g.tile(1).path("tile/WT/svc/30"), O_NB).unwrap();
    assert_eq!(read_packet(&rx, 2).unwrap(), vec![0xc4, 0x01]);
    assert_eq!(errno(&read_packet(&rx, 256)), libc::EAGAIN);
    write_packet(&tx, &[0x80, 30, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert!(poll_fd(&rx, libc::POLLIN, 10_000) & libc::POLLIN != 0);
    assert_eq!(errno(&read_packet(&rx, 4)), libc::EMSGSIZE);
    assert_eq!(errno(&read_packet(&rx, 9)), libc::EMSGSIZE);
    assert_eq!(
        read_packet(&rx, 10).unwrap().len(),
        10,
        "still queued after EMSGSIZE"
    );
    // A blocking reader is woken by the next packet.
    let path = g.tile(1).path("itc/svc/31");
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let f = open(&path, O_RDWR).unwrap();
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        let mut first = read_packet(&f, 256).unwrap();
        while first[0] == 0xc4 {
            first = read_packet(&f, 256).unwrap();
        }
        let _ = got_tx.send(first);
    });
    let tx31 = open(&g.tile(0).path("itc/svc/31"), O_RDWR).unwrap();
    let tid = tid_rx.recv().unwrap();
    let wchan = format!("/proc/self/task/{tid}/wchan");
    eventually!(
        std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("request_wait_answer")),
        "reader blocked in read()"
    );
    write_packet(&tx31, &[svc_hdr(Dir::ET), 31, 0xee]).unwrap();
    // The deadline is kept here: a reader still blocked at the end is
    // released when the grid stops.
    let got = got_rx
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("the blocked reader got nothing\n{}", g.dump()));
    assert_eq!(got, vec![svc_hdr(Dir::WT), 31, 0xee]);
}

#[test]
fn exclusive_files_refuse_a_second_open_and_events_do_not() {
    let g = Grid::start(GridSpec::pair());
    let a = g.tile(0);
    for rel in ["itc/mfm", "itc/svc/02", "tile/NE/mfm", "tile/SW/svc/63"] {
        let first = open(&a.path(rel), O_RDWR).unwrap();
        assert_eq!(errno(&open(&a.path(rel), O_RDWR)), libc::EBUSY, "{rel}");
        drop(first);
        open(&a.path(rel), O_RDWR).unwrap();
    }
    // Closing and reopening at once never sees EBUSY, although the release
    // of the closed file reaches the daemon asynchronously.
    for _ in 0..200 {
        let f = open(&a.path("itc/svc/09"), O_RDWR).expect("reopen after close");
        drop(f);
    }
    let _e1 = open(&a.path("itc/events"), libc::O_RDONLY).unwrap();
    let _e2 = open(&a.path("itc/events"), libc::O_RDONLY).unwrap();
    let _e3 = open(&a.path("tile/ET/events"), libc::O_RDONLY).unwrap();
    assert_eq!(
        errno(&open(&a.path("itc/svc/01"), O_RDWR)),
        libc::ENOENT,
        "hello is itcd's"
    );
    assert_eq!(errno(&open(&a.path("itc/svc/64"), O_RDWR)), libc::ENOENT);
}

#[test]
fn poll_reports_readable_and_writable() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let rx = open(&g.tile(1).path("tile/WT/mfm"), O_NB).unwrap();
    assert_eq!(read_packet(&rx, 8).unwrap(), vec![0xc4, 0x01]);
    let ev = poll_fd(&rx, libc::POLLIN | libc::POLLOUT, 0);
    assert_eq!(ev & libc::POLLIN, 0, "nothing queued");
    assert_ne!(ev & libc::POLLOUT, 0, "writable");
    let tx = open(&g.tile(0).path("itc/mfm"), O_RDWR).unwrap();
    write_packet(&tx, &[mfm_hdr(Dir::ET), 42]).unwrap();
    let ev = poll_fd(&rx, libc::POLLIN, 10_000);
    assert_ne!(ev & libc::POLLIN, 0, "readable once a packet is queued");
    assert_eq!(read_packet(&rx, 8).unwrap(), vec![mfm_hdr(Dir::WT), 42]);
    assert_eq!(poll_fd(&rx, libc::POLLIN, 0) & libc::POLLIN, 0);
}

/// `epoll_wait(2)` on one registered descriptor; returns the events.
fn epoll_once(ep: i32, timeout_ms: i32) -> u32 {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: ev is a valid array of one epoll_event for the call.
    let n = unsafe { libc::epoll_wait(ep, &mut ev, 1, timeout_ms) };
    if n == 1 {
        ev.events
    } else {
        0
    }
}

/// `select(2)` on one descriptor for reading (or writing); whether it is ready.
fn select_fd(f: &std::fs::File, read: bool, timeout: std::time::Duration) -> bool {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    assert!(fd < libc::FD_SETSIZE as i32);
    // SAFETY: fd_set is plain data, initialised by FD_ZERO before use; the
    // descriptor is open and below FD_SETSIZE; every pointer is valid for
    // the call.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut set);
        libc::FD_SET(fd, &mut set);
        let mut tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        let (r, w) = if read {
            (&mut set as *mut libc::fd_set, std::ptr::null_mut())
        } else {
            (std::ptr::null_mut(), &mut set as *mut libc::fd_set)
        };
        libc::select(fd + 1, r, w, std::ptr::null_mut(), &mut tv) == 1 && libc::FD_ISSET(fd, &set)
    }
}

#[test]
fn epoll_and_select_report_readiness_and_packet_files_do_not_seek() {
    use std::os::fd::AsRawFd;
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let rx = open(&g.tile(1).path("tile/WT/svc/24"), O_NB).unwrap();
    assert_eq!(read_packet(&rx, 8).unwrap(), vec![0xc4, 0x01]);
    for f in [
        &rx,
        &open(&g.tile(1).path("itc/events"), libc::O_RDONLY).unwrap(),
    ] {
        // SAFETY: lseek on a descriptor this test owns.
        let at = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_SET) };
        let e = std::io::Error::last_os_error().raw_os_error();
        assert_eq!((at, e), (-1, Some(libc::ESPIPE)), "not seekable");
    }
    // SAFETY: epoll_create1 has no preconditions; the descriptor is closed below.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let mut want = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 1,
    };
    // SAFETY: ep and rx are open descriptors; want is a valid epoll_event.
    let rc = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, rx.as_raw_fd(), &mut want) };
    assert_eq!(rc, 0);
    assert_eq!(epoll_once(ep, 0), 0, "nothing queued");
    let tx = open(&g.tile(0).path("tile/ET/svc/24"), O_RDWR).unwrap();
    for i in 1..=2u8 {
        write_packet(&tx, &[0x80, 24, i]).unwrap();
        let ev = epoll_once(ep, DEADLINE.as_millis() as i32);
        assert_ne!(ev & libc::EPOLLIN as u32, 0, "edge for packet {i}");
        assert_eq!(read_packet(&rx, 8).unwrap(), vec![svc_hdr(Dir::WT), 24, i]);
        assert_eq!(epoll_once(ep, 0), 0, "no edge without a new packet");
    }
    // SAFETY: ep is ours and not used after this.
    unsafe { libc::close(ep) };

    write_packet(&tx, &[0x80, 24, 3]).unwrap();
    assert!(select_fd(&rx, true, DEADLINE), "select: readable");
    assert!(select_fd(&rx, false, DEADLINE), "select: writable");
    assert_eq!(read_packet(&rx, 8).unwrap(), vec![svc_hdr(Dir::WT), 24, 3]);
}

#[test]
fn cut_and_restore_deliver_teps_in_order_with_the_data() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let ev_all = open(&a.path("itc/events"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let ev_et = open(&a.path("tile/ET/events"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let rx = open(&a.path("itc/svc/40"), O_NB).unwrap();
    let tx = open(&b.path("tile/WT/svc/40"), O_RDWR).unwrap();
    assert_eq!(
        next_packet(&ev_all),
        vec![0xc4, 0x01, Dir::ET.dir8()],
        "snapshot"
    );
    assert_eq!(next_packet(&ev_et), vec![0xc4, 0x01]);
    assert_eq!(next_packet(&rx), vec![0xc4, 0x01, Dir::ET.dir8()]);
    write_packet(&tx, &[0x80, 40, 1]).unwrap();
    eventually!(
        poll_fd(&rx, libc::POLLIN, 0) & libc::POLLIN != 0,
        "data arrived before the cut"
    );

    g.sim().cut(g.ids[0], Dir::ET);
    eventually!(a.dir_status(Dir::ET, "link") == "down", "A sees the cut");
    assert_eq!(
        a.counter(Dir::ET, "timeouts"),
        1,
        "the cut arrives as a timeout: no clock"
    );
    eventually!(b.dir_status(Dir::WT, "link") == "down", "B sees the cut");
    assert_eq!(a.dir_status(Dir::ET, "peer"), "absent");
    assert_eq!(
        errno(&write_packet(&tx, &[0x80, 40, 2])),
        libc::EHOSTUNREACH
    );
    assert_eq!(
        next_packet(&rx),
        vec![0x80 | Dir::ET.dir8(), 40, 1],
        "data before Disconnect"
    );
    assert_eq!(next_packet(&rx), vec![0xc4, 0x02, Dir::ET.dir8()]);
    assert_eq!(next_packet(&ev_all), vec![0xc4, 0x02, Dir::ET.dir8()]);
    assert_eq!(next_packet(&ev_et), vec![0xc4, 0x02]);

    g.sim().restore(g.ids[0], Dir::ET);
    g.wait_pair();
    assert_eq!(next_packet(&ev_all), vec![0xc4, 0x01, Dir::ET.dir8()]);
    assert_eq!(next_packet(&rx), vec![0xc4, 0x01, Dir::ET.dir8()]);
    write_packet(&tx, &[0x80, 40, 3]).unwrap();
    assert_eq!(next_packet(&rx), vec![0x80 | Dir::ET.dir8(), 40, 3]);
}

#[test]
fn full_reader_queue_drops_are_counted_and_the_disconnect_still_follows_the_data() {
    let mut spec = GridSpec::pair();
    spec.extra_args[1] = vec!["--queue-bytes".into(), "1024".into()];
    let g = Grid::start(spec);
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let rx = open(&b.path("itc/svc/41"), O_NB).unwrap();
    let tx = open(&a.path("tile/ET/svc/41"), O_RDWR).unwrap();
    let before = b.counter(Dir::WT, "drop_queue_full");
    // The Connect (3 bytes) and four 255-byte packets fill 1024 bytes.
    for i in 0..20u8 {
        let mut p = vec![0x80, 41, i];
        p.resize(255, i);
        write_packet(&tx, &p).unwrap();
    }
    eventually!(
        b.counter(Dir::WT, "drop_queue_full") == before + 16,
        "the reader's queue is bounded and its drops counted\n{}",
        g.dump()
    );
    g.sim().cut(g.ids[0], Dir::ET);
    eventually!(b.dir_status(Dir::WT, "peer") == "absent", "B sees the cut");
    let mut got = Vec::new();
    while let Ok(p) = read_packet(&rx, 256) {
        got.push(p);
    }
    let heads: Vec<&[u8]> = got.iter().map(|p| &p[..p.len().min(3)]).collect();
    let want: Vec<&[u8]> = vec![
        &[0xc4, 0x01, 6],
        &[0x86, 41, 0],
        &[0x86, 41, 1],
        &[0x86, 41, 2],
        &[0x86, 41, 3],
        &[0xc4, 0x02, 6],
    ];
    assert_eq!(heads, want, "the Disconnect is not lost behind the data");
}

#[test]
fn silent_neighbour_becomes_absent_and_returns() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let a = g.tile(0);
    let ev = open(&a.path("tile/ET/events"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    assert_eq!(next_packet(&ev), vec![0xc4, 0x01]);
    // Freeze B: the link keeps sync but hellos stop.
    signal(g.tile(1).pid(), libc::SIGSTOP);
    assert_eq!(
        next_packet(&ev),
        vec![0xc4, 0x02],
        "Disconnect after the absence timeout"
    );
    assert_eq!(a.dir_status(Dir::ET, "link"), "up");
    assert_eq!(a.dir_status(Dir::ET, "peer"), "absent");
    signal(g.tile(1).pid(), libc::SIGCONT);
    assert_eq!(
        next_packet(&ev),
        vec![0xc4, 0x01],
        "Connect when hellos resume"
    );
}

#[test]
fn damaged_overrun_and_unread_packets_are_counted() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let rx = open(&a.path("itc/svc/50"), O_NB).unwrap();
    assert_eq!(next_packet(&rx), vec![0xc4, 0x01, Dir::ET.dir8()]);
    let tx = open(&b.path("itc/svc/50"), O_RDWR).unwrap();
    g.sim().damage_next(g.ids[1], Dir::WT, 3);
    for i in 0..3 {
        write_packet(&tx, &[svc_hdr(Dir::WT), 50, i]).unwrap();
    }
    eventually!(a.counter(Dir::ET, "drop_eror") == 3, "EROR drops counted");
    assert_eq!(
        errno(&read_packet(&rx, 256)),
        libc::EAGAIN,
        "no damaged packet delivered"
    );

    g.sim().overrun_next(g.ids[1], Dir::WT, 1);
    write_packet(&tx, &[svc_hdr(Dir::WT), 50, 9]).unwrap();
    assert_eq!(
        next_packet(&rx),
        vec![svc_hdr(Dir::ET), 50, 9],
        "OVRN cleared"
    );
    assert_eq!(a.counter(Dir::ET, "overruns"), 1);

    write_packet(
        &open(&b.path("itc/svc/51"), O_RDWR).unwrap(),
        &[svc_hdr(Dir::WT), 51],
    )
    .unwrap();
    eventually!(
        a.counter(Dir::ET, "drop_no_reader") == 1,
        "no reader counted"
    );
}

#[test]
fn malformed_pru_messages_are_counted_not_fatal() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let a = g.tile(0);
    let sim = g.sim();
    let id = g.ids[0];
    use itc_proto::Pru;
    // Service 0, a truncated hello, a packet for a direction of the other
    // PRU, garbage local types and an over-long message.
    sim.inject(id, Pru::Pru0, vec![0x80 | Dir::ET.dir8(), 0]);
    sim.inject(id, Pru::Pru0, vec![0x80 | Dir::ET.dir8(), 1, 1, 200]);
    sim.inject(id, Pru::Pru0, vec![0xa0 | Dir::WT.dir8(), 1]);
    sim.inject(id, Pru::Pru0, vec![0xff, 0xff]);
    sim.inject(id, Pru::Pru0, vec![0xc3, b'Z', 2]);
    sim.inject(id, Pru::Pru0, vec![0xa0 | Dir::ET.dir8(); 300]);
    eventually!(
        a.counter(Dir::ET, "drop_malformed") == 2,
        "two malformed in ET"
    );
    eventually!(
        a.status_value("itc/self", "pru0_malformed")
            .parse::<u64>()
            .unwrap_or(0)
            >= 3,
        "unattributable ones counted per PRU"
    );
    assert_eq!(a.dir_status(Dir::ET, "peer"), "present", "still serving");
}

#[test]
fn echo_requests_are_answered_by_the_far_itcd() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let f = open(&g.tile(0).path("itc/svc/02"), O_RDWR).unwrap();
    assert_eq!(next_packet(&f), vec![0xc4, 0x01, Dir::ET.dir8()]);
    write_packet(&f, &[svc_hdr(Dir::ET), 2, 1, 0xde, 0xad]).unwrap();
    assert_eq!(next_packet(&f), vec![svc_hdr(Dir::ET), 2, 2, 0xde, 0xad]);
}

#[test]
fn physics_change_makes_open_mfm_files_stale() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let a = g.tile(0);
    let mfm = open(&a.path("itc/mfm"), O_NB).unwrap();
    let tile_mfm = open(&a.path("tile/ET/mfm"), O_NB).unwrap();
    let svc = open(&a.path("itc/svc/20"), O_NB).unwrap();
    std::fs::write(a.path("itc/physics"), "wildfire\n").unwrap();
    assert_eq!(a.read_to_string("itc/physics"), "wildfire\n");
    assert_eq!(a.status_value("itc/self", "physics"), "wildfire");
    assert_eq!(errno(&read_packet(&mfm, 256)), libc::ESTALE);
    assert_eq!(
        errno(&write_packet(&mfm, &[mfm_hdr(Dir::ET), 1])),
        libc::ESTALE
    );
    assert_eq!(errno(&read_packet(&tile_mfm, 256)), libc::ESTALE);
    assert_ne!(
        poll_fd(&mfm, libc::POLLIN, 0) & libc::POLLERR,
        0,
        "poll reports the error"
    );
    // A reader blocked in read() when the physics changes gets ESTALE too.
    let blocked = open(&g.tile(1).path("itc/mfm"), O_RDWR).unwrap();
    assert_eq!(next_packet(&blocked), vec![0xc4, 0x01, Dir::WT.dir8()]);
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        let _ = got_tx.send(errno(&read_packet(&blocked, 256)));
    });
    let wchan = format!("/proc/self/task/{}/wchan", tid_rx.recv().unwrap());
    eventually!(
        std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("request_wait_answer")),
        "reader blocked in read()"
    );
    std::fs::write(g.tile(1).path("itc/physics"), "firestorm").unwrap();
    // A reader still blocked at the end is released when the grid stops.
    assert_eq!(
        got_rx.recv_timeout(DEADLINE),
        Ok(libc::ESTALE),
        "the blocked read fails"
    );
    std::fs::write(g.tile(1).path("itc/physics"), "").unwrap();
    assert_eq!(
        read_packet(&svc, 256).unwrap()[0],
        0xc4,
        "service files unaffected"
    );
    drop(mfm);
    let mfm = open(&a.path("itc/mfm"), O_NB).unwrap();
    eventually!(
        a.dir_status(Dir::ET, "physics") == "incompatible",
        "B still runs the old physics"
    );
    assert_eq!(
        errno(&write_packet(&mfm, &[mfm_hdr(Dir::ET), 1])),
        libc::EHOSTUNREACH
    );
    std::fs::write(g.tile(1).path("itc/physics"), "wildfire").unwrap();
    eventually!(
        a.dir_status(Dir::ET, "physics") == "compatible",
        "same physics again"
    );
    assert_eq!(write_packet(&mfm, &[mfm_hdr(Dir::ET), 1]).unwrap(), 2);
    assert_eq!(
        errno(&std::fs::write(a.path("itc/physics"), "bad\u{7}id")),
        libc::EINVAL
    );

    // A stale tile/ET/mfm, still open, no longer takes ET's packets: the
    // fresh itc/mfm does, and with none, they count as having no reader.
    let b_mfm = open(&g.tile(1).path("itc/mfm"), O_NB).unwrap();
    write_packet(&b_mfm, &[mfm_hdr(Dir::WT), 7]).unwrap();
    let mut teps = Vec::new();
    assert_eq!(
        read_data(&mfm, &mut teps),
        vec![mfm_hdr(Dir::ET), 7],
        "delivered past the stale tile/ET/mfm"
    );
    drop(mfm);
    let no_reader = a.counter(Dir::ET, "drop_no_reader");
    let incompatible = a.counter(Dir::ET, "drop_incompatible");
    write_packet(&b_mfm, &[mfm_hdr(Dir::WT), 8]).unwrap();
    eventually!(
        a.counter(Dir::ET, "drop_no_reader") == no_reader + 1,
        "dropped for want of a reader"
    );
    assert_eq!(a.counter(Dir::ET, "drop_incompatible"), incompatible);
    assert_eq!(
        errno(&read_packet(&tile_mfm, 256)),
        libc::ESTALE,
        "still stale"
    );
}

#[test]
fn slow_events_reader_gets_events_lost() {
    let mut spec = GridSpec::pair();
    spec.extra_args[0] = vec!["--queue-bytes".into(), "64".into()];
    let g = Grid::start(spec);
    g.wait_pair();
    let a = g.tile(0);
    let ev = open(&a.path("itc/events"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    for _ in 0..15 {
        g.sim().cut(g.ids[0], Dir::ET);
        eventually!(a.dir_status(Dir::ET, "peer") == "absent", "cut");
        g.sim().restore(g.ids[0], Dir::ET);
        eventually!(a.dir_status(Dir::ET, "peer") == "present", "restored");
    }
    let mut got = Vec::new();
    while let Ok(p) = read_packet(&ev, 16) {
        got.push(p);
    }
    assert!(got.len() < 31, "bounded: {} events queued", got.len());
    assert_eq!(
        got.iter().filter(|p| p[..] == [0xc4, 0x03]).count(),
        1,
        "one marker: {got:02x?}"
    );
    assert_eq!(got.last().map(|p| &p[..]), Some(&[0xc4, 0x03][..]));
}

#[test]
fn permissions_and_ownership_follow_the_spec() {
    let mut spec = GridSpec::pair();
    spec.extra_args[0] = vec!["--group".into(), "12345".into()];
    let g = Grid::start(spec);
    let a = g.tile(0);
    let mode = |rel: &str| std::fs::metadata(a.path(rel)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("itc/mfm"), 0o660);
    assert_eq!(mode("itc/svc/08"), 0o660);
    assert_eq!(mode("tile/NW/svc/63"), 0o660);
    assert_eq!(mode("itc/status"), 0o444);
    assert_eq!(mode("itc/self"), 0o444);
    assert_eq!(mode("itc/events"), 0o444);
    assert_eq!(mode("tile/SE/status"), 0o444);
    assert_eq!(mode("itc/physics"), 0o664);
    let meta = std::fs::metadata(a.path("itc/mfm")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 12345));
    // Packet files report the largest packet as their size; the rest 0.
    let size = |rel: &str| std::fs::metadata(a.path(rel)).unwrap().len();
    for rel in ["itc/mfm", "itc/svc/02", "tile/ET/mfm", "tile/NW/svc/63"] {
        assert_eq!(size(rel), 255, "{rel}");
    }
    for rel in [
        "itc/events",
        "tile/ET/events",
        "itc/status",
        "tile/ET/status",
    ] {
        assert_eq!(size(rel), 0, "{rel}");
    }
    assert_eq!((size("itc/self"), size("itc/physics")), (0, 0));
    let mut names: Vec<String> = std::fs::read_dir(a.path("tile"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ET", "NE", "NW", "SE", "SW", "WT"]);
    assert_eq!(std::fs::read_dir(a.path("itc/svc")).unwrap().count(), 62);
    assert!(mount_options(&a.mount).contains("allow_other"));
    assert!(mount_options(&a.mount).contains("default_permissions"));
    // Without --group: itc if it exists, else root.
    let itc = nix::unistd::Group::from_name("itc")
        .ok()
        .flatten()
        .map_or(0, |g| g.gid.as_raw());
    let meta = std::fs::metadata(g.tile(1).path("tile/ET/mfm")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, itc));
    // The kernel enforces the modes for other users (nobody, with and
    // without the tree's group).
    let as_user = |gid: u32, script: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .uid(65534)
            .gid(gid)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    let svc = a.path("itc/svc/30").display().to_string();
    let status = a.path("tile/ET/status").display().to_string();
    let physics = a.path("itc/physics").display().to_string();
    assert!(
        as_user(65534, &format!("test -d {}/itc", a.mount.display())),
        "the mount must be reachable by other users (a world-searchable TMPDIR)"
    );
    assert!(!as_user(65534, &format!("exec 3<>{svc}")), "others: no rw");
    assert!(!as_user(65534, &format!("exec 3<{svc}")), "others: no r");
    assert!(
        as_user(65534, &format!("exec 3<{status}")),
        "others read status"
    );
    assert!(
        !as_user(65534, &format!("exec 3>>{physics}")),
        "others: physics read-only"
    );
    assert!(as_user(12345, &format!("exec 3<>{svc}")), "group: rw");
    assert!(
        as_user(12345, &format!("exec 3>>{physics}")),
        "group writes physics"
    );
    assert!(
        !as_user(12345, &format!("exec 3>>{status}")),
        "status read-only"
    );
}

#[test]
fn the_fixed_tree_refuses_changes_with_eperm() {
    let g = Grid::start(GridSpec::pair());
    let a = g.tile(0);
    let eperm = |what: &str, r: std::io::Result<()>| {
        assert_eq!(errno(&r), libc::EPERM, "{what}: {r:?}");
    };
    let new = a.path("itc/new");
    eperm("create", std::fs::File::create(&new).map(drop));
    eperm(
        "create svc/64",
        std::fs::File::create(a.path("itc/svc/64")).map(drop),
    );
    eperm("mkdir", std::fs::create_dir(&new));
    eperm("unlink", std::fs::remove_file(a.path("itc/status")));
    eperm("rmdir", std::fs::remove_dir(a.path("itc/svc")));
    eperm("rename", std::fs::rename(a.path("itc/status"), &new));
    eperm("link", std::fs::hard_link(a.path("itc/status"), &new));
    eperm("symlink", std::os::unix::fs::symlink("status", &new));
    let fifo = std::ffi::CString::new(new.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) };
    let r = if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    };
    eperm("mkfifo", r);
    // O_CREAT on a name that exists opens it; with O_EXCL it fails EEXIST.
    let status = a.path("itc/status");
    assert_eq!(errno(&open(&status, libc::O_RDONLY | libc::O_CREAT)), 0);
    let excl = open(&status, libc::O_RDONLY | libc::O_CREAT | libc::O_EXCL);
    assert_eq!(errno(&excl), libc::EEXIST);
    assert_eq!(a.status_value("itc/self", "name"), "A", "still serving");
}

#[test]
fn directory_link_counts_are_two_plus_subdirectories() {
    let g = Grid::start(GridSpec::pair());
    let a = g.tile(0);
    let nlink = |rel: &str| std::fs::metadata(a.path(rel)).unwrap().nlink();
    assert_eq!(nlink(""), 4);
    assert_eq!(nlink("itc"), 4, "svc and batch");
    assert_eq!(nlink("itc/svc"), 2);
    assert_eq!(nlink("itc/batch"), 3, "batch/svc");
    assert_eq!(nlink("tile"), 8);
    assert_eq!(nlink("tile/SW"), 4);
    assert_eq!(nlink("tile/SW/svc"), 2);
    assert_eq!(nlink("tile/SW/batch/svc"), 2);
    assert_eq!(nlink("itc/status"), 1);
}

fn mount_options(path: &std::path::Path) -> String {
    let canon = std::fs::canonicalize(path).unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(&*canon.to_string_lossy()))
        .map(str::to_string)
        .unwrap_or_default()
}

#[test]
fn neighbour_returns_after_a_one_sided_sync_loss_without_waiting_for_its_hello() {
    let mut spec = GridSpec::pair();
    // Hellos every 5 s: presence after a restore must not wait for them.
    spec.hello_ms = 5000;
    spec.absent_ms = 20000;
    let g = Grid::start(spec);
    g.wait_pair();
    // Only B's PRU reports a frame error (sync lost, then regained): A
    // never saw the link go down, so only B's hello can ask A to answer.
    for _ in 0..3 {
        let sim = g.sim();
        sim.inject(
            g.ids[1],
            itc_proto::Pru::Pru1,
            vec![0xc3, b'F', Dir::WT.dir8()],
        );
        eventually!(
            g.tile(1).dir_status(Dir::WT, "peer") == "absent",
            "B lost sync"
        );
        assert_eq!(
            g.tile(0).dir_status(Dir::ET, "peer"),
            "present",
            "A saw nothing"
        );
        sim.inject(
            g.ids[1],
            itc_proto::Pru::Pru1,
            vec![0xc3, b'P', Dir::WT.dir8()],
        );
        let quick = wait_for(std::time::Duration::from_secs(2), || {
            g.tile(1).dir_status(Dir::WT, "peer") == "present"
        });
        assert!(
            quick,
            "B sees A again within 2 s, not after A's next hello\n{}",
            g.dump()
        );
    }
}

#[test]
fn a_flooded_link_blocks_the_writer_and_keeps_its_neighbour() {
    // A writer that keeps a 1 Mbit/s link full for over a second, with
    // hellos every 50 ms and absence after 400 ms: its writes must block
    // (here EAGAIN) rather than lose packets, and the hellos must still get
    // through, so that the neighbour never goes away.
    let mut spec = GridSpec::pair();
    spec.params.rate_bps = 1_000_000;
    spec.hello_ms = 50;
    spec.absent_ms = 400;
    let g = Grid::start(spec);
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let events = open(&a.path("tile/ET/events"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let rx = open(&b.path("tile/WT/svc/20"), O_NB).unwrap();
    let tx = open(&a.path("tile/ET/svc/20"), O_NB).unwrap();
    assert_eq!(next_packet(&rx), vec![0xc4, 0x01], "the Connect at open");
    let total: u16 = 600;
    let (mut sent, mut got, mut blocked) = (0u16, 0u16, 0u32);
    let end = std::time::Instant::now() + DEADLINE;
    while got < total {
        assert!(
            std::time::Instant::now() < end,
            "{got} of {total} packets in time\n{}",
            g.dump()
        );
        if sent < total {
            let mut p = vec![0x80, 20];
            p.extend_from_slice(&sent.to_le_bytes());
            p.resize(255, 0x5a);
            match write_packet(&tx, &p) {
                Ok(_) => sent += 1,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => blocked += 1,
                Err(e) => panic!("write of packet {sent}: {e}\n{}", g.dump()),
            }
        }
        loop {
            match read_packet(&rx, 256) {
                Ok(p) => {
                    assert_eq!(
                        p[..4],
                        [0x86, 20, got.to_le_bytes()[0], got.to_le_bytes()[1]],
                        "packet {got} (a TEP here is the neighbour going away)\n{}",
                        g.dump()
                    );
                    got += 1;
                }
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        if sent == total || blocked > 0 {
            poll_fd(&rx, libc::POLLIN, 10);
        }
    }
    assert!(blocked > 0, "the writer was never held back");
    for (t, d) in [(a, Dir::ET), (b, Dir::WT)] {
        for reason in ["drop_queue_full", "drop_absent", "drop_link_down"] {
            assert_eq!(t.counter(d, reason), 0, "{reason}\n{}", g.dump());
        }
    }
    assert_eq!(next_packet(&events), vec![0xc4, 0x01]);
    assert!(
        read_packet(&events, 256).is_err(),
        "A saw its neighbour go and come back\n{}",
        g.dump()
    );
}

#[test]
fn lost_hellos_are_asked_for_again_long_before_the_next_hello() {
    // Hellos every 30 s: after a cut, the hellos both ends send when the
    // link comes back arrive damaged. Each end must ask again soon rather
    // than leave its neighbour absent for 30 s.
    let mut spec = GridSpec::pair();
    spec.hello_ms = 30_000;
    spec.absent_ms = 100_000;
    let g = Grid::start(spec);
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    g.sim().cut(g.ids[0], Dir::ET);
    eventually!(
        a.dir_status(Dir::ET, "peer") == "absent" && b.dir_status(Dir::WT, "peer") == "absent",
        "both ends see the cut"
    );
    let eror = (
        a.counter(Dir::ET, "drop_eror"),
        b.counter(Dir::WT, "drop_eror"),
    );
    g.sim().damage_next(g.ids[0], Dir::ET, 1);
    g.sim().damage_next(g.ids[1], Dir::WT, 1);
    g.sim().restore(g.ids[0], Dir::ET);
    eventually!(
        a.counter(Dir::ET, "drop_eror") == eror.0 + 1
            && b.counter(Dir::WT, "drop_eror") == eror.1 + 1,
        "the first hellos after the restore arrive damaged\n{}",
        g.dump()
    );
    g.wait_pair();
}

/// Anonymous memory of `pages` pages for `writev` buffers placed on
/// chosen page boundaries; unmapped on drop.
struct Pages {
    base: *mut u8,
    len: usize,
}

impl Pages {
    fn new(pages: usize) -> Pages {
        let len = pages * page_size();
        // SAFETY: an anonymous private mapping with no address hint; the
        // result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        Pages {
            base: base.cast(),
            len,
        }
    }

    /// `bytes` copied to `offset`; the iovec that covers them.
    fn iovec(&mut self, offset: usize, bytes: &[u8]) -> libc::iovec {
        assert!(offset + bytes.len() <= self.len);
        // SAFETY: the range lies inside the mapping (checked above), which
        // nothing else references.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.base.add(offset), bytes.len()) };
        dst.copy_from_slice(bytes);
        libc::iovec {
            iov_base: dst.as_mut_ptr().cast(),
            iov_len: bytes.len(),
        }
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in new().
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// `writev(2)` of `iov` to `f`.
fn writev(f: &std::fs::File, iov: &[libc::iovec]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: every iovec points into a live mapping of its length.
    let n = unsafe { libc::writev(f.as_raw_fd(), iov.as_ptr(), iov.len() as i32) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[test]
fn a_writev_packet_goes_whole_however_its_buffers_lie_in_memory() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let tx = open(&g.tile(0).path("tile/ET/svc/20"), O_RDWR).unwrap();
    let rx = open(&g.tile(1).path("tile/WT/svc/20"), O_NB).unwrap();
    assert_eq!(next_packet(&rx), vec![0xc4, 0x01]);
    let page = page_size();
    let mut mem = Pages::new(600);
    let packet = |len: usize, tag: u8| -> Vec<u8> {
        let mut p = vec![0x80, 20];
        p.resize(len, tag);
        p
    };

    // The first buffer ends on a page boundary, the second straddles one:
    // three pages, which the kernel once split into two requests (the
    // first piece went out alone and the caller saw a short write).
    let p1 = packet(196, 1);
    let iov = [
        mem.iovec(page - 96, &p1[..96]),
        mem.iovec(3 * page - 2, &p1[96..]),
    ];
    assert_eq!(writev(&tx, &iov).unwrap(), 196);
    // 255 one-byte buffers, each on a page of its own.
    let p2 = packet(255, 2);
    let iov: Vec<libc::iovec> = (0..255)
        .map(|i| mem.iovec((5 + 2 * i) * page - 1, &p2[i..=i]))
        .collect();
    assert_eq!(writev(&tx, &iov).unwrap(), 255);
    // 256 bytes straddling 128 page boundaries: too long, refused whole.
    let p3 = packet(256, 3);
    let iov: Vec<libc::iovec> = (0..128)
        .map(|i| mem.iovec((5 + 2 * i) * page - 1, &p3[2 * i..2 * i + 2]))
        .collect();
    assert_eq!(errno(&writev(&tx, &iov)), libc::EMSGSIZE);
    let p4 = packet(3, 4);
    assert_eq!(write_packet(&tx, &p4).unwrap(), 3);

    // Exactly the whole packets arrive, DIR rewritten, nothing else.
    let from_et = |mut p: Vec<u8>| {
        p[0] = svc_hdr(Dir::WT);
        p
    };
    for want in [p1, p2, p4] {
        assert_eq!(next_packet(&rx), from_et(want));
    }
    assert_eq!(errno(&read_packet(&rx, 256)), libc::EAGAIN);
}

/// An MFM packet for `d` whose payload starts with `tag`, 255 bytes long.
fn big_mfm(d: Dir, tag: u8) -> Vec<u8> {
    let mut p = vec![mfm_hdr(d), tag];
    p.resize(255, tag);
    p
}

#[test]
fn a_busy_neighbour_cannot_crowd_out_another_and_losses_are_told_in_stream() {
    // A and C both neighbours of B: A at B's WT, C at B's ET.
    let spec = GridSpec {
        names: vec!["A", "B", "C"],
        links: vec![(0, Dir::ET, 1), (2, Dir::WT, 1)],
        extra_args: vec![vec![], vec!["--queue-bytes".into(), "2048".into()], vec![]],
        ..GridSpec::pair()
    };
    let g = Grid::start(spec);
    g.wait_present(1, Dir::WT);
    g.wait_present(1, Dir::ET);
    g.wait_present(0, Dir::ET);
    g.wait_present(2, Dir::WT);
    let (a, b, c) = (g.tile(0), g.tile(1), g.tile(2));
    let rx = open(&b.path("itc/mfm"), O_NB).unwrap();
    let from_a = open(&a.path("itc/mfm"), O_RDWR).unwrap();
    let from_c = open(&c.path("itc/mfm"), O_RDWR).unwrap();
    let dropped = b.counter(Dir::WT, "drop_queue_full");
    // A floods B's reader: with two neighbours present, A's share is half
    // of 2048 bytes, four packets of 255 (each costs 256).
    for i in 0..20 {
        write_packet(&from_a, &big_mfm(Dir::ET, i)).unwrap();
    }
    eventually!(
        b.counter(Dir::WT, "drop_queue_full") == dropped + 16,
        "A's excess dropped\n{}",
        g.dump()
    );
    // C still gets in.
    write_packet(&from_c, &big_mfm(Dir::WT, 100)).unwrap();
    eventually!(
        b.counter(Dir::ET, "rx_mfm_packets") >= 1,
        "C's packet taken\n{}",
        g.dump()
    );
    assert_eq!(b.counter(Dir::ET, "drop_queue_full"), 0, "C lost nothing");
    // Once B reads, A's next packet comes after a report of what A lost.
    let mut got: Vec<Vec<u8>> = (0..7).map(|_| next_packet(&rx)).collect();
    write_packet(&from_a, &big_mfm(Dir::ET, 200)).unwrap();
    got.extend((0..2).map(|_| next_packet(&rx)));
    let heads: Vec<[u8; 2]> = got.iter().map(|p| [p[0], p[1]]).collect();
    let (wt, et) = (mfm_hdr(Dir::WT), mfm_hdr(Dir::ET));
    let want = vec![
        [0xc4, 0x01], // Connect ET (C), snapshot in the order ET SE SW WT
        [0xc4, 0x01], // Connect WT (A)
        [wt, 0],
        [wt, 1],
        [wt, 2],
        [wt, 3],
        [et, 100],
        [0xc4, 0x04],
        [wt, 200],
    ];
    assert_eq!(heads, want, "{got:02x?}");
    assert_eq!(got[7], [0xc4, 0x04, Dir::WT.dir8(), 16, 0, 0, 0]);
    assert_eq!(errno(&read_packet(&rx, 256)), libc::EAGAIN);

    // A tile/<D> file has the whole bound, and names the direction too.
    drop(rx);
    let rx = open(&b.path("tile/WT/svc/30"), O_NB).unwrap();
    assert_eq!(next_packet(&rx), [0xc4, 0x01]);
    let tx = open(&a.path("tile/ET/svc/30"), O_RDWR).unwrap();
    let svc = |tag: u8| {
        let mut p = vec![0x80, 30, tag];
        p.resize(255, tag);
        p
    };
    let dropped = b.counter(Dir::WT, "drop_queue_full");
    for i in 0..12 {
        write_packet(&tx, &svc(i)).unwrap();
    }
    eventually!(
        b.counter(Dir::WT, "drop_queue_full") == dropped + 4,
        "8 of 12 fit 2048 bytes\n{}",
        g.dump()
    );
    for i in 0..8 {
        assert_eq!(next_packet(&rx)[2], i);
    }
    write_packet(&tx, &svc(50)).unwrap();
    assert_eq!(next_packet(&rx), [0xc4, 0x04, Dir::WT.dir8(), 4, 0, 0, 0]);
    assert_eq!(next_packet(&rx)[2], 50);
}
