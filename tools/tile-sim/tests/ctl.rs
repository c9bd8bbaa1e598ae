//! `tile-sim ctl` as a user drives it: `tile-sim run` and `tile-sim ctl` as
//! processes, the grid's files, signals and the mount table.
//!
//! Every test runs its own 2x2 grid (real `itcd`s on real FUSE mounts, as
//! root) in a directory of its own, so tests run in parallel. A guard stops
//! the grid by pid and removes the directory, also when the test fails.
//! Nothing sleeps for a fixed time: conditions are awaited with a deadline.

use std::fs;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{mounts_under, status_value, unmount_all_under, wait_for, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// Builds `itcd` next to `tile-sim`, where `tile-sim run` looks for it
/// (`cargo test -p tile-sim` alone builds only tile-sim).
fn ensure_itcd() {
    let dir = Path::new(TILE_SIM)
        .parent()
        .expect("tile-sim has a directory");
    workspace_bins(dir, &[("itcio", "itcd")]);
}

/// Deadline for every awaited condition; generous, as tests share the CPU.
const DEADLINE: Duration = Duration::from_secs(20);

/// A directory of its own for each test.
fn scratch(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("tile-sim-ctl-{tag}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).expect("create the test directory");
    fs::canonicalize(&base).expect("canonical test directory")
}

/// Whether `pid` is a live `itcd` of the grid in `dir`.
fn itcd_of_grid_alive(pid: u32, dir: &Path) -> bool {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    cmdline.contains("itcd") && cmdline.contains(&*dir.to_string_lossy())
}

fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// What `tile-sim ctl` did.
#[derive(Debug)]
struct Ctl {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Ctl {
    fn from(o: Output) -> Ctl {
        Ctl {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

fn ctl_at(dir: &Path, args: &[&str]) -> Ctl {
    Command::new(TILE_SIM)
        .arg("ctl")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tile-sim ctl")
        .into()
}

/// One line of `ctl list`.
#[derive(Debug, Clone)]
struct Listed {
    name: String,
    pid: Option<u32>,
    state: String,
    mount: PathBuf,
    links: Vec<(String, String)>,
}

fn parse_list(text: &str) -> Vec<Listed> {
    text.lines()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            assert!(words.len() >= 4, "short list line {l:?}");
            Listed {
                name: words[0].to_string(),
                pid: words[1].parse().ok(),
                state: words[2].to_string(),
                mount: PathBuf::from(words[3]),
                links: words[4..]
                    .iter()
                    .map(|w| {
                        let (d, s) = w.split_once(':').expect("link as D:state");
                        (d.to_string(), s.to_string())
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A running `tile-sim run` and its directory; stopped and removed on drop.
struct Grid {
    child: Option<Child>,
    base: PathBuf,
    dir: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Grid {
    /// Starts a 2x2 grid in `base/grid` (creating `base`); does not wait.
    fn spawn_in(base: PathBuf) -> Grid {
        ensure_itcd();
        let dir = base.join("grid");
        let stdout = base.join("stdout");
        let stderr = base.join("stderr");
        let child = Command::new(TILE_SIM)
            .args(["run", "--rows", "2", "--cols", "2", "--rate", "0"])
            .args(["--hello", "100", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("stdout file"))
            .stderr(fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tile-sim run");
        Grid {
            child: Some(child),
            base,
            dir,
            stdout,
            stderr,
        }
    }

    /// Starts a grid and waits until every tree is served and every
    /// neighbour present.
    fn start(tag: &str) -> Grid {
        let grid = Grid::spawn_in(scratch(tag));
        grid.wait_ready();
        grid
    }

    fn wait_ready(&self) {
        let served = wait_for(DEADLINE, || {
            ["r0c0", "r0c1", "r1c0", "r1c1"]
                .iter()
                .all(|t| fs::read_to_string(self.dir.join(t).join("itc/self")).is_ok())
        });
        assert!(served, "trees not served; stderr:\n{}", self.stderr_text());
        let listed = self.list();
        for tile in &listed {
            for (d, _) in &tile.links {
                self.await_status(&tile.name, d, "peer", "present");
            }
        }
    }

    fn ctl(&self, args: &[&str]) -> Ctl {
        ctl_at(&self.dir, args)
    }

    fn list(&self) -> Vec<Listed> {
        let out = self.ctl(&["list"]);
        assert_eq!(out.code, Some(0), "ctl list failed: {out:?}");
        assert!(out.stderr.is_empty(), "ctl list wrote to stderr: {out:?}");
        parse_list(&out.stdout)
    }

    fn listed(&self, name: &str) -> Listed {
        self.list()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} not in the list"))
    }

    /// The value of `key` in `DIR/TILE/tile/D/status`, empty if unreadable.
    fn status(&self, tile: &str, dir: &str, key: &str) -> String {
        status_value(
            &self.dir.join(tile).join("tile").join(dir).join("status"),
            key,
        )
    }

    fn await_status(&self, tile: &str, dir: &str, key: &str, value: &str) {
        let held = wait_for(DEADLINE, || self.status(tile, dir, key) == value);
        assert!(
            held,
            "{tile}/tile/{dir}/status never showed {key}: {value} (last: {:?}); stderr:\n{}",
            self.status(tile, dir, key),
            self.stderr_text()
        );
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn stdout_text(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Sends `sig` to tile-sim and waits for it to exit.
    fn stop_with(&mut self, sig: Signal) -> ExitStatus {
        let mut child = self.child.take().expect("tile-sim running");
        signal(child.id(), sig);
        let mut status = None;
        let exited = wait_for(DEADLINE, || {
            status = child.try_wait().expect("wait for tile-sim");
            status.is_some()
        });
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tile-sim did not exit after {sig}; stderr:\n{}",
                self.stderr_text()
            );
        }
        status.expect("exit status")
    }

    /// Stops tile-sim with `sig` and checks that it exits 0 leaving no
    /// `itcd` among `pids`, nothing mounted and no control socket.
    fn stop_cleanly(&mut self, sig: Signal, pids: &[u32]) {
        let status = self.stop_with(sig);
        assert_eq!(
            status.code(),
            Some(0),
            "tile-sim exit status after {sig}; stderr:\n{}",
            self.stderr_text()
        );
        for pid in pids {
            assert!(
                !itcd_of_grid_alive(*pid, &self.dir),
                "itcd {pid} still alive after tile-sim exited"
            );
        }
        assert_eq!(
            mounts_under(&self.dir),
            Vec::<PathBuf>::new(),
            "left mounted"
        );
        assert!(
            !self.dir.join(".sim/ctl").exists(),
            "control socket left behind"
        );
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), Signal::SIGTERM);
            let exited = wait_for(DEADLINE, || matches!(child.try_wait(), Ok(Some(_))));
            if !exited {
                // Its itcds get SIGTERM when it dies (parent-death signal).
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Mounts of itcds that are going away, or of a broken run.
        unmount_all_under(&self.dir);
        let _ = fs::remove_dir_all(&self.base);
    }
}

#[test]
fn list_cut_restore_stop_start() {
    let mut grid = Grid::start("flow");
    let control = format!("control: tile-sim ctl --dir {} list", grid.dir.display());
    assert!(
        grid.stdout_text().contains(&control),
        "no {control:?} line in:\n{}",
        grid.stdout_text()
    );

    // list: four running tiles with their mounts and links.
    let listed = grid.list();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["r0c0", "r0c1", "r1c0", "r1c1"]);
    for t in &listed {
        assert_eq!(t.state, "running", "{t:?}");
        assert!(t.pid.is_some(), "{t:?}");
        assert_eq!(t.mount, grid.dir.join(&t.name), "{t:?}");
        assert!(t.links.iter().all(|(_, s)| s == "up"), "{t:?}");
    }
    let r0c0: Vec<&str> = listed[0].links.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(r0c0, ["ET", "SE"], "r0c0's wired directions");

    // cut: both ends lose the link.
    let out = grid.ctl(&["cut", "r0c0", "ET"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), ""), "{out:?}");
    grid.await_status("r0c0", "ET", "link", "down");
    grid.await_status("r0c1", "WT", "link", "down");
    let down = |t: &Listed, d: &str| t.links.iter().any(|(x, s)| x == d && s == "down");
    assert!(
        down(&grid.listed("r0c0"), "ET"),
        "{:?}",
        grid.listed("r0c0")
    );
    assert!(
        down(&grid.listed("r0c1"), "WT"),
        "{:?}",
        grid.listed("r0c1")
    );

    // restore: both ends get it back, and the neighbours find each other.
    let out = grid.ctl(&["restore", "r0c0", "ET"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    grid.await_status("r0c0", "ET", "link", "up");
    grid.await_status("r0c1", "WT", "link", "up");
    grid.await_status("r0c0", "ET", "peer", "present");
    assert!(!down(&grid.listed("r0c0"), "ET"));

    // stop: the itcd is gone, its tree unmounted, its neighbour absent.
    let old_pid = grid.listed("r0c1").pid.expect("r0c1 pid");
    let out = grid.ctl(&["stop", "r0c1"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let r0c1 = grid.listed("r0c1");
    assert_eq!((r0c1.pid, r0c1.state.as_str()), (None, "stopped"));
    assert!(!itcd_of_grid_alive(old_pid, &grid.dir), "old itcd alive");
    assert!(
        !mounts_under(&grid.dir).contains(&grid.dir.join("r0c1")),
        "r0c1 still mounted after stop"
    );
    grid.await_status("r0c0", "ET", "peer", "absent");

    // start: served again when ctl returns, and present to its neighbour.
    let out = grid.ctl(&["start", "r0c1"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let r0c1 = grid.listed("r0c1");
    assert_eq!(r0c1.state, "running");
    let new_pid = r0c1.pid.expect("r0c1 pid after start");
    let me = fs::read_to_string(grid.dir.join("r0c1/itc/self")).expect("r0c1 serves itc/self");
    assert!(me.contains(&format!("pid: {new_pid}\n")), "itc/self: {me}");
    grid.await_status("r0c0", "ET", "peer", "present");

    let pids: Vec<u32> = grid.list().iter().filter_map(|t| t.pid).collect();
    assert_eq!(pids.len(), 4);
    grid.stop_cleanly(Signal::SIGINT, &pids);
    // A tile stopped on purpose is not reported as died.
    let stderr = grid.stderr_text();
    assert!(!stderr.contains("exited"), "stderr:\n{stderr}");
    assert!(
        stderr.contains("4 itcds stopped in ") && stderr.contains(", each with exit status 0\n"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn bad_commands_exit_1_with_a_message() {
    let grid = Grid::start("bad");
    let cases: &[(&[&str], &str)] = &[
        (&["frobnicate"], "unknown command \"frobnicate\""),
        (&["cut", "r9c9", "ET"], "no tile \"r9c9\""),
        (&["cut", "r0c0", "NW"], "r0c0 has no wire toward NW"),
        (&["restore", "r1c1", "ET"], "r1c1 has no wire toward ET"),
        (&["cut", "r0c0", "XX"], "bad direction \"XX\""),
        (&["cut", "r0c0"], "usage: cut TILE D"),
        (&["stop"], "usage: stop TILE"),
        (&["list", "everything"], "usage: list"),
        (&["start", "r0c0"], "r0c0 is already running"),
        (&["stop", "r2c0"], "no tile \"r2c0\""),
    ];
    for (args, message) in cases {
        let out = grid.ctl(args);
        assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(
            out.stderr.starts_with("tile-sim: ") && out.stderr.contains(message),
            "{args:?}: expected {message:?} in {:?}",
            out.stderr
        );
    }
    // Stopping a stopped tile is refused too.
    assert_eq!(grid.ctl(&["stop", "r1c1"]).code, Some(0));
    let out = grid.ctl(&["stop", "r1c1"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("r1c1 is not running"), "{out:?}");
    // Longer than a socket buffer holds: refused as too long, not a
    // broken pipe.
    let long: Vec<String> = (0..10).map(|_| "a".repeat(100_000)).collect();
    let mut args = vec!["list"];
    args.extend(long.iter().map(String::as_str));
    let out = grid.ctl(&args);
    assert_eq!(out.code, Some(1), "{:?}", out.code);
    assert!(
        out.stderr
            .starts_with("tile-sim: request longer than 1024 bytes"),
        "{:?}",
        out.stderr
    );
    // The grid still answers after all that.
    assert_eq!(grid.list().len(), 4);
}

#[test]
fn ctl_without_a_grid_exits_2() {
    let base = scratch("none");
    let out = ctl_at(&base, &["list"]);
    let expected = format!(
        "tile-sim: no tile-sim running at {0} (no {0}/.sim/ctl)\n",
        base.display()
    );
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (Some(2), expected.as_str())
    );

    // A socket left by a tile-sim that is gone.
    fs::create_dir_all(base.join(".sim")).expect("mkdir .sim");
    drop(UnixListener::bind(base.join(".sim/ctl")).expect("bind a socket"));
    let out = ctl_at(&base, &["list"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("no tile-sim running at"), "{out:?}");

    // A file given as the grid's directory.
    let file = base.join("file");
    fs::write(&file, "").expect("a plain file");
    let out = ctl_at(&file, &["list"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("no tile-sim running at") && out.stderr.contains("not a directory"),
        "{out:?}"
    );
    let _ = fs::remove_dir_all(&base);
}

/// Clients that connect and say nothing are each given their time in
/// turn; once the grid is told to stop, those still queued must not keep
/// it from exiting.
#[test]
fn idle_clients_do_not_delay_the_exit() {
    use std::os::unix::net::UnixStream;
    use std::time::Instant;

    let mut grid = Grid::start("idle");
    let pids: Vec<u32> = grid.list().iter().filter_map(|t| t.pid).collect();
    let idle: Vec<UnixStream> = (0..8)
        .map(|_| UnixStream::connect(grid.dir.join(".sim/ctl")).expect("connect"))
        .collect();
    let start = Instant::now();
    grid.stop_cleanly(Signal::SIGTERM, &pids);
    let took = start.elapsed();
    drop(idle);
    // At most the one client being served (5 s) and stopping the itcds.
    assert!(took < Duration::from_secs(12), "exit took {took:?}");
}

#[test]
fn ctl_against_a_grid_that_never_answers_says_so() {
    let base = scratch("hung");
    fs::create_dir_all(base.join(".sim")).expect("mkdir .sim");
    // Bound and listening, but nobody accepts: a hung tile-sim.
    let listener = UnixListener::bind(base.join(".sim/ctl")).expect("bind a socket");
    let out = ctl_at(&base, &["list"]);
    drop(listener);
    let _ = fs::remove_dir_all(&base);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "tile-sim: no answer from {}/.sim/ctl within ",
            base.display()
        )),
        "{out:?}"
    );
}

#[test]
fn sigterm_stops_every_itcd_and_unmounts() {
    let mut grid = Grid::start("term");
    let pids: Vec<u32> = grid.list().iter().filter_map(|t| t.pid).collect();
    assert_eq!(pids.len(), 4);
    assert_eq!(mounts_under(&grid.dir).len(), 4, "four trees mounted");
    grid.stop_cleanly(Signal::SIGTERM, &pids);
}

#[test]
fn killed_itcd_is_reported_and_can_be_started_again() {
    let mut grid = Grid::start("kill");
    let victim = grid.listed("r1c1").pid.expect("r1c1 pid");
    signal(victim, Signal::SIGKILL);
    let reported = wait_for(DEADLINE, || {
        grid.stderr_text()
            .contains("tile-sim: itcd of r1c1 exited: signal: 9")
    });
    assert!(reported, "no report on stderr:\n{}", grid.stderr_text());
    let r1c1 = grid.listed("r1c1");
    assert_eq!((r1c1.pid, r1c1.state.as_str()), (None, "exited"));
    grid.await_status("r1c0", "ET", "peer", "absent");

    // A new itcd takes over the mount point.
    let out = grid.ctl(&["start", "r1c1"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(grid.listed("r1c1").state, "running");
    grid.await_status("r1c0", "ET", "peer", "present");

    let pids: Vec<u32> = grid.list().iter().filter_map(|t| t.pid).collect();
    grid.stop_cleanly(Signal::SIGTERM, &pids);
    assert!(!itcd_of_grid_alive(victim, &grid.dir));
}

#[test]
fn killed_itcd_leaves_nothing_mounted_at_exit() {
    let mut grid = Grid::start("killexit");
    let pids: Vec<u32> = grid.list().iter().filter_map(|t| t.pid).collect();
    signal(pids[0], Signal::SIGKILL);
    let reported = wait_for(DEADLINE, || {
        grid.stderr_text().contains("tile-sim: itcd of r0c0 exited")
    });
    assert!(reported, "no report on stderr:\n{}", grid.stderr_text());
    grid.stop_cleanly(Signal::SIGTERM, &pids);
}

#[test]
fn second_grid_on_the_same_dir_is_refused() {
    let grid = Grid::start("twice");
    let out: Ctl = Command::new(TILE_SIM)
        .args(["run", "--rows", "1", "--cols", "1", "--dir"])
        .arg(&grid.dir)
        .stdin(Stdio::null())
        .output()
        .expect("run a second tile-sim")
        .into();
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("another tile-sim is running at"),
        "{out:?}"
    );
    // The first one is untouched: its links, sockets and control socket.
    assert_eq!(grid.list().len(), 4);
    let out = grid.ctl(&["cut", "r0c0", "SE"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    grid.await_status("r1c0", "NW", "link", "down");
}

#[test]
fn stale_control_socket_is_replaced() {
    let base = scratch("stale");
    let sim = base.join("grid/.sim");
    fs::create_dir_all(&sim).expect("mkdir .sim");
    drop(UnixListener::bind(sim.join("ctl")).expect("bind a socket"));
    let grid = Grid::spawn_in(base);
    grid.wait_ready();
    assert_eq!(grid.list().len(), 4);
}

#[test]
fn an_itcd_that_does_not_stop_is_killed() {
    let mut grid = Grid::start("deaf");
    // A stopped process leaves SIGTERM pending; only SIGKILL ends it.
    let deaf = grid.listed("r0c1").pid.expect("r0c1 pid");
    signal(deaf, Signal::SIGSTOP);
    let out = grid.ctl(&["stop", "r0c1"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        grid.stderr_text()
            .contains("the itcd of r0c1 did not stop within 5 s; killing it"),
        "stderr:\n{}",
        grid.stderr_text()
    );
    let r0c1 = grid.listed("r0c1");
    assert_eq!((r0c1.pid, r0c1.state.as_str()), (None, "stopped"));
    assert!(!itcd_of_grid_alive(deaf, &grid.dir));
    assert!(
        !mounts_under(&grid.dir).contains(&grid.dir.join("r0c1")),
        "r0c1 still mounted after stop"
    );

    // The same when the whole grid stops.
    let pids: Vec<u32> = grid.list().iter().filter_map(|t| t.pid).collect();
    signal(pids[0], Signal::SIGSTOP);
    grid.stop_cleanly(Signal::SIGTERM, &pids);
    let stderr = grid.stderr_text();
    assert!(!stderr.contains("exited"), "stderr:\n{stderr}");
    assert!(
        stderr.contains("the itcd of r0c0 stopped with signal: 9 (SIGKILL)\n")
            && stderr.contains("3 itcds stopped in 5."),
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(", 1 of them without exit status 0\n"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn a_client_that_trickles_its_request_is_cut_off() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Instant;

    let grid = Grid::start("trickle");
    let mut slow = UnixStream::connect(grid.dir.join(".sim/ctl")).expect("connect");
    let start = Instant::now();
    // One byte at a time, each before the server's per-read timeout would
    // end the wait, until an answer comes (or the test's deadline).
    let mut answer = Vec::new();
    while answer.is_empty() && start.elapsed() < DEADLINE {
        if slow.write_all(b"l").is_err() {
            break;
        }
        slow.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
        let _ = slow.read_to_end(&mut answer);
    }
    let took = start.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(
        answer, "error: no complete request line within 5 s\n",
        "after {took:?}"
    );
    assert!(took < Duration::from_secs(10), "held for {took:?}");
    // The server is free again.
    assert_eq!(grid.list().len(), 4);
}
