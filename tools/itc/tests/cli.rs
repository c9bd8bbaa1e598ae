//! End-to-end tests of `itc` as a user runs it: each test starts the real
//! `tile-sim` (a 1x2 grid of real `itcd` processes on real FUSE mounts) in
//! its own directory, waits until both tiles see each other, and runs the
//! real `itc` binary against the trees.
//!
//! `tile-sim` and `itcd` must sit next to the `itc` binary under test;
//! the tests build them there if need be (`test_support::workspace_bins`),
//! so `cargo test -p itc` works alone. Every grid is stopped with SIGTERM
//! by a guard, also when a test fails, and the guard checks that nothing
//! is left mounted. Tests wait on conditions with deadlines, never for a
//! fixed time, and may run in parallel.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{unmount_all_under, wait_for, workspace_bins};

/// How long any condition or command may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// The binaries under test, all in the directory of `itc`.
struct Bins {
    itc: PathBuf,
    tile_sim: PathBuf,
    itcd: PathBuf,
}

fn bins() -> Bins {
    let itc = PathBuf::from(env!("CARGO_BIN_EXE_itc"));
    let dir = itc.parent().expect("itc has a directory").to_path_buf();
    // `cargo test -p itc` alone builds only itc: build the others here.
    let built = workspace_bins(&dir, &[("tile-sim", "tile-sim"), ("itcio", "itcd")]);
    Bins {
        itc,
        tile_sim: built[0].clone(),
        itcd: built[1].clone(),
    }
}

/// A fresh directory name for one test.
fn unique_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "itc-cli-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// Waits for `child` until the deadline; kills it if it is still running.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A running `tile-sim run --rows 1 --cols 2` and its directory; stopped
/// and checked on drop.
struct Grid {
    bins: Bins,
    dir: PathBuf,
    child: Option<Child>,
}

impl Grid {
    /// Starts the grid and waits until r0c0 sees r0c1 at ET and r0c1 sees
    /// r0c0 at WT.
    fn start(tag: &str) -> Grid {
        let bins = bins();
        let dir = unique_dir(tag);
        fs::create_dir_all(&dir).expect("create test directory");
        let log = fs::File::create(dir.join("tile-sim.log")).expect("log file");
        let child = Command::new(&bins.tile_sim)
            .args(["run", "--rows", "1", "--cols", "2", "--rate", "0"])
            .args(["--hello", "100", "--dir"])
            .arg(dir.join("grid"))
            .arg("--itcd")
            .arg(&bins.itcd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start tile-sim");
        let grid = Grid {
            bins,
            dir,
            child: Some(child),
        };
        let present = |tile: &str, d: &str| {
            fs::read_to_string(grid.mount(tile).join(format!("tile/{d}/status")))
                .is_ok_and(|s| s.lines().any(|l| l == "peer: present"))
        };
        assert!(
            wait_for(DEADLINE, || present("r0c0", "ET") && present("r0c1", "WT")),
            "the tiles never saw each other; tile-sim log:\n{}",
            grid.log()
        );
        grid
    }

    fn mount(&self, tile: &str) -> PathBuf {
        self.dir.join("grid").join(tile)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("tile-sim.log")).unwrap_or_default()
    }

    /// `itc --mount <tile's mount> ARGS`, not yet waited for.
    fn itc(&self, tile: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bins.itc);
        cmd.arg("--mount").arg(self.mount(tile)).args(args);
        cmd.env_remove("ITC_MOUNT").stdin(Stdio::null());
        cmd
    }

    /// Runs `itc` on `tile` to completion (within the deadline).
    fn run(&self, tile: &str, args: &[&str]) -> Output {
        run(self.itc(tile, args))
    }

    /// Stops tile-sim with SIGTERM and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), Signal::SIGTERM);
            if wait_child(&mut child, DEADLINE).is_none() {
                // tile-sim hung: stop its itcds by the pids it printed.
                for pid in self
                    .log()
                    .lines()
                    .filter(|l| l.starts_with('r'))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u32>().ok())
                {
                    signal(pid, Signal::SIGKILL);
                }
                unmount_all_under(&self.dir);
                if !std::thread::panicking() {
                    panic!("tile-sim did not stop on SIGTERM; log:\n{}", self.log());
                }
            }
        }
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.stop();
        let left = unmount_all_under(&self.dir);
        if left.is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        } else if !std::thread::panicking() {
            panic!("still mounted after tile-sim stopped: {left:?}");
        }
    }
}

/// Runs a command to completion, killing it and failing at the deadline.
fn run(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start itc");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("wait for itc"),
        Err(_) => {
            signal(pid, Signal::SIGKILL);
            panic!("{cmd:?} did not finish in {DEADLINE:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A spawned, long-running `itc` with its stdout read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

/// The batched twin of a packet file: `itc/svc/20` is
/// `itc/batch/svc/20`, `tile/WT/mfm` is `tile/WT/batch/mfm`.
fn batched_twin(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default();
    let parent = path.parent().unwrap_or(path);
    if parent.file_name().is_some_and(|n| n == "svc") {
        let scope = parent.parent().unwrap_or(parent);
        scope.join("batch").join("svc").join(name)
    } else {
        parent.join("batch").join(name)
    }
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start itc");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .expect("a line from itc before the deadline")
    }

    /// Waits until the process has `path` open, or the batched twin of
    /// that packet file (the same channel; `itc` reads many packets
    /// through it).
    fn wait_open(&self, path: &Path) {
        let fds = PathBuf::from(format!("/proc/{}/fd", self.child.id()));
        let twin = batched_twin(path);
        let has_open = || {
            fs::read_dir(&fds).is_ok_and(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| fs::read_link(e.path()).is_ok_and(|l| l == path || l == twin))
            })
        };
        assert!(
            wait_for(DEADLINE, has_open),
            "itc never opened {}",
            path.display()
        );
    }

    /// Waits for the exit; returns the status code and the rest of stdout
    /// and stderr.
    fn finish(mut self) -> (Option<i32>, Vec<String>, String) {
        let status = wait_child(&mut self.child, DEADLINE).expect("itc exits before the deadline");
        let rest = self.lines.iter().collect();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        (status.code(), rest, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether `s` looks like `2026-11-22T01:02:03.456Z`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && humantime::parse_rfc3339(s).is_ok()
}

#[test]
fn status_shows_the_neighbour() {
    let grid = Grid::start("status");
    let out = grid.run("r0c0", &["status"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("tile r0c0"), "{stdout}");
    let et: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("ET "))
        .expect("an ET row")
        .split_whitespace()
        .collect();
    assert_eq!(&et[..5], ["ET", "up", "present", "r0c1", "compatible"]);
    let se = stdout
        .lines()
        .find(|l| l.starts_with("SE "))
        .expect("SE row");
    assert!(se.contains("absent"), "{se}");
    assert_eq!(
        stdout.lines().count(),
        8,
        "title, header, six rows:\n{stdout}"
    );

    let out = grid.run("r0c0", &["status", "--json"]);
    let json = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(json.starts_with("{\"tile\":\"r0c0\""), "{json}");
    assert!(
        json.contains(
            "{\"dir\":\"ET\",\"link\":\"up\",\"peer\":\"present\",\"name\":\"r0c1\",\"physics\":\"compatible\""
        ),
        "{json}"
    );
    assert_eq!(json.lines().count(), 1);
    // `since` is the time of a presence change: ET's neighbour came, so
    // it has one; SE never had a neighbour, and its status file's `since`
    // (itcd's start) is no such time.
    let since = |d: &str| {
        let start = json
            .find(&format!("{{\"dir\":\"{d}\""))
            .unwrap_or_else(|| panic!("no {d} object in {json}"));
        let object = &json[start..start + json[start..].find('}').expect("object end")];
        let value = object
            .split_once("\"since\":")
            .unwrap_or_else(|| panic!("no since in {object}"))
            .1;
        value[..value.find(',').unwrap_or(value.len())].to_string()
    };
    let et_since = since("ET");
    assert!(
        humantime::parse_rfc3339(et_since.trim_matches('"')).is_ok(),
        "ET since {et_since} in {json}"
    );
    assert_eq!(since("SE"), "null", "{json}");
    let se_file = test_support::status_value(&grid.mount("r0c0").join("tile/SE/status"), "since");
    assert!(!se_file.is_empty(), "tile/SE/status has a since line");

    // $ITC_MOUNT stands in for --mount.
    let mut cmd = Command::new(&grid.bins.itc);
    cmd.arg("status").env("ITC_MOUNT", grid.mount("r0c1"));
    let out = run(cmd);
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("WT ") && l.contains("present") && l.contains("r0c0")),
        "{stdout}{}",
        text(&out.stderr)
    );
}

#[test]
fn send_and_recv_text() {
    let grid = Grid::start("sendrecv");
    let recv = Running::spawn(grid.itc(
        "r0c1",
        &[
            "recv",
            "--svc",
            "20",
            "--count",
            "1",
            "--text",
            "--timeout",
            "20",
        ],
    ));
    recv.wait_open(&grid.mount("r0c1").join("itc/svc/20"));
    let out = grid.run("r0c0", &["send", "--dir", "ET", "--svc", "20", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());

    let first = recv.next_line();
    let (time, rest) = first.split_once(' ').expect("time and event");
    assert!(is_timestamp(time), "{first}");
    assert_eq!(rest, "WT event Connect");
    let data = recv.next_line();
    assert!(data.ends_with(" WT svc20 5 hello"), "{data}");
    let (code, rest, err) = recv.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(rest.is_empty(), "{rest:?}");
}

/// More than one packet goes through the batched twins of the files,
/// many per call, and shows exactly as one at a time does.
#[test]
fn many_packets_go_through_the_batched_files_and_show_the_same() {
    let grid = Grid::start("batched");
    let recv = Running::spawn(grid.itc(
        "r0c1",
        &[
            "recv",
            "--svc",
            "27",
            "--count",
            "500",
            "--text",
            "--timeout",
            "20",
        ],
    ));
    let plain = grid.mount("r0c1").join("itc/svc/27");
    recv.wait_open(&batched_twin(&plain));
    let out = grid.run(
        "r0c0",
        &["send", "--dir", "ET", "--svc", "27", "--count", "500", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert!(recv.next_line().ends_with(" WT event Connect"));
    for i in 0..500 {
        let line = recv.next_line();
        let (time, rest) = line.split_once(' ').expect("time and packet");
        assert!(is_timestamp(time), "{line}");
        assert_eq!(rest, "WT svc27 2 hi", "packet {i}");
    }
    let (code, rest, err) = recv.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(rest.is_empty() && err.is_empty(), "{rest:?} {err}");
    // Errors name the file the user asked for, not its twin.
    let out = grid.run(
        "r0c0",
        &["send", "--dir", "SE", "--svc", "27", "--count", "3", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "itc: {}: no neighbour in that direction (EHOSTUNREACH)\n",
            grid.mount("r0c0").join("tile/SE/svc/27").display()
        )
    );
}

#[test]
fn send_and_recv_hex_mfm_from_one_direction() {
    let grid = Grid::start("mfm");
    let recv = Running::spawn(grid.itc(
        "r0c1",
        &[
            "recv",
            "--mfm",
            "--dir",
            "WT",
            "--count",
            "2",
            "--timeout",
            "20",
        ],
    ));
    recv.wait_open(&grid.mount("r0c1").join("tile/WT/mfm"));
    let out = grid.run(
        "r0c0",
        &[
            "send", "--dir", "ET", "--mfm", "--hex", "de ad 01", "--count", "2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(recv.next_line().ends_with(" WT event Connect"));
    for _ in 0..2 {
        let line = recv.next_line();
        assert!(line.ends_with(" WT mfm 3 de ad 01"), "{line}");
    }
    let (code, _, err) = recv.finish();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn recv_times_out_with_status_1() {
    let grid = Grid::start("timeout");
    let out = grid.run(
        "r0c0",
        &["recv", "--svc", "21", "--count", "1", "--timeout", "0.3"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.trim_end().ends_with(" ET event Connect"), "{stdout}");
}

#[test]
fn second_reader_gets_busy() {
    let grid = Grid::start("busy");
    let first = Running::spawn(grid.itc("r0c0", &["recv", "--svc", "22", "--timeout", "20"]));
    let path = grid.mount("r0c0").join("itc/svc/22");
    first.wait_open(&path);
    let out = grid.run("r0c0", &["recv", "--svc", "22"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "itc: {}: busy: already open in itc[{}] (EBUSY)\n",
            path.display(),
            first.child.id()
        )
    );
}

#[test]
fn ping_gets_three_replies() {
    let grid = Grid::start("ping");
    let out = grid.run("r0c1", &["ping", "WT", "-c", "3", "-i", "0.2"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("PING r0c0 (WT)"), "{stdout}");
    let replies: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" bytes from r0c0 (WT): seq="))
        .collect();
    assert_eq!(replies.len(), 3, "{stdout}");
    for (i, r) in replies.iter().enumerate() {
        assert!(r.contains(&format!("seq={} time=", i + 1)), "{r}");
        assert!(r.ends_with(" ms"), "{r}");
    }
    assert!(stdout.contains("--- WT ping statistics ---"), "{stdout}");
    assert!(
        stdout.contains("3 packets transmitted, 3 received, 0% packet loss"),
        "{stdout}"
    );
    assert!(stdout.contains("rtt min/avg/max/mdev = "), "{stdout}");
}

/// `-i 0` sends as fast as the tree takes requests; the replies must still
/// be read and shown, not left queued while requests go out.
#[test]
fn ping_with_no_interval_still_shows_replies() {
    let grid = Grid::start("flood");
    let ping = Running::spawn(grid.itc("r0c0", &["ping", "ET", "-i", "0"]));
    assert!(ping.next_line().starts_with("PING r0c1 (ET)"));
    let reply = ping.next_line();
    assert!(reply.contains(" bytes from r0c1 (ET): seq="), "{reply}");
    signal(ping.child.id(), Signal::SIGINT);
    let (code, rest, err) = ping.finish();
    assert_eq!(code, Some(0), "{rest:?} {err}");
    assert!(
        rest.iter().any(|l| l == "--- ET ping statistics ---"),
        "{rest:?}"
    );
}

#[test]
fn ping_without_neighbour_fails() {
    let grid = Grid::start("unreach");
    let out = grid.run("r0c0", &["ping", "SE", "-c", "1"]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(out.status.code(), Some(2));
    let path = grid.mount("r0c0").join("tile/SE/svc/02");
    assert_eq!(
        text(&out.stderr),
        format!(
            "itc: {}: no neighbour in that direction (EHOSTUNREACH)\n",
            path.display()
        )
    );
}

#[test]
fn events_start_with_connect_and_end_quietly_on_sigint() {
    let grid = Grid::start("events");
    let events = Running::spawn(grid.itc("r0c0", &["events"]));
    let first = events.next_line();
    let (time, rest) = first.split_once(' ').expect("time and event");
    assert!(is_timestamp(time), "{first}");
    assert_eq!(rest, "ET Connect");
    // Blocked waiting for the next event: SIGINT ends it at once.
    signal(events.child.id(), Signal::SIGINT);
    let (code, rest, err) = events.finish();
    assert_eq!(code, Some(0));
    assert!(rest.is_empty(), "{rest:?}");
    assert!(err.is_empty(), "{err}");
}

/// While packets flow without pause, the file is always ready and `itc`
/// never waits: SIGINT must still end `send --count N` (status 130) and
/// `recv` (status 0) at once, not after the last packet.
#[test]
fn sigint_ends_send_and_recv_while_packets_flow() {
    let grid = Grid::start("flow");
    let recv = Running::spawn(grid.itc("r0c1", &["recv", "--svc", "23"]));
    recv.wait_open(&grid.mount("r0c1").join("itc/svc/23"));
    // Far more packets than fit in the deadline.
    let send = Running::spawn(grid.itc(
        "r0c0",
        &[
            "send",
            "--dir",
            "ET",
            "--svc",
            "23",
            "--count",
            "1000000000",
            "x",
        ],
    ));
    let data = || {
        recv.lines
            .recv_timeout(DEADLINE)
            .is_ok_and(|l| l.ends_with(" WT svc23 1 78"))
    };
    assert!(wait_for(DEADLINE, data), "no data reached the reader");

    signal(recv.child.id(), Signal::SIGINT);
    let (code, _, err) = recv.finish();
    assert_eq!(code, Some(0), "recv: {err}");

    let sent = || {
        test_support::status_value(&grid.mount("r0c0").join("tile/ET/status"), "tx_svc_packets")
            .parse::<u64>()
            .is_ok_and(|n| n > 1000)
    };
    assert!(wait_for(DEADLINE, sent), "the sender is not streaming");
    signal(send.child.id(), Signal::SIGINT);
    let (code, rest, err) = send.finish();
    assert_eq!(code, Some(130), "send: {err}");
    assert!(rest.is_empty() && err.is_empty(), "{rest:?} {err}");
}

#[test]
fn reader_is_told_when_itcd_stops() {
    let grid = Grid::start("stopped");
    let recv = Running::spawn(grid.itc("r0c1", &["recv", "--svc", "24"]));
    let path = grid.mount("r0c1").join("itc/svc/24");
    recv.wait_open(&path);
    let out = run({
        let mut cmd = Command::new(&grid.bins.tile_sim);
        cmd.args(["ctl", "--dir"])
            .arg(grid.dir.join("grid"))
            .args(["stop", "r0c1"]);
        cmd
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (code, _, err) = recv.finish();
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "itc: {}: itcd stopped serving {}: run the command again once it is back (ENOTCONN)\n",
            path.display(),
            grid.mount("r0c1").display()
        )
    );
}

#[test]
fn physics_is_set_and_read_back() {
    let grid = Grid::start("physics");
    // An empty id reads "(none)", as in the status title.
    let out = grid.run("r0c0", &["physics"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "(none)\n");
    let out = grid.run("r0c0", &["status"]);
    assert!(
        text(&out.stdout).starts_with("tile r0c0  physics (none)\n"),
        "{}",
        text(&out.stdout)
    );
    let out = grid.run("r0c0", &["physics", "foo"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = grid.run("r0c0", &["physics"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "foo\n");
    // The neighbour learns it from the next hello.
    let incompatible = || {
        let out = grid.run("r0c1", &["status"]);
        text(&out.stdout)
            .lines()
            .any(|l| l.starts_with("WT ") && l.contains(" incompatible "))
    };
    assert!(wait_for(DEADLINE, incompatible));

    let out = grid.run("r0c0", &["physics", "a\tb"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).ends_with("(EINVAL)\n"),
        "{}",
        text(&out.stderr)
    );

    // Cleared again, it reads "(none)" again.
    let out = grid.run("r0c0", &["physics", ""]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = grid.run("r0c0", &["physics"]);
    assert_eq!(text(&out.stdout), "(none)\n");
}

#[test]
fn wrong_mount_is_explained() {
    let bins = bins();
    let nowhere = unique_dir("nowhere");
    let out = run({
        let mut cmd = Command::new(&bins.itc);
        cmd.arg("--mount").arg(&nowhere).arg("status");
        cmd
    });
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        format!(
            "itc: {d}/itc/status: no such file: is itcd running and mounted at {d}? (ENOENT)\n",
            d = nowhere.display()
        )
    );
}

#[test]
fn mount_next_to_a_tree_points_at_it() {
    let grid = Grid::start("near");
    let tile = grid.mount("r0c0");
    for (wrong, tree) in [
        (grid.dir.join("grid"), tile.clone()),
        (tile.join("itc"), tile.clone()),
    ] {
        let out = run({
            let mut cmd = Command::new(&grid.bins.itc);
            cmd.arg("--mount").arg(&wrong).arg("status");
            cmd
        });
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            text(&out.stderr),
            format!(
                "itc: {w}/itc/status: no such file: {w} is not a tree, but {t} is: use --mount {t} (ENOENT)\n",
                w = wrong.display(),
                t = tree.display()
            )
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let bins = bins();
    for args in [
        &["send", "--svc", "20", "hi"][..],
        &["send", "--dir", "ET", "--svc", "1", "hi"],
        &["send", "--dir", "XX", "--mfm"],
        &["send", "--dir", "ET", "--mfm", "--hex", "abc"],
        &["recv"],
        &["ping", "ET", "-i", "-1"],
    ] {
        let mut cmd = Command::new(&bins.itc);
        cmd.args(["--mount", "/nonexistent"]).args(args);
        let out = run(cmd);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn long_help_lists_the_exit_statuses() {
    let bins = bins();
    let mut cmd = Command::new(&bins.itc);
    cmd.arg("--help");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Exit status: 0 done; 1 when ping"), "{help}");
    assert!(help.contains("2 on errors and bad usage"), "{help}");
}

/// A newline in the mount's name must not break the one-line error.
#[test]
fn errors_stay_on_one_line_whatever_the_path() {
    let dir = unique_dir("odd");
    let mount = dir.join("a b\nc");
    fs::create_dir_all(&mount).expect("create the mount point");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_itc"));
    cmd.arg("--mount").arg(&mount).arg("status");
    cmd.env_remove("ITC_MOUNT").stdin(Stdio::null());
    let out = run(cmd);
    let _ = fs::remove_dir_all(&dir);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "itc: {0}/a b\\nc/itc/status: no such file: is itcd running and mounted at {0}/a b\\nc? (ENOENT)\n",
            dir.display()
        )
    );
}

/// Sends SIGCONT to a SIGSTOPped itcd on drop, also when a test fails.
struct Stopped(u32);

impl Stopped {
    fn stop(pid: u32) -> Stopped {
        signal(pid, Signal::SIGSTOP);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, Signal::SIGCONT);
    }
}

/// Whether process `pid` waits for the FUSE daemon to answer.
fn waits_for_fuse(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/wchan"))
        .is_ok_and(|w| w.contains("request_wait_answer"))
}

/// A command blocked in `open()`, `read()` or `write()` on the tree of a
/// stopped (or hung) itcd dies on Ctrl-C, as `cat` does: SIGINT is not
/// held back outside the waits in `ppoll`.
#[test]
fn sigint_ends_a_command_waiting_for_a_stopped_itcd() {
    use std::os::unix::process::ExitStatusExt;

    let grid = Grid::start("hung");
    let pid: u32 = test_support::status_value(&grid.mount("r0c0").join("itc/self"), "pid")
        .parse()
        .expect("itcd's pid in itc/self");
    for args in [&["status"][..], &["events"], &["physics", "x"]] {
        let stopped = Stopped::stop(pid);
        let mut cmd = grid.itc("r0c0", args);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start itc");
        let blocked = wait_for(DEADLINE, || waits_for_fuse(child.id()));
        signal(child.id(), Signal::SIGINT);
        let status = wait_child(&mut child, DEADLINE);
        drop(stopped);
        assert!(blocked, "{args:?} never waited for itcd");
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(Signal::SIGINT as i32),
            "{args:?} did not end on SIGINT while itcd was stopped: {status:?}"
        );
    }
}

/// `send` prints nothing, so a standard output whose reader is gone
/// (`itc send ... | true`) must not stop it: every packet still goes out.
#[test]
fn send_ignores_a_closed_stdout() {
    let grid = Grid::start("sendpipe");
    let recv = Running::spawn(grid.itc(
        "r0c1",
        // Within DEADLINE, so that missing packets fail the assertions.
        &["recv", "--svc", "25", "--count", "3", "--timeout", "10"],
    ));
    recv.wait_open(&grid.mount("r0c1").join("itc/svc/25"));
    let mut cmd = grid.itc(
        "r0c0",
        &["send", "--dir", "ET", "--svc", "25", "--count", "3", "x"],
    );
    let mut send = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start itc");
    // The reader of send's standard output goes away at once.
    drop(send.stdout.take());
    let status = wait_child(&mut send, DEADLINE).expect("send exits");
    assert_eq!(status.code(), Some(0));
    let (code, lines, err) = recv.finish();
    assert_eq!(code, Some(0), "{lines:?} {err}");
    let data = lines
        .iter()
        .filter(|l| l.ends_with(" WT svc25 1 78"))
        .count();
    assert_eq!(data, 3, "{lines:?}");
}

/// Status files escape a backslash in a physics id (or name) as `\\`;
/// `status --json` gives the id itself, as `itc physics` prints it.
#[test]
fn status_json_gives_the_physics_id_itself() {
    let grid = Grid::start("jsonid");
    let out = grid.run("r0c0", &["physics", "a\\b"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = grid.run("r0c0", &["physics"]);
    assert_eq!(text(&out.stdout), "a\\b\n");
    let out = grid.run("r0c0", &["status", "--json"]);
    let json = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The JSON string "a\\b" is a, one backslash, b.
    assert!(
        json.starts_with("{\"tile\":\"r0c0\",\"physics\":\"a\\\\b\","),
        "{json}"
    );
}

/// An MFM write that no neighbour takes says why: nobody there, or a
/// neighbour there with another physics id (read from `tile/<D>/status`).
#[test]
fn send_says_whether_the_neighbour_is_missing_or_of_another_physics() {
    let grid = Grid::start("mfmunreach");
    // r0c0 has nobody at WT.
    let out = grid.run("r0c0", &["send", "--dir", "WT", "--mfm", "--hex", "01"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "itc: {}: no neighbour in that direction (EHOSTUNREACH)\n",
            grid.mount("r0c0").join("tile/WT/mfm").display()
        )
    );

    // r0c1 at ET is present with another physics id.
    let out = grid.run("r0c1", &["physics", "b"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status = grid.mount("r0c0").join("tile/ET/status");
    assert!(wait_for(DEADLINE, || {
        test_support::status_value(&status, "physics") == "incompatible"
    }));
    let out = grid.run("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", "01"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "itc: {}: the neighbour in that direction (r0c1) has another physics id \
             (its: b, this tile's: (none)): MFM flows only between equal ids (EHOSTUNREACH)\n",
            grid.mount("r0c0").join("tile/ET/mfm").display()
        )
    );
}

/// `send` without a payload is a usage error, not a header-only packet;
/// `--hex ''` asks for one. `recv` that gets fewer than `--count` says
/// how many came.
#[test]
fn send_needs_a_payload_and_recv_says_how_many_came() {
    let grid = Grid::start("payload");
    let out = grid.run("r0c0", &["send", "--dir", "ET", "--mfm"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "itc: send: no payload: give TEXT or --hex HEX (--hex '' sends the header alone)\n"
    );
    let sent =
        test_support::status_value(&grid.mount("r0c0").join("tile/ET/status"), "tx_mfm_packets");
    assert_eq!(sent, "0", "nothing was sent");

    let recv = Running::spawn(grid.itc(
        "r0c1",
        &["recv", "--mfm", "--count", "3", "--timeout", "2.5"],
    ));
    recv.wait_open(&grid.mount("r0c1").join("itc/mfm"));
    let out = grid.run("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", ""]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(recv.next_line().ends_with(" WT event Connect"));
    let line = recv.next_line();
    assert!(line.ends_with(" WT mfm 0"), "{line}");
    let (code, rest, err) = recv.finish();
    assert_eq!(code, Some(1), "{rest:?}");
    assert_eq!(err, "itc: got 1 of 3 packets in 2.5 s\n");
}

/// One representation of "no physics id": an empty value in the status
/// files, `""` in `status --json`, `(none)` where `itc` shows it to people.
#[test]
fn an_empty_physics_id_is_empty_in_files_and_none_for_people() {
    let grid = Grid::start("nophysics");
    let status = grid.mount("r0c0").join("tile/ET/status");
    let lines = fs::read_to_string(&status).expect("tile/ET/status");
    assert!(lines.lines().any(|l| l == "peer_physics: "), "{lines}");
    assert!(lines.lines().any(|l| l == "physics: compatible"), "{lines}");
    let me = fs::read_to_string(grid.mount("r0c0").join("itc/self")).expect("itc/self");
    assert!(me.lines().any(|l| l == "physics: "), "{me}");
    let out = grid.run("r0c0", &["status", "--json"]);
    let json = text(&out.stdout);
    assert!(
        json.starts_with("{\"tile\":\"r0c0\",\"physics\":\"\","),
        "{json}"
    );
    assert!(
        json.contains("\"physics\":\"compatible\",\"peer_physics\":\"\","),
        "{json}"
    );
    let out = grid.run("r0c0", &["status"]);
    assert!(text(&out.stdout).starts_with("tile r0c0  physics (none)\n"));

    let out = grid.run("r0c1", &["physics", "b"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(wait_for(DEADLINE, || {
        test_support::status_value(&status, "peer_physics") == "b"
    }));
    let out = grid.run("r0c0", &["status", "--json"]);
    let json = text(&out.stdout);
    assert!(
        json.contains("\"physics\":\"incompatible\",\"peer_physics\":\"b\","),
        "{json}"
    );
}

/// `recv --dir D` takes D's packets away from the reader of `itc/...`
/// (inbound routing prefers `tile/<D>/...`) and warns about it; a
/// write-only holder of `itc/...` loses nothing and is not mentioned.
#[test]
fn recv_from_one_direction_warns_about_the_reader_it_shadows() {
    let grid = Grid::start("shadow");
    let itc_mfm = grid.mount("r0c1").join("itc/mfm");
    let dir_mfm = grid.mount("r0c1").join("tile/WT/mfm");
    // The "engine": reads every direction through itc/mfm.
    let engine = Running::spawn(grid.itc("r0c1", &["recv", "--mfm"]));
    engine.wait_open(&itc_mfm);
    assert!(engine.next_line().ends_with(" WT event Connect"));

    let mut cmd = grid.itc(
        "r0c1",
        &[
            "recv",
            "--mfm",
            "--dir",
            "WT",
            "--count",
            "1",
            "--timeout",
            "20",
        ],
    );
    cmd.stderr(Stdio::piped());
    let mut shadow = cmd.stdout(Stdio::piped()).spawn().expect("start itc");
    // The engine, an itc recv without --count, reads through the batched
    // twin of itc/mfm, and the warning names the file it has open.
    let warning = format!(
        "itc: warning: itc[{}] reads {}; while this runs, mfm packets from WT come to {} \
         instead and itc[{}] gets none of them",
        engine.child.id(),
        batched_twin(&itc_mfm).display(),
        dir_mfm.display(),
        engine.child.id()
    );
    let mut err = BufReader::new(shadow.stderr.take().expect("stderr"));
    let mut first = String::new();
    err.read_line(&mut first).expect("read the warning");
    assert_eq!(first.trim_end(), warning);

    let out = grid.run("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", "be ef"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status = wait_child(&mut shadow, DEADLINE).expect("the shadowing recv exits");
    assert_eq!(status.code(), Some(0));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut shadow.stdout.take().expect("stdout"), &mut out)
        .expect("its output");
    assert!(out.lines().any(|l| l.ends_with(" WT mfm 2 be ef")), "{out}");

    // Once it is gone the engine gets WT's packets again, and it never
    // saw the one taken from it.
    let out = grid.run("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", "01"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = engine.next_line();
    assert!(line.ends_with(" WT mfm 1 01"), "{line}");
    signal(engine.child.id(), Signal::SIGINT);
    let (code, rest, err) = engine.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(rest.is_empty(), "{rest:?}");

    // A write-only holder of itc/mfm (this test) takes nothing: no warning.
    let _writer = fs::OpenOptions::new()
        .write(true)
        .open(&itc_mfm)
        .expect("open itc/mfm for writing");
    let out = grid.run(
        "r0c1",
        &[
            "recv",
            "--mfm",
            "--dir",
            "WT",
            "--count",
            "1",
            "--timeout",
            "0.2",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "itc: got 0 of 1 packets in 0.2 s\n");
}

/// `tile-sim ctl` with `ARGS` on the grid; must succeed.
fn ctl(grid: &Grid, args: &[&str]) {
    let out = run({
        let mut cmd = Command::new(&grid.bins.tile_sim);
        cmd.args(["ctl", "--dir"])
            .arg(grid.dir.join("grid"))
            .args(args);
        cmd
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "ctl {args:?}: {}",
        text(&out.stderr)
    );
}

/// `itc events` (by default) and `itc recv --follow` go on across a
/// restart of `itcd`, saying on stderr when the tree goes and comes back;
/// `--no-follow` makes the loss an error, as it is for plain `recv`.
#[test]
fn events_and_recv_follow_a_restarted_itcd() {
    let grid = Grid::start("follow");
    let mount = grid.mount("r0c0");
    let events = Running::spawn(grid.itc("r0c0", &["events"]));
    assert!(events.next_line().ends_with(" ET Connect"));
    let recv = Running::spawn(grid.itc("r0c0", &["recv", "--mfm", "--follow"]));
    assert!(recv.next_line().ends_with(" ET event Connect"));
    let once = Running::spawn(grid.itc("r0c0", &["events", "--no-follow"]));
    assert!(once.next_line().ends_with(" ET Connect"));

    ctl(&grid, &["stop", "r0c0"]);
    let (code, _, err) = once.finish();
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "itc: {}/itc/events: itcd stopped serving {}: run the command again once it is back (ENOTCONN)\n",
            mount.display(),
            mount.display()
        )
    );
    ctl(&grid, &["start", "r0c0"]);

    // Events go on: the new tree's Connect for r0c1.
    assert!(events.next_line().ends_with(" ET Connect"));
    assert!(recv.next_line().ends_with(" ET event Connect"));
    // And packets reach the reopened file.
    let out = grid.run("r0c1", &["send", "--dir", "WT", "--mfm", "--hex", "ab"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = recv.next_line();
    assert!(line.ends_with(" ET mfm 1 ab"), "{line}");

    for (running, file) in [(events, "itc/events"), (recv, "itc/mfm")] {
        signal(running.child.id(), Signal::SIGINT);
        let (code, rest, err) = running.finish();
        assert_eq!(code, Some(0), "{file}: {rest:?} {err}");
        assert_eq!(
            err,
            format!(
                "itc: {m}/{file}: itcd stopped serving {m} (ENOTCONN); waiting for it to come back\n\
                 itc: {m}: served again; reading {m}/{file}\n",
                m = mount.display()
            )
        );
    }
}

/// `recv --follow` reopens an MFM file made stale by a physics change.
#[test]
fn recv_follow_reopens_after_a_physics_change() {
    let grid = Grid::start("stale");
    let mount = grid.mount("r0c1");
    let recv = Running::spawn(grid.itc("r0c1", &["recv", "--mfm", "--follow"]));
    recv.wait_open(&mount.join("itc/mfm"));
    assert!(recv.next_line().ends_with(" WT event Connect"));
    // Both tiles change to the same physics, so MFM flows again.
    for tile in ["r0c1", "r0c0"] {
        let out = grid.run(tile, &["physics", "p2"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let compatible = || {
        test_support::status_value(&grid.mount("r0c0").join("tile/ET/status"), "physics")
            == "compatible"
    };
    assert!(wait_for(DEADLINE, compatible));
    let sent = || {
        grid.run("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", "cd"])
            .status
            .success()
    };
    assert!(wait_for(DEADLINE, sent));
    // The reopened file's snapshot, then the packet.
    assert!(recv.next_line().ends_with(" WT event Connect"));
    let line = recv.next_line();
    assert!(line.ends_with(" WT mfm 1 cd"), "{line}");
    signal(recv.child.id(), Signal::SIGINT);
    let (code, _, err) = recv.finish();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err,
        format!(
            "itc: {}/itc/mfm: stale after a physics change (ESTALE): reopening it\n",
            mount.display()
        )
    );
}
