//! Surviving an `itcd` restart on a real grid: `tile-sim ctl stop r0c1`
//! then `start r0c1`. The service at r0c1 sees its neighbour go, keeps
//! running while the tree is away (reopening on a backed-off timer, not in
//! a spin), sees the neighbour again when the tree is back, and exchanges
//! packets as before; the service at r0c0 sees the same through hellos.

mod common;

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use common::{Grid, Peer, Seen, DEADLINE};
use itc_service::{Config, Dir, Error};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use test_support::wait_for;

#[test]
fn a_restart_of_itcd_is_a_disconnect_then_a_connect() {
    let grid = Grid::start("restart", &["--rate", "0"]);
    let a = Peer::start(Config::new(25).mount(grid.mount("r0c0"))).expect("open at r0c0");
    let b = Peer::start(Config::new(25).mount(grid.mount("r0c1"))).expect("open at r0c1");
    a.wait_seen(Seen::Connect(Dir::ET), 1);
    b.wait_seen(Seen::Connect(Dir::WT), 1);
    // A plain reader of another service's file, to see what the tree
    // itself reports when itcd stops.
    let mut raw = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(grid.mount("r0c1").join("itc/svc/26"))
        .expect("open svc/26");

    let mut buf = [0u8; 256];
    let mut read = |raw: &mut std::fs::File| match raw.read(&mut buf) {
        Ok(_) => None,
        Err(e) => Some(Errno::from_raw(e.raw_os_error().unwrap_or(0))),
    };
    // Its Connect first, then nothing.
    while read(&mut raw).is_none() {}

    grid.ctl(&["stop", "r0c1"]);
    let stopped = Instant::now();
    let mut fds = [PollFd::new(raw.as_fd(), PollFlags::POLLIN)];
    let woke = poll(&mut fds, PollTimeout::from(DEADLINE.as_millis() as u16));
    assert_eq!(woke, Ok(1), "poll wakes when itcd stops");
    let errnos = [read(&mut raw), read(&mut raw)];
    assert!(
        matches!(
            errnos,
            [
                Some(Errno::ENOTCONN | Errno::ECONNABORTED),
                Some(Errno::ENOTCONN)
            ]
        ),
        "reads of a stopped tree: {errnos:?}"
    );
    drop(raw);

    b.wait_seen(Seen::Disconnect(Dir::WT), 1);
    a.wait_seen(Seen::Disconnect(Dir::ET), 1);
    assert!(b.running(), "the service keeps running");
    let e = b.call(|svc, _| svc.send(Dir::WT, b"x")).unwrap_err();
    assert!(matches!(e, Error::Offline { .. }), "{e:?}");
    assert!(!b.call(|svc, _| svc.is_online()));

    // Reopen attempts come at 100, 300, 700 ms...: three take 0.7 s.
    assert!(wait_for(DEADLINE, || b.stats().reopen_attempts >= 3));
    let waited = stopped.elapsed();
    assert!(waited >= Duration::from_millis(600), "{waited:?}: a spin?");
    let s = b.stats();
    assert!(s.reopen_attempts <= 6, "{s}");
    assert_eq!((s.tree_lost, s.disconnects, s.reconnects), (1, 1, 0), "{s}");

    grid.ctl(&["start", "r0c1"]);
    b.wait_seen(Seen::Connect(Dir::WT), 2);
    a.wait_seen(Seen::Connect(Dir::ET), 2);
    assert!(b.call(|svc, _| svc.is_online()));
    let s = b.stats();
    assert_eq!((s.reconnects, s.connects), (1, 2), "{s}");

    a.call(|svc, _| svc.send(Dir::ET, b"again"))
        .expect("send after the restart");
    b.call(|svc, _| svc.send(Dir::WT, b"back"))
        .expect("send after the restart");
    assert!(wait_for(DEADLINE, || b.packets(Dir::WT).len() == 1));
    assert!(wait_for(DEADLINE, || a.packets(Dir::ET).len() == 1));
    assert_eq!(b.packets(Dir::WT)[0].0, b"again");
    assert_eq!(a.packets(Dir::ET)[0].0, b"back");
    assert!(a.running() && b.running());
}

#[test]
fn a_tree_not_there_yet_is_waited_for_or_refused() {
    let grid = Grid::start("absent", &["--rate", "0"]);
    grid.ctl(&["stop", "r0c1"]);
    let config = || Config::new(27).mount(grid.mount("r0c1"));

    let e = Peer::start(config()).err().expect("no tree");
    assert_eq!(e.errno(), Some(Errno::ENOENT), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: no such file: is itcd running and serving {}? (ENOENT)",
            config().path().display(),
            grid.mount("r0c1").display()
        )
    );

    let b = Peer::start(config().wait_for_tree(true)).expect("waits for the tree");
    assert!(wait_for(DEADLINE, || b.stats().reopen_attempts >= 1));
    grid.ctl(&["start", "r0c1"]);
    b.wait_seen(Seen::Connect(Dir::WT), 1);
    let s = b.stats();
    assert_eq!((s.tree_lost, s.reconnects), (0, 0), "a first open:\n{s}");
}
