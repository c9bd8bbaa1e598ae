//! `itcd`'s life: start-up errors, clean shutdown, stale mounts, lost PRU
//! devices, and readers and writers that must die promptly on signals.

mod common;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::hand::{HandTile, RawPru};
use common::*;
use itc_proto::Dir;
use test_support::is_mounted;

fn itcd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_itcd"));
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Runs `itcd ARGS`, which must fail at start; returns its stderr.
fn itcd_fails(args: &[&str]) -> String {
    let out = itcd(args).output().unwrap();
    assert!(!out.status.success(), "itcd {args:?} did not fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn hand_tile(extra: &[&str]) -> HandTile {
    HandTile::start("--name=H", "H", extra)
}

fn quiet_hand_tile(queue_bytes: usize) -> HandTile {
    HandTile::quiet(queue_bytes)
}

fn hand_tile_named(name_arg: &str, name: &str, extra: &[&str]) -> HandTile {
    HandTile::start(name_arg, name, extra)
}

/// Start `cmd`, wait until it blocks inside the tree, send `sig`, and
/// return how long it took to die.
fn time_to_die(mut cmd: Command, sig: i32) -> Duration {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let blocked = wait_for(DEADLINE, || blocked_in_fuse(pid));
    if !blocked {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "process never blocked in the tree: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let t = Instant::now();
    signal(pid, sig);
    let died = wait_for(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let took = t.elapsed();
    if !died {
        let _ = child.kill();
        // A process stuck in an unanswered FUSE request ignores even
        // SIGKILL; stopping the daemon releases it.
        panic!("process blocked in the tree survived signal {sig}");
    }
    took
}

#[test]
fn blocked_readers_die_promptly_on_sigint_sigterm_sigkill() {
    let g = Grid::start(GridSpec::pair());
    let a = g.tile(0);
    for (i, sig) in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL]
        .into_iter()
        .enumerate()
    {
        for rel in [
            format!("itc/svc/{:02}", 20 + i),
            format!("tile/ET/svc/{:02}", 30 + i),
            "itc/events".into(),
        ] {
            let mut cmd = Command::new("cat");
            cmd.arg(a.path(&rel));
            let took = time_to_die(cmd, sig);
            assert!(
                took < Duration::from_secs(1),
                "{rel}: signal {sig} took {took:?}"
            );
        }
    }
    // The daemon is unharmed and the files are free again.
    open(&a.path("itc/svc/20"), libc::O_RDWR).unwrap();
}

#[test]
fn blocked_writers_die_promptly_and_block_while_the_queue_is_full() {
    // The hand-made neighbour says hello once: keep it present for the test.
    let h = quiet_hand_tile(1024);
    h.neighbour_et();
    // The raw PRU never reads: the socket fills, then itcd's queue.
    let f = open(
        &h.tile.path("tile/ET/svc/20"),
        libc::O_RDWR | libc::O_NONBLOCK,
    )
    .unwrap();
    let pkt = [0x80u8, 20]
        .iter()
        .copied()
        .chain(std::iter::repeat_n(7, 253))
        .collect::<Vec<u8>>();
    // Fill with maximum-size packets, then top up with 5-byte ones, the
    // size the blocked writers below use: after that nothing fits.
    let small = [0x80u8, 20, 1, 2, 3];
    for p in [&pkt[..], &small[..]] {
        let mut sent = 0;
        loop {
            match write_packet(&f, p) {
                Ok(_) => sent += 1,
                Err(e) => {
                    assert_eq!(
                        e.raw_os_error(),
                        Some(libc::EAGAIN),
                        "full queue with O_NONBLOCK"
                    );
                    break;
                }
            }
            assert!(sent < 100_000, "the queue never filled");
        }
    }
    assert_eq!(
        poll_fd(&f, libc::POLLOUT, 0) & libc::POLLOUT,
        0,
        "not writable while full"
    );
    drop(f);
    // Each writer uses its own file: a closed file is released
    // asynchronously, so reopening the same exclusive file could race.
    for (svc, sig) in [(21, libc::SIGINT), (22, libc::SIGTERM), (23, libc::SIGKILL)] {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "printf '\\200\\{svc:03o}xyz' > {}; echo rc=$? >&2",
            h.tile.path(&format!("tile/ET/svc/{svc}")).display()
        ));
        // sh is the writer itself (printf is a builtin).
        let took = time_to_die(cmd, sig);
        assert!(
            took < Duration::from_secs(1),
            "writer: signal {sig} took {took:?}"
        );
    }
}

#[test]
fn any_queue_bound_up_to_usize_max_is_served() {
    let h = quiet_hand_tile(usize::MAX);
    let mfm = open(&h.tile.path("itc/mfm"), libc::O_RDWR | libc::O_NONBLOCK).unwrap();
    let events = open(
        &h.tile.path("itc/events"),
        libc::O_RDONLY | libc::O_NONBLOCK,
    )
    .unwrap();
    // A Connect goes into both files; a packet comes in and one goes out.
    h.neighbour_et();
    let connect = vec![0xc4, 0x01, Dir::ET.dir8()];
    assert_eq!(next_packet(&mfm), connect);
    assert_eq!(next_packet(&events), connect);
    h.pru0.send(&[0xa0 | Dir::ET.dir8(), 1, 2, 3]);
    assert_eq!(next_packet(&mfm), vec![0xa0 | Dir::ET.dir8(), 1, 2, 3]);
    let mut big = vec![0xa0 | Dir::ET.dir8()];
    big.resize(255, 9);
    assert_eq!(write_packet(&mfm, &big).unwrap(), 255);
    assert_eq!(
        poll_fd(&mfm, libc::POLLOUT, 0) & libc::POLLOUT,
        libc::POLLOUT
    );
    assert!(
        h.tile.child.as_ref().is_some_and(|c| {
            let pid = c.id();
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }),
        "itcd still runs; log:\n{}",
        h.tile.log_text()
    );
    assert_eq!(h.tile.status_value("itc/self", "name"), "H");
}

#[test]
fn packets_longer_than_a_small_queue_bound_fail_emsgsize_at_once() {
    let h = quiet_hand_tile(100);
    h.neighbour_et();
    for file in ["tile/ET/mfm", "itc/mfm"] {
        // Blocking: the old daemon held such a write for ever.
        let f = open(&h.tile.path(file), libc::O_RDWR).unwrap();
        assert_eq!(
            poll_fd(&f, libc::POLLOUT, 0) & libc::POLLOUT,
            libc::POLLOUT,
            "{file}: an empty queue is writable"
        );
        let mut pkt = vec![0xa0 | Dir::ET.dir8()];
        pkt.resize(101, 9);
        assert_eq!(errno(&write_packet(&f, &pkt)), libc::EMSGSIZE, "{file}");
        pkt.truncate(100);
        assert_eq!(write_packet(&f, &pkt).unwrap(), 100, "{file}");
    }
}

/// Write packets for ET through `itc/svc/21` until not even a 5-byte
/// packet fits.
fn fill_et_queue(h: &HandTile) {
    let f = open(
        &h.tile.path("itc/svc/21"),
        libc::O_WRONLY | libc::O_NONBLOCK,
    )
    .unwrap();
    for len in [255, 5] {
        let mut pkt = vec![0x80 | Dir::ET.dir8(), 21];
        pkt.resize(len, 7);
        let mut sent = 0;
        while write_packet(&f, &pkt).is_ok() {
            sent += 1;
            assert!(sent < 100_000, "the queue never filled");
        }
    }
}

/// Run `op` on a new thread; returns its thread id and where its result
/// arrives.
fn spawn_blocking<T: Send + 'static>(
    op: impl FnOnce() -> T + Send + 'static,
) -> (i32, std::sync::mpsc::Receiver<T>) {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        let _ = got_tx.send(op());
    });
    (tid_rx.recv().unwrap(), got_rx)
}

fn blocked_in_read_or_write(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"))
        .is_ok_and(|w| w.contains("request_wait_answer"))
}

#[test]
fn blocked_reads_and_writes_of_one_file_do_not_wait_for_each_other() {
    let h = quiet_hand_tile(1024);
    h.neighbour_et();
    // One open file, shared by a reader thread and a writer thread.
    let f = std::sync::Arc::new(open(&h.tile.path("tile/ET/svc/20"), libc::O_RDWR).unwrap());
    assert_eq!(read_packet(&f, 8).unwrap(), vec![0xc4, 0x01]);
    let read = |f: &std::sync::Arc<std::fs::File>| {
        let f = f.clone();
        spawn_blocking(move || read_packet(&f, 256).map_err(|e| e.raw_os_error()))
    };
    let write = |f: &std::sync::Arc<std::fs::File>| {
        let f = f.clone();
        // Maximum size: it cannot fit in the last bytes of a full queue.
        let mut pkt = vec![0x80, 20];
        pkt.resize(255, 1);
        spawn_blocking(move || write_packet(&f, &pkt).map_err(|e| e.raw_os_error()))
    };

    // A reader waits first, then a writer finds the queue full.
    fill_et_queue(&h);
    let (r_tid, r_got) = read(&f);
    eventually!(blocked_in_read_or_write(r_tid), "reader blocked");
    let (w_tid, w_got) = write(&f);
    eventually!(blocked_in_read_or_write(w_tid), "writer blocked");
    // Room again: the writer goes on although the reader still waits.
    eventually!(
        {
            h.pru0.drain();
            w_got.try_recv().is_ok()
        },
        "the blocked writer proceeds once the queue has room"
    );
    // A packet for the reader.
    h.pru0.send(&[0x80 | Dir::ET.dir8(), 20, 0x55]);
    assert_eq!(
        r_got.recv_timeout(DEADLINE),
        Ok(Ok(vec![0x80 | Dir::ET.dir8(), 20, 0x55]))
    );

    // A writer waits first, then a reader: a packet reaches the reader
    // although the writer still waits.
    fill_et_queue(&h);
    let (w_tid, w_got) = write(&f);
    eventually!(blocked_in_read_or_write(w_tid), "writer blocked");
    let (r_tid, r_got) = read(&f);
    eventually!(blocked_in_read_or_write(r_tid), "reader blocked");
    h.pru0.send(&[0x80 | Dir::ET.dir8(), 20, 0x66]);
    assert_eq!(
        r_got.recv_timeout(DEADLINE),
        Ok(Ok(vec![0x80 | Dir::ET.dir8(), 20, 0x66])),
        "the reader is not held up by the blocked writer"
    );
    eventually!(
        {
            h.pru0.drain();
            w_got.try_recv().is_ok()
        },
        "the writer proceeds too"
    );
}

#[test]
fn a_write_that_waited_for_room_reaches_the_link_without_another_event() {
    // No hello or absence timer wakes the daemon during the test. A lane
    // that holds one packet: the pop that makes room for the writer
    // empties it.
    let h = quiet_hand_tile(255);
    h.neighbour_et();
    fill_et_queue(&h);
    // The file stays open: its close would wake the daemon.
    let f = std::sync::Arc::new(open(&h.tile.path("tile/ET/svc/20"), libc::O_WRONLY).unwrap());
    let mut pkt = vec![0x80 | Dir::ET.dir8(), 20];
    pkt.resize(255, 0x5a);
    let want = pkt.clone();
    let writer = f.clone();
    let (tid, got) =
        spawn_blocking(move || write_packet(&writer, &pkt).map_err(|e| e.raw_os_error()));
    eventually!(blocked_in_read_or_write(tid), "writer blocked");
    // The PRU takes everything: the queue empties and the writer proceeds.
    let mut seen = Vec::new();
    let mut wrote = None;
    eventually!(
        {
            seen.extend(h.pru0.take());
            wrote = got.try_recv().ok();
            wrote.is_some()
        },
        "the blocked writer proceeds once the queue has room"
    );
    assert_eq!(wrote, Some(Ok(255)));
    // Its packet goes out too, though nothing else happens meanwhile.
    eventually!(
        {
            seen.extend(h.pru0.take());
            seen.contains(&want)
        },
        "the accepted packet never reached the PRU\n{}",
        h.tile.log_text()
    );
}

#[test]
fn second_readers_and_writers_of_one_open_file_die_promptly_too() {
    let h = quiet_hand_tile(1024);
    h.neighbour_et();
    fill_et_queue(&h);
    // Writers sharing one open file, as children of a shell that opened it.
    let f = open(&h.tile.path("tile/ET/svc/20"), libc::O_WRONLY).unwrap();
    // The first writer holds its write request in the daemon; the others
    // must not wait behind it where no signal reaches them.
    seconds_die_promptly("writer", || {
        shell_with_fd3(&f, "printf '\\200\\024xyz' >&3")
    });

    // The same for readers of one open file with nothing queued.
    let f = open(&h.tile.path("tile/ET/svc/25"), libc::O_RDONLY).unwrap();
    assert_eq!(read_packet(&f, 8).unwrap(), vec![0xc4, 0x01]);
    seconds_die_promptly("reader", || shell_with_fd3(&f, "exec cat <&3 >/dev/null"));
}

/// Starts a first process from `make` and waits until it blocks in the
/// tree; then each of SIGINT, SIGTERM and SIGKILL must end a second one
/// from `make` within 1 s. The first is killed by pid even on failure.
fn seconds_die_promptly(what: &str, make: impl Fn() -> Command) {
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut first = Reap(make().stderr(Stdio::null()).spawn().unwrap());
    let blocked = wait_for(DEADLINE, || blocked_in_fuse(first.0.id()));
    assert!(
        blocked,
        "first {what} never blocked; it {:?}",
        first.0.try_wait()
    );
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        let took = time_to_die(make(), sig);
        assert!(
            took < Duration::from_secs(1),
            "second {what}: signal {sig} took {took:?}"
        );
    }
}

/// `sh -c script` with `f` as its descriptor 3.
fn shell_with_fd3(f: &std::fs::File, script: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let fd = f.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    // SAFETY: dup2 and fcntl are async-signal-safe; fd stays open in this process
    // until the child has exec'd.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear it by hand then.
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

#[test]
fn empty_name_means_the_host_name() {
    // itcd.service passes --name=$ITCD_NAME, empty unless /etc/default/itcd
    // sets it; TileProc::start waits until itc/self shows the host name.
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let t = hand_tile_named("--name=", &host, &[]);
    assert_eq!(t.tile.status_value("itc/self", "name"), host);
}

#[test]
fn sigterm_sigint_and_sighup_unmount_and_exit_zero() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let mut g = Grid::start(GridSpec::pair());
        let t = &mut g.tiles[0];
        let mut child = t.child.take().unwrap();
        signal(child.id(), sig);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "exit status after signal {sig}");
        assert!(!is_mounted(&t.mount), "unmounted after signal {sig}");
    }
}

#[test]
fn stale_mount_from_a_crashed_instance_is_recovered() {
    let mut g = Grid::start(GridSpec::pair());
    let t = &mut g.tiles[0];
    let pid = t.pid();
    // Kill the daemon and its unmount helper (fusermount3 with auto_unmount,
    // which stays a child of itcd) so the mount is left behind.
    let helpers = Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .unwrap();
    let helper_pids: Vec<u32> = String::from_utf8_lossy(&helpers.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(!helper_pids.is_empty(), "itcd {pid} has no unmount helper");
    for hp in &helper_pids {
        signal(*hp, libc::SIGKILL);
    }
    signal(pid, libc::SIGKILL);
    let _ = t.child.take().unwrap().wait();
    assert!(is_mounted(&t.mount), "the crash left its mount behind");
    let dead = nix::sys::statfs::statfs(&t.mount).unwrap_err();
    assert_eq!(dead, nix::errno::Errno::ENOTCONN, "a dead mount");
    t.start();
    assert!(is_mounted(&t.mount));
    g.wait_pair();
}

#[test]
fn start_up_errors_name_what_to_check() {
    let dir = TempDir::new("errors");
    let mount = dir.0.join("m");
    std::fs::create_dir_all(&mount).unwrap();
    let m = mount.display().to_string();
    let missing = dir.0.join("nope").display().to_string();
    let err = itcd_fails(&["--pru0", &missing, "--pru1", &missing, "--mount", &m]);
    assert!(err.contains(&missing) && err.contains("PRU"), "{err}");
    assert!(!is_mounted(&mount));

    // Mount point busy: a live itcd is there.
    let g = Grid::start(GridSpec::pair());
    let busy = g.tile(0).mount.display().to_string();
    let sock = g.sockets.join("A.pru0").display().to_string();
    let err = itcd_fails(&["--pru0", &sock, "--pru1", &sock, "--mount", &busy]);
    assert!(err.contains("busy"), "{err}");
    assert_eq!(
        g.tile(0).status_value("itc/self", "name"),
        "A",
        "the live tree is untouched"
    );

    // Mount point missing.
    let nodir = dir.0.join("nodir").display().to_string();
    let err = itcd_fails(&["--pru0", &sock, "--pru1", &sock, "--mount", &nodir]);
    assert!(
        err.contains(&format!("{nodir} does not exist")) && err.contains("mkdir"),
        "{err}"
    );

    // Mount point a file.
    let file = dir.0.join("file");
    std::fs::write(&file, "").unwrap();
    let file = file.display().to_string();
    let err = itcd_fails(&["--pru0", &sock, "--pru1", &sock, "--mount", &file]);
    assert!(err.contains(&format!("{file} is not a directory")), "{err}");
}

#[test]
fn control_characters_in_a_neighbours_name_never_reach_output_raw() {
    let h = hand_tile(&["--hello-ms", "60000", "--absent-ms", "600000"]);
    h.pru0.send(&[0xc3, b'P', Dir::ET.dir8()]);
    let name = b"evil\nlink: down\x1b]0;pwned\x07";
    let mut hello = vec![0x80 | Dir::ET.dir8(), 1, 1, name.len() as u8];
    hello.extend_from_slice(name);
    hello.extend_from_slice(&[4, b'p', b'\r', b'\t', b'q']);
    h.pru0.send(&hello);
    let t = &h.tile;
    eventually!(t.dir_status(Dir::ET, "peer") == "present", "present");
    let status = t.read_to_string("tile/ET/status");
    assert!(
        status.contains("peer_name: evil\\nlink: down\\x1b]0;pwned\\x07\n"),
        "{status}"
    );
    assert!(status.contains("peer_physics: p\\r\\tq\n"), "{status}");
    assert_eq!(t.dir_status(Dir::ET, "link"), "up", "no forged line");
    let table = t.read_to_string("itc/status");
    assert_eq!(table.lines().count(), 7, "{table}");
    for text in [status, table, t.log_text()] {
        assert!(
            !text.contains(['\x1b', '\x07', '\r', '\t']),
            "raw control characters: {text:?}"
        );
    }
}

#[test]
fn bidi_and_other_format_characters_in_a_neighbours_name_are_escaped() {
    let h = hand_tile(&["--hello-ms", "60000", "--absent-ms", "600000"]);
    h.pru0.send(&[0xc3, b'P', Dir::ET.dir8()]);
    // A right to left override shows "evil" reversed after it; the
    // isolates, zero width space and byte order mark are invisible.
    let name = "\u{202e}live\u{2066}x\u{2069}";
    let physics = "p\u{200b}\u{feff}q";
    let mut hello = vec![0x80 | Dir::ET.dir8(), 1, 1, name.len() as u8];
    hello.extend_from_slice(name.as_bytes());
    hello.push(physics.len() as u8);
    hello.extend_from_slice(physics.as_bytes());
    h.pru0.send(&hello);
    let t = &h.tile;
    eventually!(t.dir_status(Dir::ET, "peer") == "present", "present");
    let status = t.read_to_string("tile/ET/status");
    assert!(
        status.contains("peer_name: \\u{202e}live\\u{2066}x\\u{2069}\n"),
        "{status}"
    );
    assert!(
        status.contains("peer_physics: p\\u{200b}\\u{feff}q\n"),
        "{status}"
    );
    let table = t.read_to_string("itc/status");
    assert!(table.contains("\\u{202e}live"), "{table}");
    for text in [status, table, t.log_text()] {
        assert!(
            !text.contains(['\u{202e}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{feff}']),
            "raw format characters: {text:?}"
        );
    }
}

#[test]
fn a_name_with_control_characters_is_a_usage_error() {
    let dir = TempDir::new("badname");
    let mount = dir.0.join("m");
    std::fs::create_dir_all(&mount).unwrap();
    let m = mount.display().to_string();
    let sock = dir.0.join("nope").display().to_string();
    for bad in ["a\nb", "\x1b[31mred", "tab\there"] {
        let out = itcd(&[
            "--pru0", &sock, "--pru1", &sock, "--mount", &m, "--name", bad,
        ])
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(2), "--name {bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--name") && err.contains("control characters"),
            "{err}"
        );
        assert!(!is_mounted(&mount));
    }
}

#[test]
fn a_log_level_that_means_nothing_is_a_usage_error() {
    let dir = TempDir::new("badlevel");
    let mount = dir.0.join("m");
    std::fs::create_dir_all(&mount).unwrap();
    let m = mount.display().to_string();
    let sock = dir.0.join("nope").display().to_string();
    let out = itcd(&[
        "--pru0",
        &sock,
        "--pru1",
        &sock,
        "--mount",
        &m,
        "--log-level",
        "garbage!!",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log-level \"garbage!!\""), "{err}");
    assert!(!is_mounted(&mount));
}

/// An `itcd` run by hand whose terminal closes gets SIGHUP and stops as
/// on SIGTERM (exit status 0, tree unmounted), although every write to
/// the terminal now fails `EIO`, its log's farewell line included.
#[test]
fn a_closed_terminal_stops_itcd_cleanly() {
    let dir = TempDir::new("hangup");
    let mut pru0 = RawPru::bind(dir.0.join("p0"));
    let mut pru1 = RawPru::bind(dir.0.join("p1"));
    let mount = dir.0.join("m");
    std::fs::create_dir_all(&mount).unwrap();
    let mut pty = test_support::pty::Pty::open();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_itcd"));
    cmd.arg("--pru0")
        .arg(&pru0.path)
        .arg("--pru1")
        .arg(&pru1.path)
        .arg("--mount")
        .arg(&mount)
        .args(["--name", "H", "--log-level", "info"]);
    pty.attach(&mut cmd);
    let starter = std::thread::spawn(move || {
        pru0.accept();
        pru1.accept();
        (pru0, pru1)
    });
    let mut child = cmd.spawn().unwrap();
    let _prus = starter.join().unwrap();
    let log = pty.read_until(DEADLINE, |s| s.contains("serving"));
    assert!(log.contains("serving"), "{log}");
    assert!(is_mounted(&mount));

    pty.hang_up();
    let mut status = None;
    let exited = wait_for(DEADLINE, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(exited, "itcd did not exit after its terminal closed");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    assert!(!is_mounted(&mount));
}

/// A queue bound of 0 would make every write fail `EMSGSIZE` behind a
/// daemon that looks healthy: it is refused at start like any bad option.
#[test]
fn a_queue_bound_of_zero_is_a_usage_error() {
    let dir = TempDir::new("zeroqueue");
    let mount = dir.0.join("m");
    std::fs::create_dir_all(&mount).unwrap();
    let m = mount.display().to_string();
    let sock = dir.0.join("nope").display().to_string();
    let out = itcd(&[
        "--pru0",
        &sock,
        "--pru1",
        &sock,
        "--mount",
        &m,
        "--queue-bytes",
        "0",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--queue-bytes") && err.contains("at least 1"),
        "{err}"
    );
    assert!(!is_mounted(&mount));
}

/// The line of /proc/self/mountinfo for `mount`: (mount options, fstype,
/// source), the source with the kernel's octal escapes.
fn mountinfo_of(mount: &Path) -> Option<(String, String, String)> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = mount.canonicalize().unwrap().display().to_string();
    table.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().position(|f| *f == "-")?;
        if *fields.get(4)? != mount {
            return None;
        }
        Some((
            fields.get(5)?.to_string(),
            fields.get(sep + 1)?.to_string(),
            fields.get(sep + 2)?.to_string(),
        ))
    })
}

#[test]
fn a_name_cannot_add_mount_options() {
    for (name, source) in [
        ("x,ro", "itcd:x,ro"),
        ("y, auto_unmount,z", "itcd:y,\\040auto_unmount,z"),
    ] {
        let h = hand_tile_named(&format!("--name={name}"), name, &[]);
        let (options, fstype, shown) = mountinfo_of(&h.tile.mount).expect("mounted");
        assert!(
            !options.split(',').any(|o| o == "ro"),
            "{name:?}: {options}"
        );
        assert_eq!(fstype, "fuse.itcd", "{name:?}");
        assert_eq!(shown, source, "{name:?}");
        std::fs::write(h.tile.path("itc/physics"), "p\n").expect("writable tree");
        assert_eq!(h.tile.read_to_string("itc/physics"), "p\n");
    }
}

#[test]
fn empty_and_over_long_pru_messages_are_counted() {
    let h = hand_tile(&[]);
    let t = &h.tile;
    assert_eq!(t.status_value("itc/self", "pru0_malformed"), "0");
    h.pru0.send(&[]);
    eventually!(
        t.status_value("itc/self", "pru0_malformed") == "1",
        "an empty message is counted; log:\n{}",
        t.log_text()
    );
    h.pru0.send(&[0xc5; 600]);
    eventually!(
        t.status_value("itc/self", "pru0_malformed") == "2",
        "an over-long message is counted"
    );
    assert_eq!(t.status_value("itc/self", "pru1_malformed"), "0");
}

#[test]
fn missing_dev_fuse_is_explained() {
    // A private mount namespace in which /dev is an empty tmpfs: /dev/fuse
    // is gone for itcd alone.
    let dir = TempDir::new("nofuse");
    let pru = RawPru::bind(dir.0.join("p"));
    let sock = pru.path.display().to_string();
    let mount = dir.0.join("m");
    std::fs::create_dir_all(&mount).unwrap();
    let m = mount.display().to_string();
    let script = format!(
        "mount -t tmpfs none /dev && exec {} --pru0 {sock} --pru1 {sock} --mount {m}",
        env!("CARGO_BIN_EXE_itcd")
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/fuse") && err.contains("modprobe fuse"),
        "{err}"
    );
}

#[test]
fn lost_pru_devices_take_links_down_and_are_reopened() {
    let mut g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let ev = open(
        &g.tile(0).path("tile/ET/events"),
        libc::O_RDONLY | libc::O_NONBLOCK,
    )
    .unwrap();
    assert_eq!(next_packet(&ev), vec![0xc4, 0x01]);
    // The emulated PRUs go away entirely.
    g.sim.take().unwrap().shutdown();
    let a = g.tile(0);
    eventually!(a.status_value("itc/self", "pru0") == "closed", "PRU0 lost");
    assert_eq!(a.dir_status(Dir::ET, "link"), "down");
    assert_eq!(next_packet(&ev), vec![0xc4, 0x02]);
    // They come back at the same paths.
    let mut wires = itc_emu::Wires::new(&g.sockets, itc_emu::LinkParams::default());
    let ida = wires.add_tile("A");
    let idb = wires.add_tile("B");
    wires.connect(ida, Dir::ET, idb);
    g.sim = Some(itc_emu::PacketModel::start(wires).unwrap());
    g.wait_pair();
    assert_eq!(next_packet(&ev), vec![0xc4, 0x01]);
    let a = g.tile(0);
    let opens: u64 = a.status_value("itc/self", "pru0_opens").parse().unwrap();
    assert!(opens >= 2, "reopened ({opens})");
}

#[allow(dead_code)]
fn unused(_: &Path) {}

#[test]
fn a_pru_peer_that_stops_sending_is_lost_and_reopened_not_spun_on() {
    // shutdown(SHUT_WR) by the PRU side: every recv then returns 0 at once,
    // which is end of file, not a stream of empty messages.
    let h = hand_tile(&[]);
    let t = &h.tile;
    nix::sys::socket::shutdown(h.pru0.conn_fd(), nix::sys::socket::Shutdown::Write).unwrap();
    eventually!(
        t.status_value("itc/self", "pru0_opens") == "2",
        "PRU0 lost and reopened; itc/self:\n{}\nlog:\n{}",
        t.read_to_string("itc/self"),
        t.log_text()
    );
    assert_eq!(t.status_value("itc/self", "pru0_malformed"), "0");
    assert!(t.log_text().contains("lost (closed)"), "{}", t.log_text());
}

/// Accept `itcd`'s next connection to `pru` within the deadline; returns
/// whether it came.
fn accept_within(pru: &mut RawPru, deadline: Duration) -> bool {
    let ready = wait_for(deadline, || {
        let mut pfd = libc::pollfd {
            fd: pru.listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid array of one pollfd; 50 ms timeout.
        unsafe { libc::poll(&mut pfd, 1, 50) > 0 }
    });
    if ready {
        pru.accept();
    }
    ready
}

#[test]
fn a_pru_that_hangs_up_at_once_is_reopened_ever_more_slowly() {
    let mut h = hand_tile(&[]);
    // A PRU side that takes each connection and its start message and
    // hangs up at once: the waits between reopens must grow.
    h.pru0.conn = None;
    let mut times = Vec::new();
    for _ in 0..4 {
        assert!(
            accept_within(&mut h.pru0, DEADLINE),
            "reopened; log:\n{}",
            h.tile.log_text()
        );
        times.push(Instant::now());
        h.pru0.conn = None;
    }
    let last_gap = times[3] - times[2];
    assert!(
        last_gap >= Duration::from_millis(350),
        "reopens {:?} apart; log:\n{}",
        times.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>(),
        h.tile.log_text()
    );
    // A PRU that talks has proven itself: once it is lost, it is reopened
    // soon again.
    assert!(accept_within(&mut h.pru0, DEADLINE), "reopened");
    h.pru0.send(&[0xc3, b'P', Dir::ET.dir8()]);
    let t = &h.tile;
    eventually!(t.dir_status(Dir::ET, "link") == "up", "PRU0 heard");
    h.pru0.conn = None;
    let lost = Instant::now();
    assert!(accept_within(&mut h.pru0, DEADLINE), "reopened");
    assert!(
        lost.elapsed() < Duration::from_millis(350),
        "a working PRU was reopened {:?} after its loss",
        lost.elapsed()
    );
}

#[test]
fn pru_paths_that_are_no_device_are_refused_before_mounting() {
    let dir = TempDir::new("nodev");
    let mount = dir.0.join("m");
    std::fs::create_dir_all(&mount).unwrap();
    let m = mount.display().to_string();
    let file = dir.0.join("file");
    std::fs::write(&file, "").unwrap();
    let subdir = dir.0.join("dir");
    std::fs::create_dir_all(&subdir).unwrap();
    // /dev/null is a character device, but one epoll cannot wait on.
    for path in [file, subdir, PathBuf::from("/dev/null")] {
        let p = path.display().to_string();
        let out = itcd(&["--pru0", &p, "--pru1", &p, "--mount", &m])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{p}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&p) && err.contains("--pru0"),
            "{p}: the message names the device and the option: {err}"
        );
        assert!(!is_mounted(&mount));
    }
}

#[test]
fn a_mount_point_held_by_a_hung_itcd_is_reported_busy_not_waited_on() {
    let h = hand_tile(&[]);
    let pid = h.tile.pid();
    /// Lets the stopped daemon go on, also when the test fails.
    struct Cont(u32);
    impl Drop for Cont {
        fn drop(&mut self) {
            signal(self.0, libc::SIGCONT);
        }
    }
    let _cont = Cont(pid);
    signal(pid, libc::SIGSTOP);
    let m = h.tile.mount.display().to_string();
    let p = h.pru0.path.display().to_string();
    let mut second = itcd(&["--pru0", &p, "--pru1", &p, "--mount", &m])
        .spawn()
        .unwrap();
    let exited = wait_for(DEADLINE, || matches!(second.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = second.kill();
    }
    let out = second.wait_with_output().unwrap();
    assert!(exited, "a second itcd hung on the stopped one's mount");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("busy") && err.contains(&m), "{err}");
}

#[test]
fn a_second_itcd_on_a_served_tile_is_refused_before_it_touches_the_prus() {
    let g = Grid::start(GridSpec::pair());
    g.wait_pair();
    let (a, b) = (g.tile(0), g.tile(1));
    let nb = libc::O_RDONLY | libc::O_NONBLOCK;
    let events = open(&a.path("tile/ET/events"), nb).unwrap();
    assert_eq!(next_packet(&events), vec![0xc4, 0x01], "B is present");
    let rx = open(&a.path("tile/ET/svc/50"), nb).unwrap();
    assert_eq!(next_packet(&rx), vec![0xc4, 0x01]);

    // The same PRU sockets and mount point as A's running itcd.
    let m = a.mount.display().to_string();
    let p0 = g.sockets.join("A.pru0").display().to_string();
    let p1 = g.sockets.join("A.pru1").display().to_string();
    let out = itcd(&["--pru0", &p0, "--pru1", &p1, "--mount", &m])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("busy") && err.contains(&m) && err.contains("another itcd"),
        "{err}"
    );

    // A packet B sends now crosses A's PRU 0 connection: it is the one A
    // had before, and the emulated PRUs never saw another host.
    let tx = open(&b.path("tile/WT/svc/50"), libc::O_WRONLY).unwrap();
    write_packet(&tx, &[0x80 | Dir::WT.dir8(), 50, 7]).unwrap();
    assert_eq!(next_packet(&rx), vec![0x80 | Dir::ET.dir8(), 50, 7]);
    let stats = g.sim().stats();
    for pru in [itc_proto::Pru::Pru0, itc_proto::Pru::Pru1] {
        assert_eq!(stats.pru(g.ids[0], pru).connections, 1, "{pru:?}");
    }
    assert_eq!(a.status_value("itc/self", "pru0_opens"), "1");
    assert_eq!(a.status_value("itc/self", "pru1_opens"), "1");
    // So A's readers saw no Disconnect (nor Connect): nothing more came.
    assert_eq!(errno(&read_packet(&events, 256)), libc::EAGAIN);
    assert_eq!(a.dir_status(Dir::ET, "peer"), "present");
    assert_eq!(a.status_value("itc/self", "name"), "A");
}

/// The lines `itcd` wrote about ET's link, and the count it says it
/// suppressed.
fn et_link_lines(log: &str) -> (u64, u64) {
    let written = log
        .lines()
        .filter(|l| l.contains("ET: link up") || l.contains("ET: link down"))
        .count() as u64;
    let suppressed = log
        .lines()
        .filter_map(|l| {
            let at = l.find("ET: ")? + 4;
            let rest =
                l[at..].strip_suffix(" similar messages suppressed (more than 10 a second)")?;
            rest.parse::<u64>().ok()
        })
        .sum();
    (written, suppressed)
}

#[test]
fn a_flapping_link_status_cannot_flood_the_log() {
    // At debug level, as every hand tile logs. The hellos a link-up sends
    // are drained as they come, so the PRU side never fills.
    let h = hand_tile(&["--hello-ms", "60000", "--absent-ms", "600000"]);
    let t = &h.tile;
    let flaps: u64 = 5000;
    let start = Instant::now();
    for i in 0..flaps {
        h.pru0.send(&[0xc3, b'P', Dir::ET.dir8()]);
        h.pru0.send(&[0xc3, b'F', Dir::ET.dir8()]);
        if i % 64 == 0 {
            h.pru0.drain();
        }
    }
    eventually!(
        t.counter(Dir::ET, "sync_losses") == flaps,
        "every message handled; ET status:\n{}",
        t.read_to_string("tile/ET/status")
    );
    let elapsed = start.elapsed();
    // Every change was written or counted, and the count is reported
    // once its window has passed, with no further message to carry it.
    eventually!(
        {
            let (written, suppressed) = et_link_lines(&t.log_text());
            written + suppressed == 2 * flaps
        },
        "every link change written or counted; {:?}",
        et_link_lines(&t.log_text())
    );
    let log = t.log_text();
    let (written, suppressed) = et_link_lines(&log);
    // At most 10 lines a second: the seconds the flood took, and the one
    // it started in.
    let windows = elapsed.as_secs() + 2;
    eprintln!(
        "{} link changes in {elapsed:?}: {written} lines written, {suppressed} suppressed, \
         {} bytes of log",
        2 * flaps,
        log.len()
    );
    assert!(
        written <= 10 * windows,
        "{written} lines written in {elapsed:?} ({suppressed} suppressed)"
    );
    assert!(suppressed > 0);
    assert!(
        log.len() < 16 * 1024 + 200 * windows as usize,
        "{} bytes of log for {} link changes in {elapsed:?}",
        log.len(),
        2 * flaps
    );
    assert_eq!(t.dir_status(Dir::ET, "link"), "down");
}
